"""Real-looking documents made here (two-column PDF, scan, encrypted PDFs, Word table, news page) and the real ones in ../shared/real-docs."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

import qa
from qa.ingest.formats import read_docx, read_html
from qa.ingest.load import load_corpus, load_file
from qa.ingest.metadata import clean_authors, looks_like_title
from qa.ingest.pdf import join_lines, read_pdf

from conftest import FakeEmbedder, run_cli

REAL_DOCS = Path(__file__).resolve().parents[2] / "shared" / "real-docs"
LIGATURES = "\ufb00\ufb01\ufb02\ufb03\ufb04"


def _font() -> str:
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")


# Two columns of lines, as a typesetter broke them: "em-/beddings" is a break, "long-/term" a real
# compound (the report writes "long-term" inside a line too), "Lucene-/BM25" a name.
LEFT = [
    ["The co\ufb00ee harvest report studies how em-", "beddings of market news predict prices", "over the long-term horizon. Traders use",
     "long-term contracts and \ufb01ne-grained", "signals when they set prices."],
    ["The second section compares Lucene-", "BM25 with dense retrieval on the e\ufb03cient", "frontier of cost and quality."],
]
RIGHT = [
    ["Weather shocks in the highlands re-", "duced the crop by a fifth in the year", "under review, and prices rose sharply."],
    ["Exporters signed new agreements with", "roasters in Hamburg and Antwerp before", "the autumn auctions began."],
]


def make_two_column_pdf(path: Path, pages: int = 3) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)  # the footer sits in the bottom margin
    pdf.add_font("DejaVu", fname=_font())
    pdf.set_title("Coffee Harvest and Market Signals")
    pdf.set_author("Maria Ortega, Senior Analyst")
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("DejaVu", size=8)
        pdf.set_xy(15, 8)
        pdf.cell(0, 5, "QUARTERLY COMMODITY REVIEW · VOL. 7 · PRINTED 12/03/2021")  # running head
        if number == 1:
            pdf.set_font("DejaVu", size=20)
            pdf.set_xy(15, 22)
            pdf.cell(0, 10, "Coffee Harvest and Market Signals")
        # Body text differs from page to page (only furniture repeats); later pages are about other regions.
        region = ("", "northern", "southern")[number - 1] if number <= 3 else "western"
        body = (LEFT, RIGHT) if number == 1 else (
            [[f"Growers in the {region} valleys report", f"that the {region} harvest came early and", "yields were above the average of the decade."]],
            [[f"Weather shocks in the {region} highlands re-", f"duced the {region} crop by a fifth in the", "year under review."]])
        for column, x in zip(body, (15, 110)):
            pdf.set_font("DejaVu", size=10)
            y = 45
            for paragraph in column:
                for line in paragraph:
                    pdf.set_xy(x, y)
                    pdf.cell(85, 5, line)
                    y += 5
                y += 5  # blank line between paragraphs
        pdf.set_font("DejaVu", size=8)
        pdf.set_xy(15, 282)
        pdf.cell(0, 5, f"Commodity Desk Internal — page {number}")  # running footer with a number
        pdf.set_xy(190, 282)
        pdf.cell(0, 5, str(number))
    pdf.output(str(path))


def make_scanned_pdf(path: Path) -> None:
    """A page that is only an image of text, as a scanner makes it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(_font(), 44)
    lines = ["Notice of the Annual Meeting", "", "The annual meeting of the Steppe Cooperative will be",
             "held in the town hall of Karaganda on Friday at noon.", "Members may vote in person or by proxy."]
    for i, line in enumerate(lines):
        draw.text((150, 200 + 80 * i), line, font=font, fill=0)
    image.save(path, "PDF", resolution=200.0)


def encrypt(source: Path, target: Path, password: str) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(source)))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-128")
    with target.open("wb") as handle:
        writer.write(handle)


@pytest.fixture(scope="module")
def two_column(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "coffee.pdf"
    make_two_column_pdf(path)
    return path


def test_two_column_pdf_reads_as_prose_in_column_order(two_column):
    title, text, meta = read_pdf(two_column)
    assert title == "Coffee Harvest and Market Signals"
    assert meta["authors"] == ["Maria Ortega"]
    page_one = text[: meta["page_starts"][1]]
    # The left column is read whole before the right one, lines joined into sentences.
    left = page_one.index("signals when they set prices.")
    right = page_one.index("Weather shocks in the highlands")
    assert left < page_one.index("frontier of cost and quality.") < right
    assert "embeddings of market news predict prices over the long-term horizon." in page_one
    assert "reduced the crop by a fifth" in page_one
    assert "Lucene-BM25 with dense retrieval" in page_one
    assert "long-term contracts and fine-grained signals" in page_one
    assert "efficient frontier" in page_one


def test_running_heads_footers_and_page_numbers_are_removed(two_column):
    _, text, meta = read_pdf(two_column)
    for furniture in ("QUARTERLY COMMODITY REVIEW", "Commodity Desk Internal", "PRINTED"):
        assert furniture not in text
    assert not re.search(r"(?m)^\d+$", text)
    assert meta["pages"] == 3 and meta["furniture_lines_removed"] >= 9
    assert not any(ch in text for ch in LIGATURES)


def test_paragraph_breaks_come_from_the_layout(two_column):
    _, text, meta = read_pdf(two_column)
    page_one = text[: meta["page_starts"][1]]
    paragraphs = [p for p in page_one.split("\n\n")]
    assert any(p.startswith("The second section compares") for p in paragraphs)
    assert any(p.startswith("Exporters signed") for p in paragraphs)


def test_pdf_passages_stay_on_a_page_and_cite_it(two_column, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "coffee.pdf").write_bytes(two_column.read_bytes())
    engine = qa.build(corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")
    hit = engine.search("southern highlands crop", k=1, mode="bm25")[0]
    assert hit.citation.endswith("p. 3")
    starts = engine.document("coffee").metadata["page_starts"]
    for chunk in engine.chunks:
        assert sum(1 for s in starts if s <= chunk.char_start) == sum(1 for s in starts if s < chunk.char_end)


def test_hyphen_rules_keep_real_compounds():
    assert join_lines(["the em-", "beddings"]) == "the embeddings"
    assert join_lines(["Lucene-", "BM25"]) == "Lucene-BM25"
    from collections import Counter

    assert join_lines(["a long-", "term view"], Counter(), {"long-term"}) == "a long-term view"
    assert join_lines(["a long-", "term view"], Counter({"longterm": 1}), {"long-term"}) == "a longterm view"


def test_empty_password_pdf_is_read_and_a_real_password_is_a_clear_skip(two_column, tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    encrypt(two_column, corpus / "open.pdf", "")
    encrypt(two_column, corpus / "locked.pdf", "secret")
    with caplog.at_level(logging.WARNING):
        documents = load_corpus(corpus)
    assert [d.doc_id for d in documents] == ["open"]
    assert "embeddings of market news" in documents[0].text
    warnings = [r.getMessage() for r in caplog.records if "locked.pdf" in r.getMessage()]
    assert len(warnings) == 1 and "password" in warnings[0] and "\n" not in warnings[0]


def test_scanned_page_is_read_by_ocr_and_marked(tmp_path):
    scan = tmp_path / "scan.pdf"
    make_scanned_pdf(scan)
    doc = load_file(scan)
    assert doc is not None and doc.metadata["ocr_pages"] == [1]
    assert "Karaganda" in doc.text and "proxy" in doc.text
    # Lines of one paragraph are joined into one.
    assert re.search(r"will be held in the town hall", doc.text)


def test_missing_tesseract_gives_one_warning_naming_the_package(tmp_path, monkeypatch, caplog):
    from qa.ingest import ocr

    scan = tmp_path / "scan.pdf"
    make_scanned_pdf(scan)
    (tmp_path / "note.md").write_text("A note about wheat.\n", encoding="utf-8")
    monkeypatch.setattr(ocr, "tesseract_available", lambda: False)
    with caplog.at_level(logging.WARNING):
        documents = load_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["note"]  # the scan's only page is an image: skipped, never a crash
    messages = [r.getMessage() for r in caplog.records if "scan.pdf" in r.getMessage()]
    assert any("tesseract-ocr" in m for m in messages)
    assert all("\n" not in m for m in messages)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Word Document"  # a template's placeholder
    document.core_properties.author = "Editorial"
    document.add_heading("Grain Export Quotas", level=1)
    document.add_paragraph("The ministry set quotas for the coming season.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Crop", "Quota (t)", "Port"), ("Wheat", "1,200,000", "Aktau"), ("Barley", "300,000", "Kuryk")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("First item of the list", style="List Bullet")
    document.add_paragraph("Second item of the list", style="List Bullet")
    document.save(str(path))


def test_docx_keeps_tables_headings_lists_and_rejects_placeholder_metadata(tmp_path):
    make_docx(tmp_path / "quotas.docx")
    title, text, meta = read_docx(tmp_path / "quotas.docx")
    assert title == "Grain Export Quotas"
    assert meta["authors"] == []
    paragraphs = text.split("\n\n")
    assert "Wheat | 1,200,000 | Aktau" in paragraphs and "Crop | Quota (t) | Port" in paragraphs
    assert "First item of the list" in paragraphs and "Second item of the list" in paragraphs
    assert paragraphs.index("Grain Export Quotas") < paragraphs.index("Crop | Quota (t) | Port")


NEWS = """<!DOCTYPE html><html><head><title>Pipeline Opens | Steppe Wire</title>
<meta name="author" content="Aigerim Nurlanova, National Security Writer">
<meta property="og:site_name" content="Steppe Wire"></head><body><article><h1>Pipeline Opens</h1>
<p>The new pipeline from Atyrau to the Chinese border carried its first oil on Monday, officials said at a ceremony in the capital.</p>
<p>Engineers said the line can carry twenty million tonnes a year once the last pumping stations are finished next spring.</p>
<p>More:</p>
<p>SOURCE: News agencies</p>
</article></body></html>"""


def test_html_drops_trailing_one_liners_and_roles_from_bylines(tmp_path):
    (tmp_path / "pipeline.html").write_text(NEWS, encoding="utf-8")
    title, text, meta = read_html(tmp_path / "pipeline.html")
    assert text.rstrip().endswith("next spring.")
    assert "More:" not in text and "SOURCE" not in text
    assert meta["authors"] == ["Aigerim Nurlanova"]


@pytest.mark.parametrize("raw, names", [
    ("Richard Weitz, Principal Researcher", ["Richard Weitz"]),
    ("By Ann Lee and Bo Chan", ["Ann Lee", "Bo Chan"]),
    ("Editorial", []), ("Staff", []), ("News agencies", []), ("Associated Press", []),
    ("The committee and the board reviewed the plan", []),
    ("Jean-Luc van der Berg", ["Jean-Luc van der Berg"]),
])
def test_authors_are_person_names_only(raw, names):
    assert clean_authors(raw) == names


@pytest.mark.parametrize("title, ok", [
    ("1-2", False), ("pp. 12–14", False), ("Untitled", False), ("Word Document", False),
    ("Microsoft Word - memo.docx", False), ("SoriaComas_iDP-R2_rev.pdf", False), ("00463065.tif", False),
    ("10811.exe", False), ("The role of mentorship in protégé performance", True), ("2007 Instruction 1040-NR", True),
])
def test_metadata_titles_are_checked(title, ok):
    assert looks_like_title(title) is ok


def test_markdown_title_is_the_first_heading_without_hashes(tmp_path):
    (tmp_path / "note.md").write_text("# Wheat Prices Rise\n\nPrices rose in May.\n", encoding="utf-8")
    assert load_file(tmp_path / "note.md").title == "Wheat Prices Rise"


def test_inspect_shows_how_a_file_was_read(two_column, capsys):
    code, out, err = run_cli(["inspect", str(two_column), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[0])
    assert report["title"] == "Coffee Harvest and Market Signals" and report["pages"] == 3
    assert report["ocr_pages"] == [] and report["paragraphs"] >= 8
    assert report["first_paragraphs"][0] == "Coffee Harvest and Market Signals"
    code, out, err = run_cli(["inspect", str(two_column)], capsys)
    assert code == 0 and "title:" in out and "Coffee Harvest" in out
    code, out, err = run_cli(["inspect", str(two_column.parent / "missing.pdf")], capsys)
    assert code == 1 and "missing.pdf" in out


# The real files: public test fixtures with the hard cases (../shared/real-docs/README.md).
needs_real_docs = pytest.mark.skipif(not REAL_DOCS.is_dir(), reason="../shared/real-docs is not beside the clone")


@needs_real_docs
@pytest.mark.parametrize("name, title", [
    ("ieee-individual-dp-2col.pdf", "Individual Differential Privacy: A Utility-Preserving Formulation of Differential Privacy Guarantees"),
    ("nature-mentorship-2col.pdf", "The role of mentorship in protégé performance"),
    ("layoutparser-aes-encrypted.pdf", "LayoutParser: A Unified Toolkit for Deep Learning Based Document Image Analysis"),
    ("irs-i1040nr-2007.pdf", "2007 Instruction 1040-NR"),
    ("scotus-transcript-p1.pdf", ""),  # metadata says "10811.exe": empty beats wrong
    ("elder-abuse-referral-form.docx", ""),  # core title "Office Use Only" is the form's first cell
])
def test_real_titles(name, title):
    doc = load_file(REAL_DOCS / name)
    assert doc.title == title


@needs_real_docs
def test_real_two_column_paper_is_clean_prose():
    _, text, meta = read_pdf(REAL_DOCS / "ieee-individual-dp-2col.pdf")
    assert not any(ch in text for ch in LIGATURES)
    assert "IEEE TRANSACTIONS ON INFORMATION FORENSICS" not in text
    assert len(re.findall(r"[a-z]- [a-z]", text)) <= 5  # 131 words were broken at line ends
    assert "we propose individual differential privacy, an alternative differential privacy notion" in text


@needs_real_docs
def test_real_accents_drawn_apart_are_composed():
    _, text, _ = read_pdf(REAL_DOCS / "nature-mentorship-2col.pdf")
    assert "protégé" in text and "´" not in text
    assert "Macmillan Publishers Limited. All rights reserved" not in text


@needs_real_docs
def test_real_aes_pdf_with_empty_password_is_read_without_ligature_holes():
    _, text, _ = read_pdf(REAL_DOCS / "layoutparser-aes-encrypted.pdf")
    assert "an open-source library for streamlining the usage of DL" in text
    assert "\x00" not in text and "\ufffd" not in text and "difficulties" in text


@needs_real_docs
def test_real_scans_are_read_by_ocr():
    doc = load_file(REAL_DOCS / "scanned-asx-agm-notice.pdf")
    assert doc.metadata["ocr_pages"] == [1, 2, 3] and "ANNUAL GENERAL MEETING" in doc.text
    memo = load_file(REAL_DOCS / "sugar-memo-bad-ocr.pdf")  # a garbage text layer is replaced
    assert memo.metadata["ocr_pages"] == [1] and "accepting membership" in memo.text


@needs_real_docs
def test_real_word_files_keep_their_tables():
    doc = load_file(REAL_DOCS / "va-notice-of-intent.docx")
    assert "SOLICITATION NUMBER* | 36C26123Q1035" in doc.text
    drilling = load_file(REAL_DOCS / "drilling-procedure-lay-down-tubulars.docx")
    assert "Specific PPE | Safety Harness" in drilling.text
