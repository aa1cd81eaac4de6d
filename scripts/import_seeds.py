"""Turn the five seed articles (as received, with web clutter) into corpus/*.md.

Run once: ``python scripts/import_seeds.py ../shared/seeds corpus``. The article
text is kept verbatim; only header lines that become front matter (title, byline,
publication line, date line) and web clutter (navigation, view counters,
"Visit also", the staff-publications list, sign-up lines, trailing site names)
are dropped. Metadata a source does not give stays empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

# Per seed: output name, metadata, the header lines moved into front matter,
# and the clutter to drop. Lines are matched exactly (after stripping) so that
# nothing else in an article can be removed by accident.
SEEDS = {
    "000_2ebb4a098e1ea3f9.txt": {
        "name": "edm-v3-i165-nazarbayev-visit-to-us",
        "meta": {"title": "", "authors": [], "publication": "Eurasia Daily Monitor",
                 "date": "", "volume": "3", "issue": "165"},
        "drop": ["Publication: Eurasia Daily Monitor Volume: 3 Issue: 165"],
    },
    "001_cc69a9d21d154b52.txt": {
        "name": "edm-v2-i160-kazakhstan-sco-us-military-presence",
        "meta": {"title": "", "authors": [], "publication": "Eurasia Daily Monitor",
                 "date": "", "volume": "2", "issue": "160"},
        "drop": ["Publication: Eurasia Daily Monitor Volume: 2 Issue: 160"],
    },
    "002_113a3e4673165339.txt": {
        "name": "weitz-2013-toward-a-new-kazakhstan-us-partnership",
        "meta": {"title": "Toward A New Kazakhstan-U.S. Partnership", "authors": ["Richard Weitz"],
                 "publication": "CACI Analyst", "date": "2013-03-20", "volume": "", "issue": "",
                 "section": "Analytical Articles", "published_online": "2013-03-27"},
        "drop": ["Wednesday, 27 March 2013", "Toward A New Kazakhstan-U.S. Partnership",
                 "Published in Analytical Articles",
                 "by Richard Weitz (03/20/2013 issue of the CACI Analyst)"],
        # Everything from this line on is site furniture: view counter, "Visit
        # also", the staff publications list, the site blurb and a sign-up line.
        "cut_from": "Read 12471 times Last modified on Wednesday, 27 March 2013",
    },
    "003_c77fcf0846267fb2.txt": {
        "name": "kazakhstan-and-the-usa-bilateral-cooperation",
        "meta": {"title": "Kazakhstan and the USA: Current State and Prospects for Bilateral Cooperation",
                 "authors": [], "publication": "", "date": "", "volume": "", "issue": ""},
        "drop": ["Kazakhstan and the USA: Current State and Prospects for Bilateral Cooperation"],
    },
    "004_6f5ae6959e350ef1.txt": {
        "name": "wagner-costa-2011-kazakhstans-balancing-act",
        # The page prints "04.07.2011"; the copy comes from a European site that
        # writes dates day-first, so this is 4 July 2011. The printed form is kept.
        "meta": {"title": "Kazakhstan’s Balancing Act", "authors": ["Daniel Wagner", "Luca Costa"],
                 "publication": "Foreign Policy Journal", "date": "2011-07-04",
                 "date_as_printed": "04.07.2011", "volume": "", "issue": ""},
        "drop": ["Home", "Kazakhstan’s Balancing Act", "By Daniel Wagner and Luca Costa",
                 "> Kazakhstan Map", "Foreign Policy Journal", "04.07.2011"],
        "strip_phrases": [" Read more articles by Daniel Wagner."],
    },
}


def clean(raw: str, spec: dict) -> str:
    text = raw.replace("\r\n", "\n")
    if "cut_from" in spec:
        text = text[: text.index(spec["cut_from"])]
    for phrase in spec.get("strip_phrases", []):
        text = text.replace(phrase, "")
    drop = set(spec["drop"])
    kept = [line for line in text.split("\n") if line.strip() not in drop]
    # Collapse the blank runs left behind into single blank lines between paragraphs.
    paragraphs, current = [], []
    for line in kept:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs) + "\n"


def main(seeds: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for filename, spec in SEEDS.items():
        body = clean((seeds / filename).read_text(encoding="utf-8"), spec)
        meta = dict(spec["meta"], source_file=filename)
        header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        (out / f"{spec['name']}.md").write_text(f"---\n{header}---\n{body}", encoding="utf-8")
        print(f"wrote {spec['name']}.md ({len(body)} chars)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
