"""Readable citations: who wrote it, where it appeared, when, and where in the text the passage is."""

from __future__ import annotations

import datetime as dt

from qa.ingest.chunk import PARAGRAPH_BREAK
from qa.records import Document

__all__ = ["format_citation", "locator", "paragraph_range", "format_date"]

def format_date(value: str) -> str:
    """ISO dates as people write them ("2013-03-20" -> "20 March 2013"); anything else unchanged."""
    try:
        return dt.date.fromisoformat(value).strftime("%-d %B %Y")
    except ValueError:
        pass
    try:
        return dt.datetime.strptime(value, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return value


def paragraph_range(text: str, char_start: int, char_end: int) -> tuple[int, int]:
    """1-based numbers of the first and last paragraph that the span touches."""
    breaks = [m.end() for m in PARAGRAPH_BREAK.finditer(text)]
    first = 1 + sum(1 for b in breaks if b <= char_start)
    last = 1 + sum(1 for b in breaks if b < char_end)
    return first, max(first, last)


def _join_names(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def format_citation(doc: Document, char_start: int, char_end: int) -> str:
    """E.g. ``Richard Weitz, “Toward A New Kazakhstan-U.S. Partnership,” CACI Analyst, 20 March 2013, ¶ 7``.

    Fields the source does not give are left out rather than invented; a PDF
    page, when the document records one per span, is added as ``p. N``.
    """
    meta = doc.metadata
    parts: list[str] = []
    authors = [str(a) for a in (meta.get("authors") or []) if str(a).strip()]
    if authors:
        parts.append(_join_names(authors))
    publication = str(meta.get("publication") or "")
    # A document without a title of its own is titled after its publication; don't say it twice.
    if doc.title and not (publication and doc.title.startswith(publication)):
        parts.append(f"“{doc.title}”")
    if publication:
        venue = publication
        if meta.get("volume"):
            venue += f", vol. {meta['volume']}"
        if meta.get("issue"):
            venue += f", no. {meta['issue']}"
        parts.append(venue)
    if meta.get("date"):
        parts.append(format_date(str(meta["date"])))
    parts.append(locator(doc, char_start, char_end))
    return ", ".join(parts)


def locator(doc: Document, char_start: int, char_end: int) -> str:
    """Where in the document a span is: "p. 4" (paged sources, by printed label) or "¶ 7", "¶¶ 7–8"."""
    page_starts = doc.metadata.get("page_starts")
    if page_starts:  # paged sources are cited by page; paragraph counts across PDF pages mean little
        first = sum(1 for s in page_starts if s <= char_start) or 1
        last = sum(1 for s in page_starts if s < char_end) or 1
        # The label printed on the page ("164", "iv") where the PDF defines labels, else the page's number.
        labels = doc.metadata.get("page_labels") or []
        first_label, last_label = (labels[first - 1], labels[last - 1]) if len(labels) >= last else (first, last)
        return f"p. {first_label}" if first == last else f"pp. {first_label}–{last_label}"
    first, last = paragraph_range(doc.text, char_start, char_end)
    return f"¶ {first}" if first == last else f"¶¶ {first}–{last}"
