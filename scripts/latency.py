"""Query latency per mode over an index: p50/p95 over repeated example questions (a quick measurement, not `qa bench`)."""

import statistics
import sys
import time

import qa

QUESTIONS = ["what did Kazakhstan want from the US?", "Why did Kazakhstan keep its peacekeepers in Iraq?",
             "How does Kazakhstan balance Russia, China and the United States?",
             "How much have American companies invested in Kazakhstan?", "What is the Shanghai Cooperation Organization?"]

engine = qa.open(sys.argv[1] if len(sys.argv) > 1 else "index")
engine.search(QUESTIONS[0], k=5)  # load the model once
for mode in ("hybrid", "dense", "bm25"):
    times = []
    for _ in range(20):
        for question in QUESTIONS:
            started = time.perf_counter()
            engine.search(question, k=5, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{mode:7s} p50 {statistics.median(times):6.2f} ms   p95 {times[int(0.95 * len(times)) - 1]:6.2f} ms   (n={len(times)})")
