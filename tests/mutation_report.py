"""Per-module mutation scores of the sampled mutants (``make test-mutation`` prints them after the run).

Reads the ``mutants/**/*.py.meta`` files that mutmut 3 writes (``exit_code_by_key``: mutant name ->
pytest's exit code), keeps the mutants of the sample (``tests/mutation/sample.py``; ``MUTATION_SAMPLE=1``:
all) and prints one Markdown row per module, ready for tests/README.md: mutants in the module, sampled,
killed, survived, timeout, no tests, not run, and the score ``killed / (sampled - not run)`` (a timeout
counts as killed, as mutmut counts it; a mutant no test runs counts as a survivor). Under the table: the
score of the sample and its exact (Clopper-Pearson) 95 % interval for the score of all the mutants, the
sample being a stratified, proportional one (each file's share of the sample is its share of the core).

Usage: ``python tests/mutation_report.py [mutants]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.mutation.sample import fraction, sample  # noqa: E402

# mutmut's exit codes (mutmut/stats.py): 1 and 3 a failing test, 0 all passed, 5 and 33 no test ran it.
_KILLED = {1, 3}
_SURVIVED = {0}
_TIMEOUT = {24, -24, 36, 152, 255}
_NO_TESTS = {5, 33}


def module_counts(codes) -> dict[str, int]:
    """Return the counts of one module's mutants by outcome (``None``: not run yet)."""
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


def interval(killed: int, run: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion, in per cent."""
    if not run:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low = beta.ppf(tail, killed, run - killed + 1) if killed else 0.0
    high = beta.ppf(1 - tail, killed + 1, run - killed) if killed < run else 1.0
    return 100.0 * low, 100.0 * high


def main(root: str = "mutants") -> int:
    share = fraction()
    chosen = sample(Path(root), share)
    if not chosen:
        print(f"no mutmut results under {root}/: run `make test-mutation` first")
        return 1
    print("| module | mutants | sampled | killed | survived | timeout | no tests | not run | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total: dict[str, int] = {}
    everything = 0
    for module, codes in chosen.items():
        counts = module_counts(codes.values())
        if not counts["mutants"]:
            continue
        size = len(json.loads((Path(root) / f"{module}.meta").read_text())["exit_code_by_key"])
        everything += size
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        print(f"| {module} | {size} | {counts['mutants']} | {counts['killed']} | {counts['survived']} "
              f"| {counts['timeout']} | {counts['no tests']} | {counts['not run']} | {score(counts):.1f} % |")
    if total:
        print(f"| **all** | {everything} | {total['mutants']} | {total['killed']} | {total['survived']} "
              f"| {total['timeout']} | {total['no tests']} | {total['not run']} | {score(total):.1f} % |")
        run = total["mutants"] - total["not run"]
        killed = total["killed"] + total["timeout"]
        low, high = interval(killed, run)
        print(f"\nsample fraction {share:g} of {everything} mutants: {run} sampled mutants run, {killed} killed: "
              f"score {score(total):.1f} %, 95 % interval for all {everything} mutants {low:.1f}-{high:.1f} %"
              + (f" ({total['not run']} sampled mutants not run yet)" if total["not run"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
