"""Where an index lives and how candidates come out of it: a local directory, or a Milvus collection.

The engine (``qa/search/engine.py``) keeps fusion, filters, hits, citations and answers. A backend
gives it two retrievers with the interface below, over the engine's passages in their order:
``local`` (FAISS and the sparse BM25 matrix, in memory) and ``milvus`` (searches sent to Milvus, the
engine's filter mask sent along as a filter expression). Storage is the backend's too:
``local.store`` writes and reads index directories, ``milvus.MilvusStore`` collections.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["SparseRetriever", "DenseRetriever"]


class SparseRetriever(Protocol):
    """BM25 candidates, and the term statistics the answer's evidence checks use."""

    size: int  # passages
    vocabulary: dict[str, int]
    positive_idf: np.ndarray

    def tokenizer(self, text: str) -> list[str]: ...

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The top ``k`` (passage number, score) pairs, best first; ``allowed`` is a boolean mask over
        passages applied before the top-k cut."""
        ...


class DenseRetriever(Protocol):
    """Nearest passages to a question vector (inner product of normalised vectors)."""

    size: int
    index_type: str

    def search(self, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The top ``k`` (passage number, cosine) pairs, best first; ``allowed`` holds the passage numbers
        that may be returned (applied before the top-k cut)."""
        ...
