"""Where analysts work: MCP tools over stdio, a watched folder, and citations exported in six formats."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ARTICLES, run_cli

WEITZ_SENTENCE = "does not compensate Kazakhstan suitably for its critical role"


# --- exports, each read back by its own parser -----------------------------------------------------------

AWKWARD = ("---\ntitle: Braces {and} “quotes” & <tags>\nauthors: [Zoë Ångström, Bo Li]\npublication: Review\n"
           "date: 2021-07\nvolume: 4\nissue: 2\nurl: https://example.org/a?b=1&c=2\n---\n"
           "Wheat {exports} grew 5\u00a0% in 2020 — “a record”, said the ministry.\n\n"
           "A second paragraph about wheat & barley <b>prices</b>.\n")


@pytest.fixture
def export_engine(small_corpus, tmp_path, fake_embedder, cache_dir):
    import qa

    (small_corpus / "awkward.md").write_text(AWKWARD, encoding="utf-8")
    return qa.build(small_corpus, tmp_path / "index", embedder=fake_embedder, cache_dir=cache_dir)


def _quoted_spans(engine, hits):
    return {(h.doc_id, engine.document(h.doc_id).text[h.char_start:h.char_end]) for h in hits}


def test_bibtex_reads_back_one_entry_per_document_with_the_quotes(export_engine):
    import bibtexparser

    from qa.interfaces.export import export

    hits = export_engine.search("wheat exports record", k=5, mode="bm25")
    assert len({h.doc_id for h in hits}) >= 2
    library = bibtexparser.parse_string(export(hits, "bibtex", export_engine.document))
    assert not library.failed_blocks
    assert len(library.entries) == len({h.doc_id for h in hits})  # one entry per cited article
    awkward = next(e for e in library.entries if "Braces" in e.fields_dict["title"].value)
    assert awkward.fields_dict["author"].value == "Zoë Ångström and Bo Li"
    assert awkward.fields_dict["journal"].value == "Review"
    assert (awkward.fields_dict["year"].value, awkward.fields_dict["month"].value) == ("2021", "7")
    assert awkward.fields_dict["volume"].value == "4" and awkward.fields_dict["number"].value == "2"
    assert awkward.fields_dict["url"].value == "https://example.org/a?b=1&c=2"
    note = awkward.fields_dict["note"].value
    assert "5\u00a0% in 2020 — “a record”" in note and "¶ 1" in note
    assert "\\{exports\\}" in note  # braces escaped, so the entry still parses


def test_ris_reads_back_with_rispy(export_engine):
    import rispy

    from qa.interfaces.export import export

    hits = export_engine.search("wheat exports record", k=5, mode="bm25")
    text = export(hits, "ris", export_engine.document)
    assert text.startswith("TY  - ")
    entries = rispy.loads(text)
    assert [e["id"] for e in entries] == list(dict.fromkeys(h.doc_id for h in hits))
    awkward = next(e for e in entries if e["id"] == "awkward")
    assert awkward["authors"] == ["Zoë Ångström", "Bo Li"] and awkward["journal_name"] == "Review"
    assert awkward["year"] == "2021" and awkward["urls"] == ["https://example.org/a?b=1&c=2"]
    assert any("Wheat {exports} grew 5\u00a0% in 2020" in note for note in awkward["notes"])


def test_csv_holds_the_hit_fields_exactly(export_engine):
    from dataclasses import asdict, fields

    import qa
    from qa.interfaces.export import export

    hits = export_engine.search("wheat prices", k=4)
    rows = list(csv.DictReader(io.StringIO(export(hits, "csv", export_engine.document))))
    assert list(rows[0]) == [f.name for f in fields(qa.Hit)]
    for row, hit in zip(rows, hits, strict=True):
        expected = asdict(hit)
        assert row["text"] == hit.text and row["citation"] == hit.citation and row["doc_id"] == hit.doc_id
        assert int(row["char_start"]) == expected["char_start"] and float(row["score"]) == expected["score"]


def test_markdown_numbers_citations_by_the_answer_markers(export_engine):
    from qa.interfaces.export import export

    answer = export_engine.ask("what grew 5 % in 2020?", k=3)
    text = export(answer, "markdown", export_engine.document)
    assert text.startswith("**Q:** what grew 5 % in 2020?")
    if answer.found:
        for sentence in answer.sentences:
            assert f"- [{sentence.marker}] {sentence.citation}  \n  > {sentence.text}" in text
    else:
        assert "Closest passages:" in text and answer.reason in text
        for hit in answer.hits:
            assert f"- [{hit.rank}] {hit.citation}" in text


@pytest.mark.parametrize("fmt", ["json", "markdown", "csv", "bibtex", "ris"])
def test_cli_format_option(fmt, fake_engine, capsys, monkeypatch, cli_fake):
    import bibtexparser
    import rispy

    code, out, err = run_cli(["search", "grain", "--index", str(fake_engine.index_dir), "--format", fmt, "-k", "2"],
                             capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    parsed = {"json": json.loads, "csv": lambda s: list(csv.DictReader(io.StringIO(s))),
              "bibtex": lambda s: bibtexparser.parse_string(s).entries, "ris": rispy.loads,
              "markdown": lambda s: [line for line in s.splitlines() if line.startswith("- [")]}[fmt](out)
    assert len(parsed) >= 1
    if fmt == "json":  # --json is --format json
        code, same, _ = run_cli(["search", "grain", "--index", str(fake_engine.index_dir), "--json", "-k", "2"],
                                capsys, monkeypatch=monkeypatch)
        assert json.loads(same) == parsed


def test_cli_rejects_an_unknown_format(fake_engine, capsys, monkeypatch, cli_fake):
    code, _, err = run_cli(["ask", "grain", "--index", str(fake_engine.index_dir), "--format", "docx"],
                           capsys, monkeypatch=monkeypatch)
    assert code == 2 and "docx" in err and len(err.strip().splitlines()) == 1


# --- qa watch on a real folder ----------------------------------------------------------------------------

def test_watch_follows_add_edit_delete_and_survives_a_bad_file(small_corpus, tmp_path, fake_embedder, cache_dir,
                                                               monkeypatch):
    import qa
    from qa.interfaces import watch as watch_module

    monkeypatch.setenv("QA_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr("qa.embed.SentenceTransformerEmbedder", lambda *a, **k: fake_embedder)
    index = tmp_path / "index"
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=watch_module.watch, args=(small_corpus, index),
                              kwargs={"debounce_ms": 200, "report": lines.append, "stop": stop})
    thread.start()

    def wait_for(count: int) -> str:
        deadline = time.monotonic() + 60
        while len([l for l in lines if "documents," in l or "failed" in l]) < count:
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        return [l for l in lines if "documents," in l or "failed" in l][count - 1]

    try:
        assert wait_for(1).startswith(f"+{len(ARTICLES)} −0 ~0 documents")
        while not any(l.startswith("watching") for l in lines):
            time.sleep(0.05)
        (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe horse herds grew.\n")
        assert wait_for(2).startswith("+1 −0 ~0 documents, 1 passages embedded")
        assert any(h.doc_id == "delta" for h in qa.open(index, embedder=fake_embedder).search("steppe horse", k=1))

        (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe camel herds shrank.\n")
        assert wait_for(3).startswith("+0 −0 ~1 documents, 1 passages embedded")
        assert "camel" in qa.open(index, embedder=fake_embedder).document("delta").text

        (small_corpus / "gamma.md").unlink()
        assert wait_for(4).startswith("+0 −1 ~0 documents, 0 passages embedded")
        assert "gamma" not in {d.doc_id for d in qa.open(index, embedder=fake_embedder).documents}

        (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
        line = wait_for(5)
        assert line.startswith("+0 −0 ~0 documents") and "broken.pdf: not a readable PDF" in line
        assert {d.doc_id for d in qa.open(index, embedder=fake_embedder).documents} == {"alpha", "beta", "delta"}
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_failed_refresh_keeps_the_last_good_index(small_corpus, tmp_path, fake_embedder, cache_dir, monkeypatch):
    import qa
    from qa.interfaces.watch import refresh

    monkeypatch.setenv("QA_CACHE_DIR", str(cache_dir))
    index = tmp_path / "index"
    assert refresh(small_corpus, index, fake_embedder).added == len(ARTICLES)
    for path in small_corpus.iterdir():
        path.unlink()  # an emptied folder is an error, not an empty index
    result = refresh(small_corpus, index, fake_embedder)
    assert result.error and result.line().startswith("refresh failed, the last good index keeps serving")
    assert len(qa.open(index, embedder=fake_embedder).documents) == len(ARTICLES)


def test_live_index_reopens_after_a_rebuild_and_in_flight_work_keeps_the_old(small_corpus, tmp_path, fake_embedder,
                                                                             cache_dir, monkeypatch):
    import qa
    from qa.search.live import LiveIndex

    index = tmp_path / "index"
    qa.build(small_corpus, index, embedder=fake_embedder, cache_dir=cache_dir)
    monkeypatch.setattr("qa.search.live.open_index",
                        lambda path, embedder=None: qa.open(path, embedder=embedder or fake_embedder))
    live = LiveIndex(index, check_every=0)
    old = live.engine
    (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe horse herds grew.\n")
    qa.build(small_corpus, index, embedder=fake_embedder, cache_dir=cache_dir)
    new = live.engine
    assert new is not old and "delta" in {d.doc_id for d in new.documents}
    assert "delta" not in {d.doc_id for d in old.documents}
    assert old.search("steppe horse", k=1)  # the engine a request began with still answers
    assert live.engine is new  # no change, no reopen


# --- MCP, through the SDK's own stdio client --------------------------------------------------------------

@pytest.mark.slow
def test_mcp_tools_over_stdio(web_index, model_cache):
    import anyio
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "qa", "mcp", "--index", str(web_index)],
                                   env={**os.environ, "QA_CACHE_DIR": str(model_cache)})

    async def session():
        async with Client(params, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} == {"search", "ask", "document"}

            asked = await client.call_tool("ask", {"question": "what did Kazakhstan want from the US?"})
            assert not asked.is_error
            answer = asked.structured_content
            assert answer["found"] and any(WEITZ_SENTENCE in s["text"] for s in answer["sentences"])
            text = asked.content[0].text
            assert WEITZ_SENTENCE in text and "Richard Weitz, “Toward A New Kazakhstan-U.S. Partnership”" in text

            found = await client.call_tool("search", {"question": "Kazakh peacekeepers in Iraq", "k": 3,
                                                      "filters": {"publication": ["Eurasia Daily Monitor"]}})
            hits = found.structured_content["hits"]
            assert len(hits) == 3 and all("Eurasia Daily Monitor" in h["citation"] for h in hits)
            assert set(hits[0]) >= {"rank", "score", "doc_id", "chunk_id", "title", "text", "char_start",
                                    "char_end", "citation", "bm25_rank", "dense_rank"}

            doc = await client.call_tool("document", {"doc_id": hits[0]["doc_id"]})
            body = doc.structured_content["text"]
            assert body[hits[0]["char_start"]:hits[0]["char_end"]] == hits[0]["text"]

            empty = await client.call_tool("ask", {"question": "   "})
            assert empty.is_error and empty.content[0].text == "the question is empty; type a question"
            missing = await client.call_tool("document", {"doc_id": "no-such-article"})
            assert missing.is_error and "no document with id 'no-such-article'" in missing.content[0].text

    anyio.run(session)
    # The CLI says the same about an empty question.
    cli = subprocess.run([sys.executable, "-m", "qa", "ask", "   ", "--index", str(web_index)],
                         capture_output=True, text=True, env={**os.environ, "QA_CACHE_DIR": str(model_cache)})
    assert cli.returncode != 0 and cli.stderr.strip() == "qa: error: the question is empty; type a question"


def test_mcp_without_an_index_fails_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qa", "mcp", "--index", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "no index at" in result.stderr and result.stdout == ""
