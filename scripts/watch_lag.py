"""Refresh lag of `qa watch`: seconds from writing a new article into the folder to finding it by search.

    python scripts/watch_lag.py   (copies corpus/ to a temporary folder; the real model)
"""
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import qa
from qa.search.live import LiveIndex


root = Path(tempfile.mkdtemp())
corpus = root / "corpus"
shutil.copytree(Path(__file__).resolve().parent.parent / "corpus", corpus)
index = root / "index"
qa.build(corpus, index)
proc = subprocess.Popen([sys.executable, "-m", "qa", "watch", str(corpus), "--index", str(index)], stdout=subprocess.PIPE, text=True)
while "watching" not in proc.stdout.readline():
    pass
live = LiveIndex(index, check_every=0)
lags = []
for n in range(5):
    word = f"zorblax{n}"
    started = time.perf_counter()
    (corpus / f"new{n}.md").write_text(f"---\ntitle: New {n}\n---\nThe {word} treaty was signed by both governments in the capital.\n")
    while not any(h.doc_id == f"new{n}" for h in live.engine.search(word, k=1, mode="bm25")):
        time.sleep(0.05)
    lags.append(time.perf_counter() - started)
    print(f"add {n}: searchable after {lags[-1]:.2f} s; watch said: {proc.stdout.readline().strip()}", flush=True)
proc.terminate()
lags.sort()
print(f"median {lags[len(lags)//2]:.2f} s, max {lags[-1]:.2f} s over {len(lags)} adds (debounce 1.0 s)")
