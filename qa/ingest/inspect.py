"""How one file is read: the fields and first paragraphs a user checks when a file came out wrong."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qa.ingest.chunk import PARAGRAPH_BREAK
from qa.errors import CorpusError
from qa.ingest.load import load_file

__all__ = ["inspect_file"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def inspect_file(file: Path, paragraphs: int = 3) -> dict[str, Any]:
    """The fields of ``file`` as it would be indexed, its paragraph count and first paragraphs, and any warning."""
    report: dict[str, Any] = {"file": str(file), "error": "", "warnings": [], "first_paragraphs": []}
    collect = _Collect()
    root = logging.getLogger("qa")
    root.addHandler(collect)
    try:
        doc = load_file(file)
    except CorpusError as exc:
        report["error"] = str(exc)
        return report
    except KeyError:
        report["error"] = f"cannot read {file}: unsupported file type {file.suffix or '(none)'!r}"
        return report
    finally:
        root.removeHandler(collect)
    report["warnings"] = [m for m in collect.messages]
    if doc is None:
        report["error"] = f"cannot read {file}: no text in it"
        return report
    meta = doc.metadata
    blocks = [b.strip() for b in PARAGRAPH_BREAK.split(doc.text) if b.strip()]
    report.update({"doc_id": doc.doc_id, "title": doc.title, "authors": doc.authors, "publication": doc.publication,
                   "date": doc.date, "format": meta.get("format", file.suffix.lstrip(".").lower()),
                   "pages": meta.get("pages"), "ocr_pages": meta.get("ocr_pages", []),
                   "page_labels": meta.get("page_labels", []), "paragraphs": len(blocks),
                   "first_paragraphs": blocks[:paragraphs]})
    report["warnings"] += [w for w in meta.get("warnings", []) if w not in report["warnings"]]
    return report
