"""Faults and hostile input: kill -9 mid-build, full disks, random text, and what a server exposes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.interfaces.cli import main

from conftest import REPO, FakeEmbedder, run_cli

TESTS = Path(__file__).resolve().parent

BUILDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import qa, qa.backends.local.bm25
    from conftest import FakeEmbedder

    corpus, index, cache, pause_at = sys.argv[1:5]

    class SlowEmbedder(FakeEmbedder):
        def encode_documents(self, texts):
            print("embedding", flush=True)
            time.sleep(0.4)
            return super().encode_documents(texts)

    if pause_at == "write":
        save = qa.backends.local.bm25.BM25Index.save
        def paused_save(self, directory):
            save(self, directory)
            print("writing", flush=True)
            time.sleep(60)
        qa.backends.local.bm25.BM25Index.save = paused_save
    qa.build(corpus, index, embedder=SlowEmbedder(), cache_dir=cache)
    print("done", flush=True)
""")


def run_until(marker: str, args: list[str], script: Path, count: int = 1) -> subprocess.Popen:
    """Start the builder and return once it printed ``marker`` ``count`` times."""
    process = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in process.stdout:
        if line.strip() == marker:
            seen += 1
            if seen >= count:
                return process
    raise AssertionError(f"builder ended before printing {marker!r} {count} times")


@pytest.fixture
def builder(tmp_path) -> Path:
    script = tmp_path / "builder.py"
    script.write_text(BUILDER.format(tests=str(TESTS)))
    return script


def test_kill_9_while_writing_leaves_the_previous_index_answering_as_before(small_corpus, tmp_path, builder):
    index, cache = tmp_path / "index", tmp_path / "cache"
    before = qa.build(small_corpus, index, embedder=FakeEmbedder(), cache_dir=cache)
    answers = {mode: before.search("oil grain launch", k=5, mode=mode) for mode in ("hybrid", "dense", "bm25")}
    (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe horses run free.\n")

    process = run_until("writing", [str(small_corpus), str(index), str(cache), "write"], builder)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert list(tmp_path.glob(".index.building-*")), "the kill should have caught a half-written index"

    after = qa.open(index, embedder=FakeEmbedder())
    assert {mode: after.search("oil grain launch", k=5, mode=mode) for mode in answers} == answers
    assert after.manifest == before.manifest and "delta" not in {d.doc_id for d in after.documents}

    rebuilt = qa.build(small_corpus, index, embedder=FakeEmbedder(), cache_dir=cache)
    assert "delta" in {d.doc_id for d in rebuilt.documents}
    assert not list(tmp_path.glob(".index.building-*"))  # the stale staging directory was cleared


def test_kill_9_while_embedding_then_rerun_resumes_from_the_cache(tmp_path, builder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(700):  # 700 passages: three batches of 256
        (corpus / f"note{i:03d}.md").write_text(f"Note number {i} is about topic {i * 7 % 101} and word{i}.\n")
    index, cache = tmp_path / "index", tmp_path / "cache"
    process = run_until("embedding", [str(corpus), str(index), str(cache), "none"], builder, count=2)
    process.send_signal(signal.SIGKILL)  # the first batch of 256 is committed; the second is under way
    process.wait(timeout=30)
    assert not index.exists()

    resumed = FakeEmbedder()
    engine = qa.build(corpus, index, embedder=resumed, cache_dir=cache)
    assert len(engine.chunks) == 700
    assert resumed.documents_encoded <= 700 - 256


def test_restores_an_index_moved_aside_by_a_crash_between_the_renames(fake_engine, fake_embedder):
    index = fake_engine.index_dir
    index.rename(index.parent / f".{index.name}.previous")
    assert qa.open(index, embedder=fake_embedder).search("oil", k=2) == fake_engine.search("oil", k=2)


@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")])
def test_full_disk_or_permission_error_is_one_line_and_keeps_the_old_index(small_corpus, tmp_path, monkeypatch,
                                                                          capsys, code, text):
    import qa.search.engine

    index, fake = tmp_path / "index", FakeEmbedder()
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(qa.search.engine, "SentenceTransformerEmbedder", lambda *a, **k: fake)
    assert main(["index", str(small_corpus), "--index", str(index), "-q"]) == 0
    before = qa.open(index, embedder=fake).search("oil", k=3)
    (small_corpus / "delta.md").write_text("More oil news.\n")

    def failing_write(path, records):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(qa.search.engine, "write_jsonl", failing_write)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["index", str(small_corpus), "--index", str(index), "-q"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.startswith("qa: error: ") and text in err and err.count("\n") == 1
    assert qa.open(index, embedder=fake).search("oil", k=3) == before
    assert not list(tmp_path.glob(".index.building-*"))


@pytest.mark.parametrize("stdin, message", [
    (b"oil " * 262_144, "limit is 10,000"),         # a 1 MB question
    (b"\x00\x01\x02\x1b\x7f\x9b", "question is empty"),  # control characters only
    (b"   \n\t ", "question is empty"),
])
def test_cli_questions_from_stdin_fail_in_one_line(fake_engine, capsys, monkeypatch, stdin, message):
    code, _, err = run_cli(["search", "-", "--index", str(fake_engine.index_dir)], capsys, stdin, monkeypatch)
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_invalid_utf8_question_is_searched_not_crashed(fake_engine, capsys, monkeypatch):
    code, out, err = run_cli(["search", "-", "--mode", "bm25", "--index", str(fake_engine.index_dir), "--json"],
                             capsys, b"Caspian \xff\xfe pipeline", monkeypatch)
    assert code == 0, err
    hits = json.loads(out)
    assert hits and hits[0]["doc_id"] == "beta"  # the bytes were dropped and "Caspian pipeline" searched


@pytest.mark.parametrize("k, ok", [("1000000000", True), ("-1", False), ("0", False), ("abc", False), ("2.5", False)])
def test_cli_k_values(fake_engine, capsys, k, ok):
    code, out, err = run_cli(["search", "oil", "-k", k, "--mode", "bm25", "--index", str(fake_engine.index_dir), "--json"], capsys)
    if ok:  # clamped to the passages that match "oil", never an error, never empty
        hits = json.loads(out)
        assert code == 0 and 0 < len(hits) <= len(fake_engine.chunks)
        assert len(hits) == len(fake_engine.search("oil", k=len(fake_engine.chunks), mode="bm25"))
    else:
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err


def test_empty_or_half_written_index_directory_is_reported(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["search", "oil", "--index", str(tmp_path / "empty")], capsys)
    assert code == 1 and "no manifest.json" in err and err.count("\n") == 1


def test_edited_manifest_is_caught(fake_engine, fake_embedder):
    path = fake_engine.index_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["config"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(qa.IndexCorruptError, match="config"):
        qa.open(fake_engine.index_dir, embedder=fake_embedder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=300), k=st.integers(min_value=-5, max_value=10**9),
       mode=st.sampled_from(["hybrid", "dense", "bm25", "other"]))
def test_random_text_never_crashes_search_or_ask(fake_engine, question, k, mode):
    for call in (fake_engine.search, fake_engine.ask):
        try:
            result = call(question, k=k, mode=mode)
        except qa.QAError:
            continue  # a typed, explained refusal is the right answer to nonsense
        hits = result if isinstance(result, list) else list(result.hits)
        assert len(hits) <= len(fake_engine.chunks)
        for hit in hits:
            assert fake_engine.document(hit.doc_id).text[hit.char_start:hit.char_end] == hit.text


def test_no_index_file_is_loaded_with_pickle(fake_engine, fake_embedder, monkeypatch):
    import pickle

    import numpy as np

    def refuse(*args, **kwargs):
        raise AssertionError("an index file was unpickled")

    real_load = np.load

    def load_without_pickle(*args, **kwargs):
        assert not kwargs.get("allow_pickle", False), "np.load with allow_pickle"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(np, "load", load_without_pickle)
    engine = qa.open(fake_engine.index_dir, embedder=fake_embedder)
    assert engine.search("oil", mode="bm25") and engine.search("oil", mode="dense")


@pytest.mark.slow
def test_server_binds_to_loopback_unless_told_otherwise(web_index, model_cache, tmp_path):
    """`qa serve` (port from the environment) listens on 127.0.0.1 only, as the kernel reports it."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "QA_CACHE_DIR": str(model_cache)}
    server = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(web_index)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        listening = []
        deadline = time.time() + 120
        while time.time() < deadline and not listening and server.poll() is None:
            time.sleep(0.5)
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                for line in open(table).read().splitlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        listening.append(local.rsplit(":", 1)[0])
        assert listening, f"qa serve never listened on port {port}"
        assert set(listening) == {"0100007F"}, listening  # 127.0.0.1, and no IPv6 or 0.0.0.0 socket
    finally:
        server.terminate()
        server.wait(timeout=30)