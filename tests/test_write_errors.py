"""Real write errors from the OS (RLIMIT_FSIZE gives EFBIG) on every file a build writes: one line, old index kept."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent

# Runs `qa index` with the fake embedder (no model) so the subprocess is fast; everything else is real.
RUNNER = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from conftest import FakeEmbedder
import qa.search.engine
fake = FakeEmbedder()
qa.search.engine.SentenceTransformerEmbedder = lambda *a, **k: fake
import contextlib, os, resource, signal
target = os.environ.get("QA_TEST_FAIL_FILE")
if target:
    # Real EFBIG from the OS on exactly one file: the soft size limit drops to 1 byte while it is written.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    import qa.backends.local.store
    real_writing = qa.backends.local.store.writing

    @contextlib.contextmanager
    def writing(path):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if path.name == target:
            resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))
        try:
            with real_writing(path):
                yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    qa.backends.local.store.writing = writing
from qa.interfaces.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_index(corpus: Path, index: Path, cache: Path, limit: int | None = None,
              fail_file: str = "") -> subprocess.CompletedProcess:
    def limit_file_size():  # in the child only: files larger than `limit` bytes cannot be written
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "QA_CACHE_DIR": str(cache), "QA_TEST_FAIL_FILE": fail_file}
    return subprocess.run([sys.executable, "-c", RUNNER, "index", str(corpus), "--index", str(index), "-q"],
                          capture_output=True, text=True, env=env, timeout=120,
                          preexec_fn=limit_file_size if limit is not None else None)


def make_corpus(folder: Path, articles: int, words: int = 400) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(articles):
        body = " ".join(f"word{(i * 7 + j) % 997} grain{j % 13}." if j % 9 == 0 else f"token{(i + j) % 211}"
                        for j in range(words))
        (folder / f"article-{i:03d}.md").write_text(f"---\ntitle: Article {i}\n---\n{body}\n", encoding="utf-8")
    return folder


def test_every_file_of_a_build_failing_gives_one_line_and_keeps_the_old_index(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", 40)
    index, cache = tmp_path / "index", tmp_path / "cache"
    new_article = "---\ntitle: New\n---\n" + "A new article about barley and rail. " * 400 + "\n"
    # Embed the new article once (into another index), so the rebuilds below write no embeddings and
    # fail on the index's own files.
    (corpus / "article-999.md").write_text(new_article, encoding="utf-8")
    assert run_index(corpus, tmp_path / "warm", cache).returncode == 0
    (corpus / "article-999.md").unlink()
    assert run_index(corpus, index, cache).returncode == 0
    before = {p.name: p.read_bytes() for p in index.iterdir()}
    (corpus / "article-999.md").write_text(new_article, encoding="utf-8")
    for name in ("documents.jsonl", "chunks.jsonl", "bm25.npz", "bm25_vocab.json", "dense.faiss", "manifest.json"):
        result = run_index(corpus, index, cache, fail_file=name)
        err = result.stderr.strip()
        assert result.returncode == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr and len(err.splitlines()) == 1, result.stderr
        assert err.startswith("qa: error: ") and err.endswith(name) and "too large" in err.lower(), err
        # The previous index is untouched, byte for byte, and nothing half-written is left beside it.
        assert {p.name: p.read_bytes() for p in index.iterdir()} == before
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".index.")]
    assert run_index(corpus, index, cache).returncode == 0  # and with room again, the build completes


def test_full_embedding_cache_is_one_line_not_a_traceback(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", 60)
    result = run_index(corpus, tmp_path / "index", tmp_path / "cache", limit=40_000)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "embedding cache" in result.stderr and ".sqlite" in result.stderr
