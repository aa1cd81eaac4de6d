"""Kill rate per module from mutmut's results: one line per module, `<module>: killed K of N`.

    python scripts/mutation_report.py [--survivors]

Reads mutants/qa/*.py.meta (written by `mutmut run`). A mutant is killed when the tests failed on it
(exit code other than 0), or timed out; it survives when they passed; "not run" mutants (no test
covers the function) count as survivors, since no test would notice them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# How mutmut records a mutant's outcome: the test run's exit code; 0 means the tests passed on the mutant.
SURVIVED = {0, None, 5}  # 5: pytest collected no test for it


def main() -> int:
    show_survivors = "--survivors" in sys.argv
    metas = sorted(Path("mutants/qa").glob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/qa; run `mutmut run` first", file=sys.stderr)
        return 1
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        survivors = sorted(k for k, code in codes.items() if code in SURVIVED)
        print(f"{meta.name.removesuffix('.py.meta')}: killed {len(codes) - len(survivors)} of {len(codes)}")
        if show_survivors:
            for name in survivors:
                print(f"    survived: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
