"""Saved web pages, PDF reports and Word files: read, indexed, found and cited (the PDF by page)."""

import json
import logging
from pathlib import Path

import pytest

import qa
from qa.ingest.load import load_corpus

from conftest import FakeEmbedder, run_cli

HTML = """<!DOCTYPE html><html><head>
<title>Steppe Railways | Transit Weekly</title>
<meta name="author" content="Dana Railwriter">
<meta property="og:site_name" content="Transit Weekly">
<meta property="article:published_time" content="2012-04-15">
</head><body>
<nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/subscribe">Subscribe now</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<article><h1>Steppe Railways</h1>
<p>The new railway from Zhezkazgan to Beineu shortens the route from China to the Caspian ports by several hundred kilometres.</p>
<p>Freight operators expect container traffic across the steppe to double within five years, according to the national rail company.</p>
<p>Engineers laid the track across salt flats where summer temperatures exceed forty degrees.</p>
</article>
<footer>Copyright Transit Weekly. All rights reserved. Privacy policy | Terms of use</footer>
</body></html>"""


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Grain Harvest Report")
    pdf.set_author("Oleg Fieldman")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Page one discusses wheat exports. The northern provinces grew more wheat than ever before.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "Page two covers barley. Barley prices fell because the harvest in the south was larger than expected.")
    pdf.output(str(path))


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Memo on Uranium Mining"
    document.core_properties.author = "Ivan Memowriter"
    document.add_paragraph("Kazatomprom raised uranium output at the Inkai deposit this quarter.")
    document.add_paragraph("The memo recommends new contracts with Japanese utilities.")
    document.save(str(path))


@pytest.fixture
def mixed_corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "railways.html").write_text(HTML, encoding="utf-8")
    make_pdf(folder / "harvest.pdf")
    make_docx(folder / "memo.docx")
    (folder / "note.md").write_text("---\ntitle: A Note\npublication: Notes\ndate: 2010-01-01\n---\nA plain note about horses.\n")
    return folder


def test_html_main_text_without_clutter_and_with_metadata(mixed_corpus):
    doc = {d.doc_id: d for d in load_corpus(mixed_corpus)}["railways"]
    assert "Zhezkazgan to Beineu" in doc.text and "salt flats" in doc.text
    for clutter in ("Subscribe now", "cookies", "All rights reserved", "Privacy policy"):
        assert clutter not in doc.text
    assert doc.title.startswith("Steppe Railways")
    assert doc.authors == ["Dana Railwriter"] and doc.date == "2012-04-15" and doc.publication == "Transit Weekly"
    assert "\n\n" in doc.text  # paragraphs kept apart


def test_pdf_pages_are_known_to_passages_and_citations(mixed_corpus, tmp_path):
    engine = qa.build(mixed_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    doc = engine.document("harvest")
    assert doc.title == "Grain Harvest Report" and doc.authors == ["Oleg Fieldman"]
    barley = engine.search("barley prices fell", k=1, mode="bm25")[0]
    assert barley.doc_id == "harvest" and ", p. 2" in barley.citation
    wheat = engine.search("wheat exports northern provinces", k=1, mode="bm25")[0]
    assert ", p. 1" in wheat.citation
    pages = {c.chunk_id: c.page for c in qa.open(tmp_path / "index", embedder=FakeEmbedder()).chunks if c.doc_id == "harvest"}
    assert set(pages.values()) <= {1, 2} and 2 in pages.values()


def test_docx_text_and_core_properties(mixed_corpus):
    doc = {d.doc_id: d for d in load_corpus(mixed_corpus)}["memo"]
    assert doc.title == "Memo on Uranium Mining" and doc.authors == ["Ivan Memowriter"]
    assert "Inkai deposit" in doc.text and "Japanese utilities" in doc.text


def test_mixed_folder_indexes_in_one_build_and_each_is_found(mixed_corpus, tmp_path):
    engine = qa.build(mixed_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    for question, doc_id in [("container traffic steppe", "railways"), ("barley harvest", "harvest"),
                             ("uranium Inkai", "memo"), ("horses", "note")]:
        assert engine.search(question, k=1, mode="bm25")[0].doc_id == doc_id


def test_damaged_files_are_skipped_with_a_warning_and_never_stop_the_build(mixed_corpus, tmp_path, caplog):
    (mixed_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (mixed_corpus / "broken.docx").write_bytes(b"PK not a zip")
    (mixed_corpus / "image.png").write_bytes(b"\x89PNG")
    with caplog.at_level(logging.WARNING):
        engine = qa.build(mixed_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    assert {d.doc_id for d in engine.documents} == {"railways", "harvest", "memo", "note"}
    skipped = engine.manifest["corpus"]["skipped"]
    assert len(skipped) == 3 and all("\n" not in s for s in skipped)
    for name in ("broken.pdf", "broken.docx", "image.png"):
        assert any(name in r.getMessage() for r in caplog.records)


def test_filters_by_publication_author_and_dates(mixed_corpus, tmp_path):
    engine = qa.build(mixed_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    assert {h.doc_id for h in engine.search("the", k=10, mode="dense", filters={"publication": "Transit Weekly"})} == {"railways"}
    assert {h.doc_id for h in engine.search("uranium", k=10, mode="dense", filters={"author": ["Ivan Memowriter"]})} == {"memo"}
    dated = engine.search("horses railway", k=10, mode="dense", filters={"since": "2011-01-01", "until": "2012-12-31"})
    assert {h.doc_id for h in dated} == {"railways"}


def test_cli_search_filters(mixed_corpus, tmp_path, capsys):
    qa.build(mixed_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    code, out, err = run_cli(["search", "plain note horses", "--mode", "bm25", "-k", "10", "--index", str(tmp_path / "index"),
                              "--publication", "Notes", "--json"], capsys)
    assert code == 0, err
    assert {h["doc_id"] for h in json.loads(out)} == {"note"}
    code, _, err = run_cli(["search", "the", "--index", str(tmp_path / "index"), "--since", "yesterday"], capsys)
    assert code == 1 and "not a date" in err


def test_cli_add_copies_and_indexes_only_new_passages(mixed_corpus, tmp_path, capsys, monkeypatch):
    import qa.search.engine

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeEmbedder()
    monkeypatch.setattr(qa.search.engine, "SentenceTransformerEmbedder", lambda *a, **k: fake)
    index = tmp_path / "index"
    code, _, err = run_cli(["index", str(mixed_corpus), "--index", str(index), "-q"], capsys)
    assert code == 0, err
    first = fake.documents_encoded
    new = tmp_path / "incoming"
    new.mkdir()
    import docx

    document = docx.Document()
    document.core_properties.title = "Memo on Camel Caravans"
    document.add_paragraph("Camel caravans crossed the Betpak-Dala desert to reach Balkhash in autumn.")
    document.save(str(new / "caravans.docx"))
    assert qa.open(index, embedder=fake).search("camel caravans Balkhash", k=1, mode="bm25") == []
    code, _, err = run_cli(["add", str(new / "caravans.docx"), "--corpus", str(mixed_corpus), "--index", str(index), "-q"], capsys)
    assert code == 0, err
    assert (mixed_corpus / "caravans.docx").exists()
    # Only the new document's passage was embedded; the rest came from the cache.
    assert fake.documents_encoded == first + 1
    hit = qa.open(index, embedder=fake).search("camel caravans Balkhash", k=1, mode="bm25")[0]
    assert hit.doc_id == "caravans" and "Betpak-Dala" in hit.text
    code, _, err = run_cli(["add", str(tmp_path / "missing.pdf"), "--corpus", str(mixed_corpus), "--index", str(index)], capsys)
    assert code == 1 and "no such file" in err and err.count("\n") == 1
