"""The Milvus backend against a real Milvus Lite server on a free loopback port (`qa milvus-local`).

Set QA_MILVUS_URI (e.g. milvus://10.0.0.5:19530) to run the same checks against a real Milvus as well.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ARTICLES, CORPUS, FakeEmbedder, run_cli

pytest.importorskip("pymilvus")

WEITZ_CITATION = "Richard Weitz, “Toward A New Kazakhstan-U.S. Partnership”, CACI Analyst, 20 March 2013"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port``, read from /proc/net/tcp (IPv4) and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.append(address)
    return found


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    """`qa milvus-local` on a free port: yields the base URI, milvus://127.0.0.1:PORT."""
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus-data")
    server = subprocess.Popen([sys.executable, "-m", "qa", "milvus-local", "--port", str(port), "--data", str(data)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _listening(port):
        assert server.poll() is None, server.stderr.read().decode()
        assert time.monotonic() < deadline, "Milvus Lite did not start"
        time.sleep(0.2)
    yield f"milvus://127.0.0.1:{port}", port
    os.killpg(server.pid, 15)
    server.wait(timeout=30)


def _uri(base: str) -> str:
    return f"{base}/t{uuid.uuid4().hex[:10]}"


def _targets(milvus) -> list[str]:
    targets = [milvus[0]]
    if os.environ.get("QA_MILVUS_URI"):  # opt-in: a real Milvus as well
        targets.append(os.environ["QA_MILVUS_URI"].rstrip("/"))
    return targets


def test_milvus_local_binds_loopback_only(milvus):
    _, port = milvus
    addresses = _listening(port)
    # 127.0.0.1 in /proc's byte order, as IPv4 or IPv4-mapped IPv6, or ::1; 0.0.0.0 would be 00000000.
    loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
    assert addresses and set(addresses) <= loopback, addresses


@pytest.mark.parametrize("which", [0, 1])
def test_build_search_filters_and_incremental_in_milvus(milvus, which, small_corpus, tmp_path, cache_dir):
    import qa
    from qa.backends.milvus import MilvusStore

    targets = _targets(milvus)
    if which >= len(targets):
        pytest.skip("QA_MILVUS_URI not set: no real Milvus to check against")
    uri = _uri(targets[which])
    fake = FakeEmbedder()
    local = qa.build(small_corpus, tmp_path / "local", embedder=fake, cache_dir=cache_dir)
    remote = qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir)
    assert {d.doc_id for d in remote.documents} == {d.doc_id for d in local.documents}
    assert [(c.chunk_id, c.char_start, c.char_end) for c in remote.chunks] == \
           [(c.chunk_id, c.char_start, c.char_end) for c in local.chunks]

    # Dense candidates equal the local exact search; hits carry the same fields and citations.
    for question in ("grain exports to ports", "oil pipeline investors", "rockets to the space station"):
        assert [h.chunk_id for h in remote.search(question, k=3, mode="dense")] == \
               [h.chunk_id for h in local.search(question, k=3, mode="dense")]
    hit = remote.search("Caspian pipeline oil", k=1)[0]
    same = next(h for h in local.search("Caspian pipeline oil", k=3) if h.chunk_id == hit.chunk_id)
    assert (hit.citation, hit.text, hit.char_start) == (same.citation, same.text, same.char_start)
    assert hit.bm25_rank is not None and hit.dense_rank is not None

    # Filters act inside the search: k hits that all pass, where there are enough.
    hits = remote.search("grain oil rockets", k=2, filters={"publication": "Farm Weekly"})
    assert hits and all(h.doc_id == "alpha" for h in hits)
    assert all(h.doc_id != "gamma" for h in remote.search("launch site rockets", k=3, filters={"since": "2020"}))
    assert remote.search('"largest oil field"', k=3)[0].doc_id == "beta"  # a quoted phrase, passage by passage

    # Adding and removing an article updates the collection in place; only the new passages are embedded.
    store = MilvusStore(uri)
    collection = store.collection()
    (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe horse herds grew fast.\n")
    (small_corpus / "gamma.md").unlink()
    refreshed = qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir)
    assert store.collection() == collection
    assert refreshed.manifest["build"]["passages_embedded"] == 1
    assert {d.doc_id for d in refreshed.documents} == {"alpha", "beta", "delta"}
    assert refreshed.search("steppe horse herds", k=1)[0].doc_id == "delta"
    assert all(h.doc_id != "gamma" for h in refreshed.search("launch site rockets", k=5))

    # Other settings: a new collection filled aside, the alias moved, the old one dropped.
    rebuilt = qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir,
                       config=qa.IndexConfig(chunk=qa.ChunkConfig(max_words=20)))
    assert store.collection() != collection and collection not in store.client.list_collections()
    assert rebuilt.config.chunk.max_words == 20 and qa.open(uri, embedder=fake).config.chunk.max_words == 20


def test_a_failed_rebuild_leaves_the_old_collection_serving(milvus, small_corpus, tmp_path, cache_dir, monkeypatch):
    import qa
    from qa.backends.milvus import MilvusStore

    uri, fake = _uri(milvus[0]), FakeEmbedder()
    qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir)
    before = MilvusStore(uri).collection()

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(MilvusStore, "_insert_passages", broken)
    with pytest.raises(qa.QAError, match="disk full"):
        qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir,
                 config=qa.IndexConfig(chunk=qa.ChunkConfig(max_words=20)))
    monkeypatch.undo()
    store = MilvusStore(uri)
    assert store.collection() == before
    assert not [c for c in store.client.list_collections() if c.startswith(store.target.name) and before not in c]
    assert qa.open(uri, embedder=fake).search("grain", k=1)


def test_errors_are_one_line_with_a_fix(milvus, small_corpus, tmp_path, cache_dir, capsys, cli_fake):
    import qa

    uri = _uri(milvus[0])
    code, _, err = run_cli(["search", "grain", "--index", uri], capsys)
    assert code == 1 and err.strip() == f"qa: error: no index at {uri}; build one with `qa index CORPUS --index {uri}`"

    dead = f"milvus://127.0.0.1:{_free_port()}/seeds"
    code, _, err = run_cli(["search", "grain", "--index", dead], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cannot reach Milvus at http://127.0.0.1:" in err and "qa milvus-local" in err

    qa.build(small_corpus, uri, embedder=FakeEmbedder(), cache_dir=cache_dir)
    with pytest.raises(qa.IndexMismatchError, match="built with model 'fake-embedder', not 'other-model'"):
        qa.open(uri, model="other-model")

    code, _, err = run_cli(["search", "grain", "--index", "milvus://:19530/"], capsys)
    assert code == 1 and "write milvus://HOST:PORT/COLLECTION" in err


def test_stopping_the_server_gives_one_line(tmp_path, small_corpus, cache_dir):
    import qa

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "qa", "milvus-local", "--port", str(port), "--data",
                               str(tmp_path / "data")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        uri = f"milvus://127.0.0.1:{port}/gone"
        engine = qa.build(small_corpus, uri, embedder=FakeEmbedder(), cache_dir=cache_dir)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    with pytest.raises(qa.QAError) as failure:
        engine.search("grain", k=1, mode="bm25")
    assert "Milvus at http://127.0.0.1:" in str(failure.value) and "\n" not in str(failure.value)


@pytest.mark.slow
def test_the_seed_corpus_in_milvus_answers_as_locally(milvus, real_engine, model_cache, tmp_path):
    """`qa index corpus --index milvus://…` then `qa search` and `qa ask`, through the CLI, with the real model."""
    uri = _uri(milvus[0])
    env = {**os.environ, "QA_CACHE_DIR": str(model_cache)}
    built = subprocess.run([sys.executable, "-m", "qa", "index", str(CORPUS), "--index", uri, "-q"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stderr
    found = subprocess.run([sys.executable, "-m", "qa", "search", "what did Kazakhstan want from the US?", "--index",
                            uri, "--json", "-k", "3"], capture_output=True, text=True, env=env, timeout=300)
    assert found.returncode == 0, found.stderr
    import json

    hits = json.loads(found.stdout)
    weitz = [h for h in hits if "does not compensate Kazakhstan suitably" in h["text"]]
    assert weitz and weitz[0]["citation"].startswith(WEITZ_CITATION)
    local = {h.chunk_id: h.citation for h in real_engine.search("what did Kazakhstan want from the US?", k=10)}
    assert local[weitz[0]["chunk_id"]] == weitz[0]["citation"]  # cited as locally
    asked = subprocess.run([sys.executable, "-m", "qa", "ask", "what did Kazakhstan want from the US?", "--index", uri],
                           capture_output=True, text=True, env=env, timeout=300)
    assert "does not compensate Kazakhstan suitably" in asked.stdout and WEITZ_CITATION in asked.stdout


@pytest.mark.slow
def test_the_page_serves_a_milvus_index(milvus, small_corpus, cache_dir, monkeypatch):
    from gradio_client import Client

    import qa
    from qa.interfaces.web import CSS, create_app

    uri = _uri(milvus[0])
    fake = FakeEmbedder()
    engine = qa.build(small_corpus, uri, embedder=fake, cache_dir=cache_dir)
    monkeypatch.setattr("qa.search.engine.SentenceTransformerEmbedder", lambda *a, **k: fake)
    demo = create_app(uri)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS)
    try:
        hits = Client(f"http://127.0.0.1:{port}/", verbose=False).predict("Caspian pipeline oil", 2, "hybrid",
                                                                          api_name="/search")
        assert hits and hits[0]["doc_id"] == "beta" and hits[0]["citation"] == engine.search("Caspian pipeline oil",
                                                                                              k=1)[0].citation
    finally:
        demo.close()
