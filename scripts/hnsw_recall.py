"""Recall@10 of the HNSW index against exact search on real embeddings (SciFact passages and test queries).

Run after `qa eval --beir ../shared/bench/scifact` has built the SciFact index:
    .venv/bin/python scripts/hnsw_recall.py ../shared/bench/scifact
"""

import sys
import time

import numpy as np

import qa
from qa.backends.local.dense import DenseIndex
from qa.embed import default_cache_dir
from qa.evaluation.evaluate import load_beir

folder = sys.argv[1] if len(sys.argv) > 1 else "../shared/bench/scifact"
engine = qa.open(default_cache_dir() / "beir" / "scifact")
flat = engine.dense.index
vectors = flat.reconstruct_n(0, flat.ntotal)
_, queries, _ = load_beir(folder)
query_vectors = engine.embedder.encode_queries(list(queries.values()))
exact = DenseIndex.build(vectors, "flat")
started = time.perf_counter()
hnsw = DenseIndex.build(vectors, "hnsw")
build_s = time.perf_counter() - started
found = 0
for qv in query_vectors:
    found += len({i for i, _ in hnsw.search(qv, 10)} & {i for i, _ in exact.search(qv, 10)})
print(f"{len(vectors):,} real passage vectors, {len(query_vectors)} real queries: HNSW recall@10 vs exact "
      f"{found / (10 * len(query_vectors)):.4f} (HNSW build {build_s:.1f} s)")
