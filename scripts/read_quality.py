"""How cleanly PDFs are read: words broken at line ends, furniture and ligatures left, titles, pages per second.

    python scripts/read_quality.py ../shared/real-docs [--json]

Furniture is counted with the strings that ../shared/real-docs/README.md names for each file (running
heads, footers, stamps), so the figure is comparable between readers; titles are checked against the
hand-written list below, where "" means the right title is none.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import time
from pathlib import Path

FURNITURE = {
    "ieee-individual-dp-2col.pdf": ["IEEE TRANSACTIONS ON INFORMATION FORENSICS AND SECURITY"],
    "irs-i1040nr-2007.pdf": ["The type and rule above prints on all proofs", "7:48 - 6-DEC-2007"],
    "nature-mentorship-2col.pdf": ["Macmillan Publishers Limited. All rights reserved"],
    "layoutparser-aes-encrypted.pdf": ["arXiv:2103.15348v2"],
    "cancer-council-breast-guide.pdf": [],
    "scotus-transcript-p1.pdf": ["Alderson Reporting Company"],
    "scanned-asx-agm-notice.pdf": [],
    "sugar-memo-bad-ocr.pdf": [],
}
TITLES = {
    "ieee-individual-dp-2col.pdf": "Individual Differential Privacy: A Utility-Preserving Formulation of Differential Privacy Guarantees",
    "irs-i1040nr-2007.pdf": "2007 Instruction 1040-NR",
    "nature-mentorship-2col.pdf": "The role of mentorship in protégé performance",
    "layoutparser-aes-encrypted.pdf": "LayoutParser: A Unified Toolkit for Deep Learning Based Document Image Analysis",
    "cancer-council-breast-guide.pdf": "Understanding Breast Cancer",
    "scotus-transcript-p1.pdf": "",
    "scanned-asx-agm-notice.pdf": "",
    "sugar-memo-bad-ocr.pdf": "",
}
LIGATURES = "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"


def measure(folder: Path, reader_module: str) -> list[dict]:
    read_pdf = importlib.import_module(reader_module).read_pdf
    rows = []
    for name in FURNITURE:
        file = folder / name
        started = time.perf_counter()
        try:
            title, text, meta = read_pdf(file)
            error = ""
        except Exception as exc:  # the old reader refused encrypted files
            title, text, meta, error = "", "", {}, str(exc).splitlines()[0]
        seconds = time.perf_counter() - started
        pages = len(meta.get("page_starts", [])) or 0
        rows.append({
            "file": name, "error": error, "pages": pages, "seconds": round(seconds, 2),
            "pages_per_s": round(pages / seconds, 2) if pages else 0.0, "ocr_pages": len(meta.get("ocr_pages", [])),
            # A letter, a hyphen, a line or paragraph break (or the space it became), a lower-case letter.
            "broken_words": len(re.findall(r"[a-z]-(?:\s*\n\s*|\s)[a-z]", text)),
            "furniture_left": sum(text.count(s) for s in FURNITURE[name]),
            "ligatures_left": sum(text.count(ch) for ch in LIGATURES),
            "title_right": title.strip() == TITLES[name],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--reader", default="qa.ingest.pdf", help="module with read_pdf (to compare readers)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args.folder, args.reader)
    if args.json:
        print(json.dumps(rows))
        return
    keys = ["file", "pages", "ocr_pages", "broken_words", "furniture_left", "ligatures_left", "title_right", "pages_per_s", "error"]
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    text_only = [r for r in rows if not r["ocr_pages"] and r["pages"]]
    ocr = [r for r in rows if r["ocr_pages"]]
    for label, group in (("text layer only", text_only), ("with OCR", ocr)):
        if group:
            print(f"\n{label}: {sum(r['pages'] for r in group) / sum(r['seconds'] for r in group):.1f} pages/s "
                  f"over {sum(r['pages'] for r in group)} pages")
    print(f"titles right: {sum(r['title_right'] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
