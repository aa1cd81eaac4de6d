"""The records that flow through the pipeline: documents, chunks and hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Document", "Chunk", "Hit"]


@dataclass(frozen=True)
class Document:
    """One article: its text exactly as indexed, and its metadata.

    ``metadata`` holds title-independent fields such as ``authors`` (a list),
    ``publication``, ``date`` (ISO 8601, possibly partial), ``volume``, ``issue``
    and anything else the source carried.
    """

    doc_id: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def authors(self) -> list[str]:
        return list(self.metadata.get("authors") or [])

    @property
    def publication(self) -> str:
        return str(self.metadata.get("publication") or "")

    @property
    def date(self) -> str:
        return str(self.metadata.get("date") or "")


@dataclass(frozen=True)
class Chunk:
    """A passage: a run of whole sentences of one document.

    ``document.text[char_start:char_end] == text`` always holds.
    """

    chunk_id: str
    doc_id: str
    text: str
    char_start: int
    char_end: int
    position: int  # 0-based order of the chunk within its document
    page: int | None = None  # 1-based page where the chunk starts, for paged sources (PDF)


@dataclass(frozen=True)
class Hit:
    """One ranked passage with its citation and why it ranked where it did."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    title: str
    text: str
    char_start: int
    char_end: int
    citation: str
    bm25_rank: int | None
    dense_rank: int | None
