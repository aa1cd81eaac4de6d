"""Text and metadata from saved web pages (trafilatura), PDF reports (``qa/ingest/pdf.py``) and Word files (python-docx).

Each reader returns ``(title, text, metadata)``; paragraphs are separated by blank lines
so that chunking and paragraph citations work as for Markdown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qa.errors import CorpusError
from qa.ingest.metadata import clean_authors, looks_like_title
from qa.ingest.pdf import read_pdf

__all__ = ["read_html", "read_pdf", "read_docx"]

# A trailing line this short that does not end a sentence is page furniture ("More:", "SOURCE: News
# agencies", a dateline), not the article's last paragraph.
_TRAILER_WORDS = 6
_ENDS_SENTENCE = re.compile(r"[.!?…\"”’)]$")


def _paragraphs(lines: list[str]) -> str:
    return "\n\n".join(line.strip() for line in lines if line.strip())


def _drop_trailing_furniture(lines: list[str]) -> list[str]:
    lines = [line.strip() for line in lines if line.strip()]
    while len(lines) > 1 and len(lines[-1].split()) <= _TRAILER_WORDS and not _ENDS_SENTENCE.search(lines[-1]):
        lines.pop()
    return lines


def read_html(file: Path) -> tuple[str, str, dict[str, Any]]:
    """Main text of a saved web page, without navigation, footers, cookie banners or trailing one-liners."""
    import trafilatura

    html = file.read_bytes().decode("utf-8", errors="replace")
    text = trafilatura.extract(html, output_format="txt", include_comments=False, include_tables=True,
                               favor_precision=True) or ""
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() if meta else ""
    metadata: dict[str, Any] = {"authors": clean_authors(meta.author if meta else None),
                                "publication": (meta.sitename or "") if meta else "",
                                "date": (meta.date or "") if meta else "", "url": (meta.url or "") if meta else "",
                                "format": "html"}
    return title, _paragraphs(_drop_trailing_furniture(text.splitlines())), metadata


def read_docx(file: Path) -> tuple[str, str, dict[str, Any]]:
    """A Word document whole: paragraphs, headings, list items and tables in order, then footnotes and endnotes."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(file))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorpusError(f"cannot read {file}: not a readable Word document ({exc})") from None
    blocks: list[str] = []
    cells: set[str] = set()
    first_heading = ""
    for item in document.iter_inner_content():
        if isinstance(item, docx.table.Table):
            rows = _table_rows(item)
            blocks.extend(rows)
            cells.update(c for row in rows for c in row.split(" | "))
        else:
            text = item.text.strip()
            if text:
                blocks.append(text)
                style = (item.style.name if item.style is not None else "") or ""
                if not first_heading and (style == "Title" or style.startswith("Heading")):
                    first_heading = text
    notes = _notes(document)
    if notes:
        blocks.extend(notes)
    props = document.core_properties
    core_title = (props.title or "").strip()
    body = "\n".join(blocks)
    # The core title is kept when it means something: not a placeholder, not a form's first cell
    # ("Office Use Only"), and about this document (a stale title from a template shares no words with it).
    title = core_title if (looks_like_title(core_title, file) and not any(c.startswith(core_title) for c in cells)
                           and _shares_words(core_title, body)) else first_heading
    metadata = {"authors": clean_authors(props.author), "format": "docx",
                "date": props.created.date().isoformat() if props.created else ""}
    return title, _paragraphs(blocks), metadata


def _table_rows(table: Any) -> list[str]:
    """One line a row, cells separated by " | "; merged cells once; nested tables after their row."""
    rows = []
    for row in table.rows:
        seen, cells, nested = set(), [], []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue  # python-docx repeats a merged cell once per grid column
            seen.add(id(cell._tc))
            text = re.sub(r"\s+", " ", " ".join(p.text for p in cell.paragraphs)).strip()
            if text:
                cells.append(text)
            for inner in cell.tables:
                nested.extend(_table_rows(inner))
        line = " | ".join(cells)
        if line and (not rows or rows[-1] != line):
            rows.append(line)
        rows.extend(nested)
    return rows


def _notes(document: Any) -> list[str]:
    """Footnote and endnote texts, read from their parts (python-docx has no API for them)."""
    from lxml import etree

    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    notes = []
    for rel in document.part.rels.values():
        if not rel.reltype.endswith(("/footnotes", "/endnotes")) or rel.is_external:
            continue
        root = etree.fromstring(rel.target_part.blob)
        for note in root:
            if note.get(f"{ns}type") in ("separator", "continuationSeparator", "continuationNotice"):
                continue
            text = re.sub(r"\s+", " ", "".join(t.text or "" for t in note.iter(f"{ns}t"))).strip()
            if text:
                notes.append(text)
    return notes


def _shares_words(title: str, body: str) -> bool:
    words = re.findall(r"[^\W\d_]{3,}", title.casefold())
    if not words:  # scripts without spaces (Chinese, Japanese): compare characters instead
        chars = [ch for ch in title if ch.isalpha()]
        return bool(chars) and sum(ch in body for ch in chars) / len(chars) >= 0.8 and title in body
    folded = body.casefold()
    return sum(w in folded for w in words) / len(words) >= 0.5
