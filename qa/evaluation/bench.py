"""`qa bench`: query latency, build time, size and memory at 10k-1M passages, against baselines in the same run.

BM25 runs on synthetic text with a Zipf word distribution over a real vocabulary (the
shipped articles' words plus filler terms), through the real tokenizer. The dense side
uses clustered synthetic vectors (embedding a million passages would take most of a day
here), but questions are embedded by the real model, so query latency is end to end.
Each size runs in its own process so that its peak memory is its own.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_bench", "bench_size"]

_DIM = 384
_WORDS_PER_CHUNK = 60
_CHUNKS_PER_DOC = 10


def _vocabulary(size: int = 40_000) -> list[str]:
    words: list[str] = []
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    if corpus.is_dir():
        seen = set()
        for file in sorted(corpus.glob("*.md")):
            for w in re.findall(r"[A-Za-z]{3,}", file.read_text(encoding="utf-8")):
                if w.lower() not in seen:
                    seen.add(w.lower())
                    words.append(w.lower())
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    while len(words) < size:  # filler terms: pronounceable enough for the stemmer, unique
        words.append("".join(rng.choice(letters, rng.integers(4, 10))) + "x")
    return words


def _texts(n: int, seed: int) -> list[str]:
    vocab = np.array(_vocabulary())
    ranks = np.arange(1, len(vocab) + 1)
    cumulative = np.cumsum(1 / ranks**1.07)
    cumulative /= cumulative[-1]
    rng = np.random.default_rng(seed)
    texts = []
    for start in range(0, n, 50_000):  # in blocks, to bound the temporary arrays
        m = min(50_000, n - start)
        ids = np.searchsorted(cumulative, rng.random((m, _WORDS_PER_CHUNK)))
        texts.extend(" ".join(row) + "." for row in vocab[ids])
    return texts


def _vectors(n: int, seed: int, clusters: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, _DIM)).astype(np.float32)
    vectors = np.empty((n, _DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centers[rng.integers(0, clusters, m)] + 0.6 * rng.standard_normal((m, _DIM)).astype(np.float32)
        vectors[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    queries = centers[rng.integers(0, clusters, 200)] + 0.6 * rng.standard_normal((200, _DIM)).astype(np.float32)
    return vectors, queries / np.linalg.norm(queries, axis=1, keepdims=True)


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[max(0, int(0.95 * len(ordered)) - 1)] * 1000, 3)}


def bench_size(n_chunks: int, index_type: str = "auto", queries: int = 100, rank_bm25_queries: int = 5) -> dict[str, Any]:
    """Measure one corpus size (call in a fresh process for a clean peak-memory figure)."""
    from qa.backends.local.bm25 import BM25Index, Tokenizer
    from qa.config import IndexConfig
    from qa.backends.local.dense import DenseIndex, choose_index_type
    from qa.embed import SentenceTransformerEmbedder
    from qa.search.engine import Engine, save_index
    from qa.records import Chunk, Document
    from qa.backends.local.store import new_manifest

    config = IndexConfig()
    texts = _texts(n_chunks, seed=n_chunks)
    vectors, query_vectors = _vectors(n_chunks, seed=n_chunks + 1)
    documents, chunks = [], []
    for d in range(0, n_chunks, _CHUNKS_PER_DOC):
        parts = texts[d:d + _CHUNKS_PER_DOC]
        doc_id = f"doc{d // _CHUNKS_PER_DOC:07d}"
        offset = 0
        for i, part in enumerate(parts):
            chunks.append(Chunk(f"{doc_id}#{i}", doc_id, part, offset, offset + len(part), i))
            offset += len(part) + 2
        documents.append(Document(doc_id, f"Synthetic document {d // _CHUNKS_PER_DOC}", "\n\n".join(parts)))

    started = time.perf_counter()
    tokens = [Tokenizer(config.bm25)(t) for t in texts]
    bm25 = BM25Index.from_tokens(tokens, config.bm25)
    chosen = choose_index_type(index_type, n_chunks, config.dense.hnsw_threshold)
    dense = DenseIndex.build(vectors, chosen)
    embedder = SentenceTransformerEmbedder()
    manifest = new_manifest(model={"name": embedder.name, "weights_sha256": embedder.fingerprint, "dimension": _DIM},
                            config=config.to_dict(), corpus={"hash": "synthetic", "documents": len(documents),
                                                             "chunks": n_chunks}, dense={"index_type": chosen})
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        save_index(index_dir, manifest, documents, chunks, bm25, dense)
        build_s = time.perf_counter() - started
        index_bytes = sum(p.stat().st_size for p in index_dir.iterdir())
    engine = Engine(index_dir, manifest, documents, chunks, bm25, dense, embedder)

    rng = np.random.default_rng(1)
    questions = [" ".join(rng.choice(texts[int(rng.integers(n_chunks))].rstrip(".").split(), 4, replace=False))
                 for _ in range(queries)]
    engine.search(questions[0], k=10)  # load the model
    result: dict[str, Any] = {"chunks": n_chunks, "index_type": chosen, "build_s": round(build_s, 2),
                              "index_bytes": index_bytes, "modes": {}}
    for mode in ("hybrid", "dense", "bm25"):
        times = []
        for q in questions:
            t = time.perf_counter()
            engine.search(q, k=10, mode=mode)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
        result["modes"][mode] = _percentiles(times)
    embed_times = []
    for q in questions:
        t = time.perf_counter()
        embedder.encode_queries([q])
        embed_times.append(time.perf_counter() - t)
    result["query_embed_p50_ms"] = _percentiles(embed_times)["p50_ms"]

    # Stage baselines, measured here on the same data.
    stage = []
    for q in questions:
        t = time.perf_counter()
        bm25.search(q, 100)
        stage.append(time.perf_counter() - t)
    from rank_bm25 import BM25Okapi

    reference = BM25Okapi(tokens, k1=config.bm25.k1, b=config.bm25.b, epsilon=config.bm25.epsilon)
    tokenizer = Tokenizer(config.bm25)
    reference_times = []
    for q in questions[:rank_bm25_queries]:
        query_tokens = tokenizer(q)
        t = time.perf_counter()
        reference.get_scores(query_tokens)
        reference_times.append(time.perf_counter() - t)
    del reference
    result["bm25_stage_p50_ms"] = _percentiles(stage)["p50_ms"]
    result["rank_bm25_get_scores_p50_ms"] = _percentiles(reference_times)["p50_ms"]
    result["bm25_speedup_vs_rank_bm25"] = round(statistics.median(reference_times) / statistics.median(stage), 1)

    dense_times, found = [], 0
    exact = DenseIndex.build(vectors, "flat") if chosen != "flat" else dense
    flat_times = []
    for qv in query_vectors:
        t = time.perf_counter()
        approx = {i for i, _ in dense.search(qv, 10)}
        dense_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        truth = {i for i, _ in exact.search(qv, 10)}
        flat_times.append(time.perf_counter() - t)
        found += len(approx & truth)
    result["dense_stage_p50_ms"] = _percentiles(dense_times)["p50_ms"]
    result["flat_search_p50_ms"] = _percentiles(flat_times)["p50_ms"]
    result["dense_recall_at_10_vs_flat"] = round(found / (10 * len(query_vectors)), 4)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _child(n_chunks: int, index_type: str, queue) -> None:
    try:
        queue.put(bench_size(n_chunks, index_type))
    except BaseException as exc:  # report, never hang the parent
        queue.put({"chunks": n_chunks, "error": f"{type(exc).__name__}: {exc}"})


def run_bench(sizes: list[int], index_type: str = "auto") -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    results = []
    for n in sizes:
        queue = context.Queue()
        process = context.Process(target=_child, args=(n, index_type, queue))
        process.start()
        results.append(queue.get())
        process.join()
    return results


def table(results: list[dict[str, Any]]) -> str:
    header = ("| chunks | index | build s | size MB | peak RSS MB | hybrid p50/p95 ms | dense p50/p95 ms | "
              "bm25 p50/p95 ms | query embed p50 ms | BM25 vs rank-bm25 | dense recall@10 vs exact |")
    lines = [header, "|" + "---|" * 11]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['chunks']:,} | failed: {r['error']} |" + " |" * 9)
            continue
        m = r["modes"]
        lines.append(
            f"| {r['chunks']:,} | {r['index_type']} | {r['build_s']:.1f} | {r['index_bytes'] / 1e6:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {m['hybrid']['p50_ms']:.1f} / {m['hybrid']['p95_ms']:.1f} | "
            f"{m['dense']['p50_ms']:.1f} / {m['dense']['p95_ms']:.1f} | {m['bm25']['p50_ms']:.2f} / {m['bm25']['p95_ms']:.2f} | "
            f"{r['query_embed_p50_ms']:.1f} | {r['bm25_speedup_vs_rank_bm25']}× ({r['bm25_stage_p50_ms']:.2f} vs "
            f"{r['rank_bm25_get_scores_p50_ms']:.0f} ms) | {r['dense_recall_at_10_vs_flat']:.3f} "
            f"({r['dense_stage_p50_ms']:.2f} vs {r['flat_search_p50_ms']:.1f} ms) |")
    return "\n".join(lines)


def to_json(results: list[dict[str, Any]]) -> str:
    return json.dumps(results[0] if len(results) == 1 else {"runs": results, **results[-1]})
