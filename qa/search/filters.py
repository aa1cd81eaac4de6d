"""Filters on document metadata (publication, author, doc id, date range), applied before the top-k cut."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from qa.errors import InvalidArgumentError
from qa.records import Document

__all__ = ["FILTER_KEYS", "document_matches", "check_date"]

FILTER_KEYS = ("publication", "author", "doc_id", "since", "until")


def document_matches(doc: Document, filters: Mapping[str, Any]) -> bool:
    """Whether ``doc`` passes every filter; text comparisons ignore case."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise InvalidArgumentError(f"unknown filter {sorted(unknown)[0]!r}; use {', '.join(FILTER_KEYS)}")

    def wanted(key: str) -> list[str]:
        value = filters.get(key)
        values = [value] if isinstance(value, str) else list(value or [])
        return [str(v).strip().casefold() for v in values if str(v).strip()]

    if (ids := filters.get("doc_id")) and doc.doc_id not in ([ids] if isinstance(ids, str) else list(ids)):
        return False
    if (publications := wanted("publication")) and doc.publication.casefold() not in publications:
        return False
    if (authors := wanted("author")) and not any(a.casefold() in authors for a in doc.authors):
        return False
    since, until = check_date(filters.get("since"), "since"), check_date(filters.get("until"), "until")
    if since or until:
        if not doc.date:
            return False
        # A partial date ("2011", "2011-07") covers a span: it passes if any day of it is in range.
        latest = doc.date + "-12-31"[len(doc.date) - 4:] if len(doc.date) < 10 else doc.date
        earliest = doc.date + "-01-01"[len(doc.date) - 4:] if len(doc.date) < 10 else doc.date
        if since and latest[:10] < since:
            return False
        if until and earliest[:10] > until:
            return False
    return True


def check_date(value: Any, name: str) -> str:
    if value in (None, ""):
        return ""
    text = str(value)
    for fmt, pad in (("%Y-%m-%d", ""), ("%Y-%m", "-01"), ("%Y", "-01-01")):
        try:
            dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if name == "until" and pad:  # "until 2013" means through the end of 2013
            return text + ("-12-31" if pad == "-01-01" else "-31")
        return text + pad
    raise InvalidArgumentError(f"{name} of {text!r} is not a date; write it as YYYY-MM-DD, YYYY-MM or YYYY")


