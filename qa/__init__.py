"""qa: offline semantic search and question answering over a collection of articles."""

from __future__ import annotations

__version__ = "0.1.0"

from qa.config import BM25Config, ChunkConfig, DenseConfig, FusionConfig, IndexConfig  # noqa: E402
from qa.search.engine import Engine, build  # noqa: E402
from qa.search.engine import open_index as open  # noqa: E402  - qa.open("index") mirrors qa.build
from qa.errors import (  # noqa: E402
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidArgumentError,
    InvalidQueryError,
    ModelError,
    QAError,
)
from qa.records import Chunk, Document, Hit  # noqa: E402

__all__ = [
    "__version__", "build", "open", "Engine", "Document", "Chunk", "Hit",
    "IndexConfig", "ChunkConfig", "BM25Config", "DenseConfig", "FusionConfig",
    "QAError", "InvalidQueryError", "InvalidArgumentError", "CorpusError", "IndexNotFoundError",
    "IndexCorruptError", "IndexMismatchError", "ModelError",
]
