"""Titles and authors a reader would write: file metadata is checked, not trusted; empty beats wrong."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from qa.ingest.pdf import PdfPage

__all__ = ["looks_like_title", "clean_authors", "is_person_name", "layout_title"]

# Titles that tools write when the author wrote none.
_PLACEHOLDER_TITLES = {"untitled", "word document", "document", "microsoft word", "title", "pdf", "no title",
                       "slide 1", "presentation", "new document", "untitled document", "blank"}
_TOOL_PREFIX = re.compile(r"^(?:microsoft\s+(?:word|powerpoint|excel)|untitled)\s*[-–:]", re.I)
_FILE_NAME = re.compile(r"\.(?:pdf|docx?|odt|rtf|txt|tiff?|jpe?g|png|exe|indd|qxd|e?ps|html?|xlsx?|pptx?)$", re.I)
_NUMBERS_ONLY = re.compile(r"^[\s\d.,:;/()\-–—]*(?:pp?\.?)?[\s\d.,:;/()\-–—]*$", re.I)
# Words that make a byline an organisation or a job, not a person. These describe bylines in general
# (wire services, desks, roles), so they hold for any archive.
_NOT_A_NAME = {
    "press", "news", "agency", "agencies", "staff", "editorial", "editors", "editor", "desk", "team", "reporters",
    "reporter", "service", "services", "wire", "media", "network", "group", "board", "committee", "office",
    "department", "ministry", "council", "institute", "university", "association", "inc", "ltd", "llc", "corp",
    "company", "foundation", "centre", "center", "bureau", "times", "post", "journal", "daily", "herald",
    "tribune", "magazine", "writer", "writers", "correspondent", "columnist", "contributor", "researcher",
    "director", "professor", "fellow", "analyst", "senior", "principal", "chief", "president", "secretary",
    "manager", "officer", "associate", "assistant", "author", "authors", "admin", "administrator", "unknown",
    "anonymous", "user", "owner", "national", "security", "international", "political", "affairs", "special",
    "contributing", "managing", "executive", "deputy", "head", "lead", "research", "science", "health",
}
_PARTICLES = {"van", "von", "de", "da", "del", "der", "den", "la", "le", "di", "du", "bin", "ibn", "al", "el", "y", "dos", "das"}
_NAME_TOKEN = re.compile(r"^(?:[A-ZÀ-ÖØ-Þ][\w'’\-]*\.?|[A-ZÀ-ÖØ-Þ]\.(?:[A-Z]\.)*)$")


def looks_like_title(title: str, file: Path | None = None) -> bool:
    """Whether a title from file metadata could be a real title (not a file name, placeholder or page range)."""
    title = title.strip()
    letters = sum(ch.isalpha() for ch in title)
    if letters < 3 or len(title) > 300 or _NUMBERS_ONLY.match(title):
        return False
    if title.casefold() in _PLACEHOLDER_TITLES or _TOOL_PREFIX.match(title) or _FILE_NAME.search(title):
        return False
    if file is not None and title.casefold() in {file.stem.casefold(), file.name.casefold()}:
        return False
    if " " not in title and ("_" in title or re.search(r"\d", title)):
        return False  # "SoriaComas_iDP-R2", "00463065": identifiers, not titles
    return letters >= 0.5 * len(title.replace(" ", ""))


def is_person_name(name: str) -> bool:
    """Two to five capitalised words (initials and particles allowed), none of them a job or an organisation."""
    tokens = name.split()
    if not 2 <= len(tokens) <= 5 or re.search(r"\d", name):
        return False
    real = [t for t in tokens if t.casefold() not in _PARTICLES]
    if len(real) < 2:
        return False
    for token in real:
        if token.strip(".,").casefold() in _NOT_A_NAME or not _NAME_TOKEN.match(token):
            return False
    return True


def clean_authors(raw: str | Iterable[str] | None) -> list[str]:
    """Person names from a byline: roles and affiliations stripped, organisations left out.

    "Richard Weitz, Senior Fellow" -> ["Richard Weitz"]; "By Ann Lee and Bo Chan" -> both;
    "Editorial", "Staff", "News agencies" -> []. A segment that is not a name is dropped, never guessed at,
    so a sentence is never split on "and" into names.
    """
    if raw is None:
        return []
    parts = [raw] if isinstance(raw, str) else [str(r) for r in raw]
    names: list[str] = []
    for part in parts:
        part = re.sub(r"^\s*(?:by|written by|von|par)\s+", "", part.strip(), flags=re.I)
        for segment in re.split(r"\s*(?:[;,|/•·]|\band\b|&|\bwith\b)\s*", part):
            segment = re.sub(r"\s+", " ", segment).strip(" .:-–—")
            if segment.isupper() and len(segment) > 3:
                segment = segment.title()
            if is_person_name(segment) and segment not in names:
                names.append(segment)
    return names


def layout_title(page: "PdfPage", body_size: float) -> str:
    """The largest text near the top of the first page, joined across its lines; "" when nothing stands out."""
    lines = [line for box in page.boxes for line in box.lines if line.top < 0.5 * page.height]
    if not lines:
        return ""
    largest = max(line.size for line in lines)
    if largest < body_size + 1.5:
        return ""  # nothing set larger than the body: no title on the page
    lines.sort(key=lambda l: (l.top, l.x0))
    picked = []
    for line in lines:
        if line.size >= largest - 0.6:
            if picked and line.top - picked[-1].bottom > 1.5 * largest:
                break  # another block of large text further down
            picked.append(line)
        elif picked:
            break
    title = re.sub(r"\s+", " ", " ".join(l.text for l in picked)).strip()
    from qa.ingest.pdf import MIN_TEXT_QUALITY, text_quality

    # A garbage text layer (a bad OCR layer under a scan) has large text too; it is no title.
    return title if looks_like_title(title) and text_quality(title) >= MIN_TEXT_QUALITY else ""
