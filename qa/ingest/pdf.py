"""PDF reports as prose: layout-aware reading order, reflowed paragraphs, no running heads, OCR for scans.

pdfminer.six (the layout engine under pdfplumber) groups characters into lines and lines into
boxes; everything after that is ours, because the choices that make text read as prose are
about documents, not about glyphs:

- boxes are put in reading order by bands (a full-width box starts a new band) and, inside a
  band, by columns (boxes whose x-ranges overlap), so two- and three-column pages read down
  each column in turn;
- lines repeated at the same place on many pages (running heads, footers, print stamps) and
  lone page numbers are dropped;
- text in a smaller font than the page's body (footnotes, captions) is moved after the body
  of its page, so it never lands inside a sentence;
- lines are joined into paragraphs, with breaks where the layout shows one (a new box, an
  indented first line, a short last line ending a sentence, a change of font size); a word
  hyphenated at a line end is rejoined unless the document writes it with a hyphen elsewhere;
- ligatures and other presentation forms are normalised ("ﬁ" -> "fi"), and spacing accents
  that a PDF draws as separate glyphs ("e´") are composed ("é").

Pages without a usable text layer are read by Tesseract (see ``qa/ingest/ocr.py``).
"""

from __future__ import annotations

import logging
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import CorpusError
from qa.ingest.lexicon import known_words

__all__ = ["read_pdf", "PdfPage", "text_quality", "join_lines", "normalize_glyphs"]

logger = logging.getLogger(__name__)

# A line repeated on at least this share of pages (and on 3 pages or more) at about the same
# height is a running head, footer or stamp, not content.
_REPEAT_SHARE = 0.4
# Margin zones (share of page height) where a lone page number or short repeated line is furniture.
_MARGIN = 0.1
# Below this share of dictionary words a text layer is garbage (a bad OCR layer, a broken font map):
# prose on the real-docs PDFs scores 0.80-0.96 a page, the bad OCR layer of a scanned memo 0.68.
MIN_TEXT_QUALITY = 0.75
# Spacing accents drawn as glyphs of their own, and the combining marks they stand for.
_SPACING_ACCENTS = {"\u00b4": "\u0301", "\u0060": "\u0300", "\u00a8": "\u0308", "\u02c6": "\u0302",
                    "\u005e": "\u0302", "\u02dc": "\u0303", "\u007e": "\u0303", "\u00b8": "\u0327",
                    "\u02da": "\u030a", "\u02c7": "\u030c", "\u00af": "\u0304"}
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—\s]*(?:\d{1,4}|[ivxlcdm]{1,6})[-–—\s]*(?:(?:of|/)\s*\d{1,4})?$", re.I)
# Footnotes sit in the lowest part of a page; smaller text higher up is an abstract or a sidebar.
_FOOTNOTE_ZONE = 0.7
_CAPTION = re.compile(r"^(?:fig(?:ure)?\.?|table|chart|exhibit|source:)\s*\d*", re.I)
# Glyphs that fonts without a Unicode map give for ligatures: NUL, and TeX's ff slot read as "↵".
_UNMAPPED_LIGATURE = {"\x00", "\u21b5"}
_LIGATURES = ("ff", "fi", "fl", "ffi", "ffl")
_DOT_LEADER = re.compile(r"(?:\s*\.){4,}\s*")
_CID = re.compile(r"\(cid:\d+\)")
_END_OF_SENTENCE = re.compile(r"[.!?:;\"”’)\]]$")


def normalize_glyphs(text: str) -> str:
    """Ligatures and other presentation forms to plain letters; control characters and unmapped glyphs dropped."""
    out = []
    for ch in text:
        code = ord(ch)
        # Alphabetic presentation forms (ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ), small and full-width forms.
        if 0xFB00 <= code <= 0xFB4F or 0xFE50 <= code <= 0xFE6F or 0xFF01 <= code <= 0xFF5E:
            out.append(unicodedata.normalize("NFKC", ch))
        elif ch in _UNMAPPED_LIGATURE:
            out.append("\ufffd")  # repaired per document by _repair_ligatures
        elif ch == "\u00ad" or (unicodedata.category(ch) == "Cc" and ch not in "\n\t"):
            continue  # soft hyphens are line-break hints; NUL is a glyph the PDF never mapped to a letter
        else:
            out.append(ch)
    return _CID.sub("", "".join(out))


def _repair_ligatures(text: str) -> str:
    """Put back the ligature an unmapped glyph stood for: the one that makes a word the document or a dictionary knows."""
    if "\ufffd" not in text:
        return text
    seen = Counter(w.casefold() for w in re.findall(r"[^\W\d_]+", text))
    known = known_words()

    def repair(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        for ligature in sorted(_LIGATURES, key=lambda l: -seen[(head + l + tail).casefold()]):
            word = (head + ligature + tail).casefold()
            if seen[word] or word in known:
                return head + ligature + tail
        return head + tail

    return re.sub(r"([^\W\d_]*)\ufffd([^\W\d_]*)", repair, text)


def text_quality(text: str) -> float:
    """Share of words that are dictionary words: ~0.8-0.9 for prose, far lower for a garbage text layer.

    Tokens without a letter (numbers, dot leaders) are left out: they say nothing either way.
    """
    known = known_words()
    # Lower-case words only: capitalised ones are often names, which no dictionary holds.
    every = [w.casefold() for w in re.findall(r"[^\W\d_]+", text) if len(w) > 1]
    words = [w for w in every if w.islower()] or every  # a cover in capitals has no lower-case word
    if not words:
        return 0.0
    return sum(1 for w in words if w in known) / len(words)


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class Box:
    lines: list[Line]
    x0: float = 0.0
    x1: float = 0.0
    top: float = 0.0
    bottom: float = 0.0

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        if self.lines:
            self.x0 = min(l.x0 for l in self.lines)
            self.x1 = max(l.x1 for l in self.lines)
            self.top = min(l.top for l in self.lines)
            self.bottom = max(l.bottom for l in self.lines)

    @property
    def size(self) -> float:
        sizes = [l.size for l in self.lines for _ in range(max(1, len(l.text)))]
        return statistics.median(sizes) if sizes else 0.0


@dataclass
class PdfPage:
    number: int  # 1-based
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    ocr: bool = False


def _line_text(line: Any) -> tuple[str, float]:
    """The text of a pdfminer line with spacing accents composed, and its median glyph size."""
    from pdfminer.layout import LTChar

    pieces: list[str] = []
    sizes: list[float] = []
    previous = None
    for item in line:
        text = item.get_text()
        if isinstance(item, LTChar):
            if not item.upright:
                continue  # rotated margin stamps (arXiv ids, "Downloaded from…")
            sizes.append(round(item.size, 1))
            mark = _SPACING_ACCENTS.get(text)
            if mark and previous is not None and pieces and pieces[-1].isalpha() \
                    and item.x0 < previous.x1 + 0.5 and item.x1 > previous.x0 - 0.5:
                pieces[-1] = unicodedata.normalize("NFC", pieces[-1] + mark)
                continue
            previous = item
        if text == "\n":
            continue
        pieces.append(text)
    text = _DOT_LEADER.sub(" … ", normalize_glyphs("".join(pieces)))
    return re.sub(r"\s+", " ", text).strip(), (statistics.median(sizes) if sizes else 0.0)


def _layout_pages(file: Path) -> list[PdfPage]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextBoxHorizontal, LTTextLineHorizontal

    # pdfminer warns on every PDF whose permissions forbid extraction, which a reader may ignore; keep errors.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    pages = []
    # boxes_flow=None: we order boxes ourselves (bands and columns), pdfminer's flow order mixes columns.
    params = LAParams(line_margin=0.5, char_margin=2.0, word_margin=0.1, boxes_flow=None)
    for number, layout in enumerate(extract_pages(str(file), password="", laparams=params), 1):
        page = PdfPage(number=number, width=float(layout.width), height=float(layout.height))
        for element in layout:
            if not isinstance(element, LTTextBoxHorizontal):
                continue
            lines = []
            for line in element:
                if not isinstance(line, LTTextLineHorizontal):
                    continue
                text, size = _line_text(line)
                if text:
                    lines.append(Line(text, float(line.x0), float(line.x1), page.height - float(line.y1),
                                      page.height - float(line.y0), size))
            if lines:
                page.boxes.append(Box(sorted(lines, key=lambda l: (round(l.top), l.x0))))
        pages.append(page)
    return pages


def _signature(text: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"\d+", "#", text.casefold()))


def _remove_furniture(pages: list[PdfPage]) -> int:
    """Drop running heads, footers, stamps, page numbers and rule lines; return how many lines went."""
    seen: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for page in pages:
        for box in page.boxes:
            for line in box.lines:
                seen[_signature(line.text)].append((page.number, line.top / page.height))
    threshold = max(3, _REPEAT_SHARE * len(pages))
    repeated = set()
    for signature, places in seen.items():
        if len({p for p, _ in places}) < threshold:
            continue
        heights = Counter(round(y * 20) for _, y in places)  # same place: within 5% of the page height
        if heights.most_common(1)[0][1] >= threshold:
            repeated.add(signature)
    removed = 0
    for page in pages:
        kept_boxes = []
        for box in page.boxes:
            kept = []
            for line in box.lines:
                in_margin = line.top < _MARGIN * page.height or line.bottom > (1 - _MARGIN) * page.height
                alnum = sum(ch.isalnum() for ch in line.text)
                if (_signature(line.text) in repeated
                        or (in_margin and _PAGE_NUMBER.match(line.text))
                        or alnum < 2 or alnum < 0.3 * len(line.text.replace(" ", ""))):
                    removed += 1
                    continue
                kept.append(line)
            # A box of nothing but numbers is a column of line numbers (transcripts) or page numbers.
            if kept and all(re.fullmatch(r"[\d\s.]+", l.text) for l in kept) and (len(kept) >= 3 or all(
                    re.fullmatch(r"\d{1,3}", l.text) for l in kept)):
                removed += len(kept)
                continue
            if kept:
                box.lines = kept
                box.refresh()
                kept_boxes.append(box)
        page.boxes = kept_boxes
    return removed


def _body_size(pages: list[PdfPage]) -> float:
    sizes: Counter[float] = Counter()
    for page in pages:
        for box in page.boxes:
            for line in box.lines:
                sizes[round(line.size)] += len(line.text)
    return float(sizes.most_common(1)[0][0]) if sizes else 0.0


def _reading_order(page: PdfPage) -> list[Box]:
    """Bands separated by full-width boxes; inside a band, columns left to right, each top to bottom."""
    if not page.boxes:
        return []
    left = min(b.x0 for b in page.boxes)
    right = max(b.x1 for b in page.boxes)
    wide_at = 0.55 * (right - left)
    ordered: list[Box] = []
    band: list[Box] = []

    def flush() -> None:
        columns: list[list[Box]] = []
        for box in sorted(band, key=lambda b: b.x0):
            for column in columns:
                if box.x0 < max(b.x1 for b in column) - 2 and box.x1 > min(b.x0 for b in column) + 2:
                    column.append(box)
                    break
            else:
                columns.append([box])
        for column in sorted(columns, key=lambda c: min(b.x0 for b in c)):
            ordered.extend(sorted(column, key=lambda b: b.top))
        band.clear()

    for box in sorted(page.boxes, key=lambda b: (round(b.top), b.x0)):
        if box.x1 - box.x0 >= wide_at:
            flush()
            ordered.append(box)
        else:
            band.append(box)
    flush()
    return ordered


def _hyphen_vocabulary(pages: list[PdfPage]) -> tuple[Counter[str], set[str]]:
    """Words and hyphenated compounds written inside lines: evidence for rejoining line-end hyphens."""
    words: Counter[str] = Counter()
    compounds: set[str] = set()
    for page in pages:
        for box in page.boxes:
            for line in box.lines:
                for token in re.findall(r"[A-Za-zÀ-ÿ]+(?:-[A-Za-zÀ-ÿ]+)*", line.text[:-1] if line.text.endswith("-") else line.text):
                    if "-" in token:
                        compounds.add(token.casefold())
                    words[token.casefold()] += 1
    return words, compounds


def join_lines(lines: list[str], words: Counter[str] | None = None, compounds: set[str] | None = None) -> str:
    """Lines of one paragraph as one line of prose, with words hyphenated at line ends rejoined.

    A line-end hyphen between letters, followed by a lower-case letter, is a break ("em-" + "beddings");
    it is kept when the document writes the compound with a hyphen inside a line and never the joined word
    ("long-" + "term"), and always when the next line starts with a capital or a digit ("Lucene-" + "BM25").
    """
    words = words or Counter()
    compounds = compounds or set()
    text = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not text:
            text = line
            continue
        match = re.search(r"([A-Za-zÀ-ÿ]+)-$", text)
        next_word = re.match(r"[A-Za-zÀ-ÿ]+", line)
        if match and next_word and next_word.group(0)[0].islower():
            head, tail = match.group(1), next_word.group(0)
            joined = (head + tail).casefold()
            hyphenated = f"{head}-{tail}".casefold()
            if hyphenated in compounds and words[joined] == 0:
                text += line
            else:
                text = text[:-1] + line
        elif text.endswith("-") and match:
            text += line  # "Lucene-" + "BM25": a real hyphen, no space
        else:
            text += " " + line
    return text


def _paragraphs(page: PdfPage, body_size: float, words: Counter[str], compounds: set[str]) -> list[str]:
    body: list[list[str]] = []
    notes: list[list[str]] = []
    previous_box_open: bool | str = False
    for box in _reading_order(page):
        # Footnotes and captions (smaller than the body font) go after the page's body.
        smaller = bool(body_size) and box.size < body_size - 0.9
        if smaller and sum(len(line.text.split()) for line in box.lines) < 5 and not _CAPTION.match(box.lines[0].text):
            continue  # labels inside a figure or chart ("P = 0.626", axis ticks): not prose
        small = smaller and (box.top > _FOOTNOTE_ZONE * page.height or bool(_CAPTION.match(box.lines[0].text)))
        target = notes if small else body
        pitch = statistics.median([b.top - a.top for a, b in zip(box.lines, box.lines[1:])] or [box.size * 1.2])
        current: list[str] = []
        for i, line in enumerate(box.lines):
            if i == 0:
                continues = line.text[:1].islower() or (previous_box_open == "word" and line.text[:1].isalpha())
                if not small and previous_box_open and continues and body and body[-1]:
                    current = body.pop()  # a sentence continued from the previous column or box
                else:
                    current = []
            else:
                prev = box.lines[i - 1]
                gap = line.top - prev.top
                indented = line.x0 > box.x0 + max(1.0, 0.8 * line.size) and line.x0 > prev.x0 + 0.8 * line.size
                short_end = prev.x1 < box.x1 - 2.5 * max(line.size, 1) and _END_OF_SENTENCE.search(prev.text)
                size_change = abs(line.size - prev.size) > 0.9
                if gap > 1.6 * pitch or indented or short_end or size_change:
                    target.append(current)
                    current = []
            current.append(line.text)
        if current:
            target.append(current)
        if not small:
            last = current[-1] if current else ""
            # Open: the box ends mid-sentence. "word": it ends on a lower-case word or a comma, as a
            # sentence does and a heading does not, so the next box continues it even after a capital.
            previous_box_open = ("word" if re.search(r"(?:\b[a-z]+|,)$", last) and abs(box.size - body_size) < 0.6
                                 else bool(last) and not _END_OF_SENTENCE.search(last))
    return [p for p in (join_lines(lines, words, compounds) for lines in body + notes) if p]


def _page_labels(file: Path, count: int) -> tuple[list[str] | None, dict[str, Any]]:
    """Printed page labels where the PDF defines them, and the document information dictionary."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(file))
        if reader.is_encrypted:
            reader.decrypt("")  # already known to open with the empty password
        info = {k: str(v) for k, v in (reader.metadata or {}).items() if v is not None}
        created = reader.metadata.creation_date if reader.metadata else None
        if created is not None:
            info["/CreationDate"] = created.date().isoformat()
        root = reader.trailer["/Root"]
        labels = list(reader.page_labels) if "/PageLabels" in root else None
    except Exception as exc:  # metadata is a nicety; the text was read already
        logger.debug("no metadata from %s: %s", file, exc)
        return None, {}
    if labels is not None and (len(labels) != count or labels == [str(i) for i in range(1, count + 1)]):
        labels = None
    return labels, info


def read_pdf(file: Path) -> tuple[str, str, dict[str, Any]]:
    """Text of a PDF as paragraphs of prose, pages in order; metadata records where each page starts.

    Returns:
        ``(title, text, metadata)``; ``metadata["page_starts"]`` holds the offset of each page,
        ``page_labels`` the printed labels where the PDF defines them, ``ocr_pages`` the pages read by OCR.

    Raises:
        CorpusError: the PDF is damaged, or needs a password.
    """
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError

    from qa.ingest import ocr
    from qa.ingest.metadata import clean_authors, layout_title, looks_like_title

    try:
        pages = _layout_pages(file)
    except PDFPasswordIncorrect:
        raise CorpusError(f"cannot read {file}: the PDF is protected by a password; "
                          f"save an unprotected copy to index it") from None
    except PDFSyntaxError as exc:
        raise CorpusError(f"cannot read {file}: not a readable PDF ({exc})") from None
    removed = _remove_furniture(pages)
    body_size = _body_size(pages)
    words, compounds = _hyphen_vocabulary(pages)
    title_from_layout = layout_title(pages[0], body_size) if pages else ""
    ocr_pages: list[int] = []
    warnings: list[str] = []
    for page in pages:
        page.paragraphs = _paragraphs(page, body_size, words, compounds)
        layer = "\n".join(page.paragraphs)
        if text_quality(layer) >= MIN_TEXT_QUALITY and len(layer) > 20:
            continue
        result = ocr.read_page(file, page.number - 1)
        if result.warning:
            if result.warning not in warnings:
                warnings.append(result.warning)
            continue
        if result.paragraphs and text_quality("\n".join(result.paragraphs)) >= text_quality(layer):
            page.paragraphs, page.ocr = result.paragraphs, True
            ocr_pages.append(page.number)
    for warning in warnings:
        logger.warning("%s: %s", file, warning)

    text, page_starts = "", []
    for page in pages:
        body = "\n\n".join(page.paragraphs)
        if text and body:
            text += "\n\n"
        page_starts.append(len(text))
        text += body
    text = _repair_ligatures(text)
    labels, info = _page_labels(file, len(pages))
    meta_title = info.get("/Title", "").strip()
    title = meta_title if looks_like_title(meta_title, file) else title_from_layout
    metadata: dict[str, Any] = {"authors": clean_authors(info.get("/Author", "")), "date": info.get("/CreationDate", ""),
                                "page_starts": page_starts, "pages": len(pages), "format": "pdf"}
    if labels:
        metadata["page_labels"] = labels
    if ocr_pages:
        metadata["ocr_pages"] = ocr_pages
    if warnings:
        metadata["warnings"] = warnings
    metadata["furniture_lines_removed"] = removed
    return title, text, metadata
