"""Results as files an analyst cites from: JSON, Markdown, CSV, BibTeX (bibtexparser) and RIS (rispy).

Every format carries the quoted text exactly as the article has it. BibTeX and RIS hold one entry per
cited document, with the quoted passages and their paragraph or page in the note; CSV holds the
``Hit`` fields, one row per passage; Markdown numbers its citations.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Callable, Sequence

from qa.records import Document, Hit
from qa.search.answer import Answer
from qa.search.cite import locator

__all__ = ["FORMATS", "export", "media_type", "file_suffix"]

FORMATS = ("text", "json", "markdown", "csv", "bibtex", "ris")  # "text" is the CLI's own rendering
_SUFFIX = {"json": ".json", "markdown": ".md", "csv": ".csv", "bibtex": ".bib", "ris": ".ris", "text": ".txt"}
_MEDIA = {"json": "application/json", "markdown": "text/markdown", "csv": "text/csv",
          "bibtex": "application/x-bibtex", "ris": "application/x-research-info-systems", "text": "text/plain"}

Result = Sequence[Hit] | Answer


@dataclass(frozen=True)
class Quote:
    """One quoted span: the text as the article has it, and where it sits."""

    marker: int
    doc_id: str
    text: str
    char_start: int
    char_end: int


def file_suffix(fmt: str) -> str:
    return _SUFFIX[fmt]


def media_type(fmt: str) -> str:
    return _MEDIA[fmt]


def export(result: Result, fmt: str, document: Callable[[str], Document]) -> str:
    """``result`` (a search's hits or an answer) in ``fmt``; ``document`` looks a doc_id up (engine.document)."""
    if fmt == "json":
        data = asdict(result) if isinstance(result, Answer) else [asdict(h) for h in result]
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _csv(result)
    if fmt == "markdown":
        return _markdown(result, document)
    if fmt == "bibtex":
        return _bibtex(_by_document(result), document)
    if fmt == "ris":
        return _ris(_by_document(result), document)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _quotes(result: Result) -> list[Quote]:
    """What a result quotes: an answer's sentences when found, else the passages themselves."""
    if isinstance(result, Answer) and result.found:
        return [Quote(s.marker, s.doc_id, s.text, s.char_start, s.char_end) for s in result.sentences]
    hits = result.hits if isinstance(result, Answer) else result
    return [Quote(h.rank, h.doc_id, h.text, h.char_start, h.char_end) for h in hits]


def _by_document(result: Result) -> dict[str, list[Quote]]:
    cited: dict[str, list[Quote]] = {}
    for quote in _quotes(result):
        cited.setdefault(quote.doc_id, []).append(quote)
    return cited


def _note(doc: Document, quotes: list[Quote]) -> str:
    return "\n".join(f"“{q.text}” ({locator(doc, q.char_start, q.char_end)})" for q in quotes)


def _csv(result: Result) -> str:
    hits = result.hits if isinstance(result, Answer) else result
    names = [f.name for f in fields(Hit)]
    quoted: dict[str, list[str]] = {}
    if isinstance(result, Answer) and result.found:
        for sentence in result.sentences:
            quoted.setdefault(sentence.chunk_id, []).append(sentence.text)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names + (["quoted"] if isinstance(result, Answer) else []))
    writer.writeheader()
    for hit in hits:
        row = asdict(hit)
        if isinstance(result, Answer):
            row["quoted"] = " ".join(quoted.get(hit.chunk_id, []))
        writer.writerow(row)
    return out.getvalue()


def _markdown(result: Result, document: Callable[[str], Document]) -> str:
    lines: list[str] = []
    if isinstance(result, Answer):
        lines += [f"**Q:** {result.question}", "", result.text]
        if result.reason:
            lines += ["", f"_{result.reason}_"]
        lines.append("")
        if result.found:
            for sentence in result.sentences:
                lines.append(f"- [{sentence.marker}] {sentence.citation}  \n  > {sentence.text}")
            return "\n".join(lines) + "\n"
        lines.append("Closest passages:")
        lines.append("")
    hits = result.hits if isinstance(result, Answer) else result
    for hit in hits:
        # "[n]" rather than "n." list items: Markdown renumbers ordered lists, and n must match the answer's markers.
        quoted = hit.text.replace("\n\n", "\n  >\n  > ")
        lines.append(f"- [{hit.rank}] {hit.citation}  \n  > {quoted}")
    return "\n".join(lines) + "\n"


def _year_month(date: str) -> tuple[str, str]:
    match = re.match(r"(\d{4})(?:-(\d{2}))?", date)
    return (match.group(1), str(int(match.group(2))) if match.group(2) else "") if match else ("", "")


def _key(doc: Document, taken: set[str]) -> str:
    """"weitz2013": the first author's surname (else the title's first word) and the year."""
    head = (doc.authors[0].split()[-1] if doc.authors else (doc.title or doc.doc_id).split()[0])
    base = re.sub(r"[^a-z0-9]", "", head.lower()) or "doc"
    base += _year_month(doc.date)[0]
    key, n = base, 0
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 1) if n <= 26 else n}"
    taken.add(key)
    return key


def _braced(value: str) -> str:
    # The writer puts each value in braces; a stray brace in a quote would end it early.
    return value.replace("\\", "\\textbackslash{}").replace("{", "\\{").replace("}", "\\}")


def _bibtex(cited: dict[str, list[Quote]], document: Callable[[str], Document]) -> str:
    from bibtexparser import Library, write_string
    from bibtexparser.model import Entry, Field

    library, taken = Library(), set()
    for doc_id, quotes in cited.items():
        doc = document(doc_id)
        year, month = _year_month(doc.date)
        values = {"author": " and ".join(doc.authors), "title": doc.title or doc.doc_id,
                  "journal": doc.publication, "volume": str(doc.metadata.get("volume") or ""),
                  "number": str(doc.metadata.get("issue") or ""), "year": year, "month": month, "date": doc.date,
                  "url": str(doc.metadata.get("url") or ""), "note": _note(doc, quotes)}
        entry_type = "article" if doc.publication else "misc"
        entry = Entry(entry_type, _key(doc, taken),
                      [Field(name, _braced(value)) for name, value in values.items() if value])
        library.add(entry)
    return write_string(library)


def _plain_ris_writer():
    import rispy

    class PlainRis(rispy.RisWriter):
        def set_header(self, count: int) -> str:
            return ""  # rispy numbers entries ("1."); reference managers expect TY first
    return PlainRis


def _ris(cited: dict[str, list[Quote]], document: Callable[[str], Document]) -> str:
    import rispy

    entries = []
    for doc_id, quotes in cited.items():
        doc = document(doc_id)
        year, _ = _year_month(doc.date)
        entry = {"type_of_reference": "JOUR" if doc.publication else "GEN", "title": doc.title or doc.doc_id,
                 "authors": doc.authors, "journal_name": doc.publication, "year": year,
                 "date": doc.date.replace("-", "/"), "volume": str(doc.metadata.get("volume") or ""),
                 "number": str(doc.metadata.get("issue") or ""), "urls": [str(doc.metadata.get("url") or "")],
                 # RIS is one line per tag: a line break inside a quote becomes a space.
                 "notes": [" ".join(_note(doc, [q]).split("\n")) for q in quotes], "id": doc.doc_id}
        entries.append({name: value for name, value in entry.items() if value and value != [""]})
    return rispy.dumps(entries, implementation=_plain_ris_writer())
