"""Local directory against Milvus, side by side in one run: ingest rate and query latency.

    QA_CACHE_DIR=... python scripts/backend_bench.py ../shared/bench/scifact milvus://127.0.0.1:19530 [--queries 300]

Both indexes are built from the same BEIR corpus with the same embedding cache, so ingest times
compare storage and indexing (BM25, HNSW, writes), not the model; pass an empty QA_CACHE_DIR to
include embedding. Latency: the BEIR test queries, hybrid, k=10, each engine warmed first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import qa
from qa.evaluation.evaluate import load_beir


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir_dir", type=Path)
    parser.add_argument("milvus", help="milvus://HOST:PORT (a fresh collection is made and dropped)")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    corpus, queries, _ = load_beir(args.beir_dir)
    questions = list(queries.values())[: args.queries]
    uri = f"{args.milvus.rstrip('/')}/bench{uuid.uuid4().hex[:8]}"
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, target in (("local", Path(folder) / "index"), ("milvus", uri)):
            started = time.perf_counter()
            engine = qa.build(corpus, target)
            seconds = time.perf_counter() - started
            engine = qa.open(target)
            for question in questions[:10]:
                engine.search(question, k=10)  # warm: model, caches, Milvus segments
            latencies = []
            for question in questions:
                t0 = time.perf_counter()
                engine.search(question, k=10)
                latencies.append((time.perf_counter() - t0) * 1000)
            results[name] = {"passages": len(engine.chunks), "build_s": round(seconds, 1),
                             "passages_per_s": round(len(engine.chunks) / seconds, 1),
                             "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1)}
            print(name, results[name], flush=True)
    from qa.backends.milvus import MilvusStore

    store = MilvusStore(uri)
    collection = store.collection()
    store.client.drop_alias(store.target.name)
    for name in (collection, f"{collection}__docs"):
        store.client.drop_collection(name)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
