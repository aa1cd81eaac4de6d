"""Scanned pages through Tesseract: rendered by PDFium, read offline, reflowed like any PDF page."""

from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["read_page", "OcrResult", "tesseract_available", "INSTALL_HINT"]

INSTALL_HINT = "install Tesseract to read scanned pages (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
# Tesseract's own guidance: 300 dpi is where its accuracy levels off.
_DPI = 300


@dataclass
class OcrResult:
    paragraphs: list[str] = field(default_factory=list)
    warning: str = ""


@functools.lru_cache(maxsize=1)
def tesseract_available() -> bool:
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract

        return "eng" in pytesseract.get_languages(config="")
    except Exception:  # a broken install counts as none
        return False


def read_page(file: Path, index: int) -> OcrResult:
    """OCR page ``index`` (0-based) of a PDF; a warning instead of text when Tesseract is missing."""
    if not tesseract_available():
        return OcrResult(warning=f"page {index + 1} has no usable text layer; {INSTALL_HINT}")
    import pypdfium2
    import pytesseract

    from qa.ingest.pdf import join_lines

    document = pypdfium2.PdfDocument(str(file), password="")
    try:
        image = document[index].render(scale=_DPI / 72, grayscale=True).to_pil()
    finally:
        document.close()
    text = pytesseract.image_to_string(image, lang="eng")
    # Tesseract separates blocks and paragraphs with blank lines; lines inside one are a paragraph.
    paragraphs = [join_lines(block.splitlines()) for block in re.split(r"\n\s*\n", text)]
    return OcrResult(paragraphs=[p for p in (re.sub(r"\s+", " ", p).strip() for p in paragraphs)
                                 if sum(ch.isalnum() for ch in p) >= 2])
