"""Text and metadata from saved web pages (trafilatura), PDF reports (pypdf) and Word files (python-docx).

Each reader returns ``(title, text, metadata)``; paragraphs are separated by blank lines
so that chunking and paragraph citations work as for Markdown.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from .errors import CorpusError

__all__ = ["read_html", "read_pdf", "read_docx"]

_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\band\b|&)\s*")


def _paragraphs(lines: list[str]) -> str:
    return "\n\n".join(line.strip() for line in lines if line.strip())


def read_html(file: Path) -> tuple[str, str, dict[str, Any]]:
    """Main text of a saved web page, without navigation, footers or cookie banners."""
    import trafilatura

    html = file.read_bytes().decode("utf-8", errors="replace")
    text = trafilatura.extract(html, output_format="txt", include_comments=False, include_tables=True,
                               favor_precision=True) or ""
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() if meta else ""
    authors = [a for a in _AUTHOR_SPLIT.split(meta.author or "") if a] if meta and meta.author else []
    metadata: dict[str, Any] = {"authors": authors, "publication": (meta.sitename or "") if meta else "",
                                "date": (meta.date or "") if meta else "", "url": (meta.url or "") if meta else "",
                                "format": "html"}
    return title, _paragraphs(text.splitlines()), metadata


def read_pdf(file: Path) -> tuple[str, str, dict[str, Any]]:
    """Text of each page, pages separated by blank lines; ``page_starts`` records where each page begins."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(file))
        if reader.is_encrypted:
            raise CorpusError(f"cannot read {file}: the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise CorpusError(f"cannot read {file}: not a readable PDF ({exc})") from None
    text, page_starts = "", []
    for page in pages:
        body = _paragraphs(page.splitlines()) if "\n\n" not in page else page.strip()
        if text and body:
            text += "\n\n"
        page_starts.append(len(text))
        text += body
    info = reader.metadata or {}
    created = getattr(reader.metadata, "creation_date", None) if reader.metadata else None
    metadata = {"authors": [a for a in _AUTHOR_SPLIT.split(str(info.get("/Author") or "")) if a],
                "date": created.date().isoformat() if isinstance(created, dt.datetime) else "",
                "page_starts": page_starts, "format": "pdf"}
    return str(info.get("/Title") or "").strip(), text, metadata


def read_docx(file: Path) -> tuple[str, str, dict[str, Any]]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(file))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorpusError(f"cannot read {file}: not a readable Word document ({exc})") from None
    props = document.core_properties
    metadata = {"authors": [a for a in _AUTHOR_SPLIT.split(props.author or "") if a],
                "date": props.created.date().isoformat() if props.created else "", "format": "docx"}
    return (props.title or "").strip(), _paragraphs([p.text for p in document.paragraphs]), metadata
