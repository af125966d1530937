"""Per-module mutation scores from a ``mutmut run`` (``make test-mutation`` prints them after the run).

Reads the ``mutants/**/*.py.meta`` files that mutmut 3 writes (``exit_code_by_key``: mutant name ->
pytest's exit code) and prints one Markdown row per module, ready for tests/README.md:
mutants, killed, survived, timeout, no tests, not run, and the score ``killed / (mutants - not run)``
(a timeout counts as killed, as mutmut counts it).

Usage: ``python tests/mutation_report.py [mutants]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py): 1 and 3 a failing test, 0 all passed, 5 and 33 no test ran it.
_KILLED = {1, 3}
_SURVIVED = {0}
_TIMEOUT = {24, -24, 36, 152, 255}
_NO_TESTS = {5, 33}


def module_counts(meta: Path) -> dict[str, int]:
    """Return the counts of one module's mutants by outcome (``None``: not run yet)."""
    codes = json.loads(meta.read_text())["exit_code_by_key"].values()
    counts = {"mutants": 0, "killed": 0, "survived": 0, "timeout": 0, "no tests": 0, "not run": 0, "other": 0}
    for code in codes:
        counts["mutants"] += 1
        key = ("not run" if code is None else "killed" if code in _KILLED else "survived" if code in _SURVIVED
               else "timeout" if code in _TIMEOUT else "no tests" if code in _NO_TESTS else "other")
        counts[key] += 1
    return counts


def score(counts: dict[str, int]) -> float:
    """Killed (timeouts included) over the mutants that were run, in per cent."""
    run = counts["mutants"] - counts["not run"]
    return 100.0 * (counts["killed"] + counts["timeout"]) / run if run else float("nan")


def main(root: str = "mutants") -> int:
    metas = sorted(Path(root).rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}/: run `make test-mutation` first")
        return 1
    print("| module | mutants | killed | survived | timeout | no tests | not run | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total: dict[str, int] = {}
    for meta in metas:
        counts = module_counts(meta)
        if not counts["mutants"]:
            continue
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        module = str(meta.relative_to(root))[: -len(".meta")]
        print(f"| {module} | {counts['mutants']} | {counts['killed']} | {counts['survived']} | {counts['timeout']} "
              f"| {counts['no tests']} | {counts['not run']} | {score(counts):.1f} % |")
    if total:
        print(f"| **all** | {total['mutants']} | {total['killed']} | {total['survived']} | {total['timeout']} "
              f"| {total['no tests']} | {total['not run']} | {score(total):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
