"""`qa bench --embed`: the same real passages embedded by each encoder in one run, each in its own process."""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["bench_encoders", "embed_table", "embed_json", "ENCODER_ORDER"]

ENCODER_ORDER = ("sentence-transformers", "onnx", "onnx-int8")


def _passages(corpus: Path, limit: int) -> list[str]:
    from qa.ingest.chunk import chunk_document
    from qa.config import ChunkConfig
    from qa.search.engine import passage_text
    from qa.ingest.load import load_corpus

    texts: list[str] = []
    for doc in load_corpus(corpus):
        for chunk in chunk_document(doc, ChunkConfig()):
            texts.append(passage_text(doc, chunk))
            if len(texts) >= limit:
                return texts
    return texts


def _child(encoder: str, texts: list[str], queue) -> None:
    from qa.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.use_encoder(encoder)  # exports happen here, outside the timing
    embedder.encode_documents(texts[:32])  # warm up: load the model, first-call allocations
    started = time.perf_counter()
    vectors = embedder.encode_documents(texts)
    seconds = time.perf_counter() - started
    queue.put({"encoder": embedder.encoder, "seconds": seconds, "vectors": vectors,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def bench_encoders(corpus: Path, limit: int) -> dict[str, Any]:
    """Passages per second, cosine to sentence-transformers (min, mean) and peak RSS, per encoder."""
    texts = _passages(Path(corpus), limit)
    context = multiprocessing.get_context("spawn")  # each encoder alone in a fresh process: its own RSS
    runs: dict[str, dict[str, Any]] = {}
    reference = None
    for encoder in ENCODER_ORDER:
        queue = context.Queue()
        process = context.Process(target=_child, args=(encoder, texts, queue))
        process.start()
        result = queue.get()
        process.join()
        row: dict[str, Any] = {"passages_per_s": round(len(texts) / result["seconds"], 1),
                               "seconds": round(result["seconds"], 2), "peak_rss_mb": round(result["peak_rss_mb"])}
        if result["encoder"] != encoder:
            row["fell_back_to"] = result["encoder"]
        if reference is None:
            reference = result["vectors"]
        else:
            cosine = np.sum(result["vectors"] * reference, axis=1)
            row.update(cosine_min=round(float(cosine.min()), 5), cosine_mean=round(float(cosine.mean()), 5),
                       speedup=round(runs["sentence-transformers"]["seconds"] / result["seconds"], 2))
        runs[encoder] = row
    from qa.config import DenseConfig

    return {"passages": len(texts), "encoders": runs, "default": DenseConfig().encoder}


def embed_table(result: dict[str, Any]) -> str:
    lines = [f"{result['passages']} passages", "",
             "| encoder | passages/s | vs sentence-transformers | cosine min | cosine mean | peak RSS MB | 100k passages | 1M passages |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in result["encoders"].items():
        rate = row["passages_per_s"]
        lines.append(f"| {name} | {rate} | {row.get('speedup', 1.0)}× | {row.get('cosine_min', 1.0)} | "
                     f"{row.get('cosine_mean', 1.0)} | {row['peak_rss_mb']} | {100_000 / rate / 60:.0f} min | "
                     f"{1_000_000 / rate / 3600:.1f} h |")
    lines.append(f"\ndefault: {result['default']}")
    return "\n".join(lines)


def embed_json(result: dict[str, Any]) -> str:
    return json.dumps(result)
