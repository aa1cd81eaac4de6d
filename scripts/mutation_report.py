"""Kill rate per module from mutmut's results: one line per module, `<module>: killed K of N`.

    python scripts/mutation_report.py [--survivors]

Reads mutants/qa/**/*.py.meta (written by `mutmut run`). A mutant is killed when the tests failed on it
(exit code other than 0) or ran past their time limit; it survives when they passed; mutants not
run (no test covers the function, or the run was stopped) count as survivors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# How mutmut records a mutant's outcome: the test run's exit code; 0 means the tests passed on the mutant.
SURVIVED = {0, None, 5}  # 5: pytest collected no test for it


def main() -> int:
    show_survivors = "--survivors" in sys.argv
    metas = sorted(Path("mutants/qa").rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/qa; run `mutmut run` first", file=sys.stderr)
        return 1
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        survivors = sorted(k for k, code in codes.items() if code in SURVIVED)
        # A mutant that runs past its time limit (SIGXCPU, exit -24) is killed, as mutmut scores it. mutmut
        # sends it for CPU time over ten times the tests' estimate, and also for wall time over five times:
        # on a busy machine the wall limit fires for mutants the tests would have killed or not, so run
        # mutation testing on an idle machine and re-run timeouts (`mutmut run NAME...`) when in doubt.
        timeouts = sum(1 for code in codes.values() if code == -24)
        not_run = sum(1 for code in codes.values() if code is None)
        notes = [f"{timeouts} by timeout"] * bool(timeouts) + [f"{not_run} not run"] * bool(not_run)
        print(f"{meta.name.removesuffix('.py.meta')}: killed {len(codes) - len(survivors)} of {len(codes)}"
              + (f" ({', '.join(notes)})" if notes else ""))
        if show_survivors:
            for name in survivors:
                print(f"    survived: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
