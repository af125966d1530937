"""The sample of science-core mutants that ``make test-mutation`` runs (tests/README.md, "Mutation testing").

All 5,592 mutants of the science core take several hours on 2 cores; a sample of them fits in an hour and
estimates the whole core's score with a stated interval (``tests/mutation_report.py``). The sample is

- **deterministic**: a mutant is chosen by a stable hash (SHA-256) of its name, never by chance or by the
  order mutmut runs them in, so two runs of the same code pick the same mutants;
- **stratified** by source file with proportional allocation: in each file the ``round(fraction * n)``
  mutants (at least one) whose hashes rank lowest, so each file weighs in the sample as in the core and
  the sample's score estimates the core's without weights.

The fraction is :data:`DEFAULT_FRACTION`, overridden by the environment variable ``MUTATION_SAMPLE``
(``MUTATION_SAMPLE=1``: every mutant).

Usage::

    python -m tests.mutation.sample [--all] [GLOB ...]

generates the mutants (mutmut's own generation step, the first one of ``mutmut run``; unchanged files are
skipped) and prints the names of the sampled mutants that have no result yet, one a line, narrowed to
those matching a ``GLOB`` (``MUTANTS=...`` of ``make test-mutation``). ``--all``: every sampled mutant,
run or not (to run them again).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
from pathlib import Path

#: Share of each file's mutants in the sample: 1/16, about 350 of 5,592, which runs in about half an hour
#: of the hour on 2 cores after mutmut's stats and clean runs (tests/README.md, "Mutation testing").
DEFAULT_FRACTION = 1 / 16
MUTANTS = Path("mutants")


def fraction() -> float:
    """The sample fraction: ``MUTATION_SAMPLE`` if set, else :data:`DEFAULT_FRACTION`."""
    text = os.environ.get("MUTATION_SAMPLE", "").strip()
    value = float(text) if text else DEFAULT_FRACTION
    if not 0 < value <= 1:
        raise SystemExit(f"MUTATION_SAMPLE={text}: a fraction in (0, 1] is needed")
    return value


def _rank(name: str) -> str:
    # Hashed without the package's prefix: the sample stays the one drawn before the code moved under
    # virtualobserver/ (mutants were named domain.statistics.x_..., not virtualobserver.domain.statistics.x_...).
    return hashlib.sha256(name.removeprefix("virtualobserver.").encode()).hexdigest()


def sampled(names: list[str], share: float) -> list[str]:
    """The sampled names of one stratum (one file's mutants): the lowest-ranked ``round(share * n)``, at least 1."""
    if share >= 1 or not names:
        return sorted(names)
    size = max(1, round(share * len(names)))
    return sorted(sorted(names, key=_rank)[:size])


def results(root: Path = MUTANTS) -> dict[str, dict[str, int | None]]:
    """Each mutated file's mutants and their exit codes (None: not run), from mutmut's ``*.py.meta`` files."""
    return {str(meta.relative_to(root))[: -len(".meta")]: json.loads(meta.read_text())["exit_code_by_key"]
            for meta in sorted(root.rglob("*.py.meta"))}


def sample(root: Path = MUTANTS, share: float | None = None) -> dict[str, dict[str, int | None]]:
    """The sampled mutants of each file with their exit codes."""
    share = fraction() if share is None else share
    out = {}
    for module, codes in results(root).items():
        out[module] = {name: codes[name] for name in sampled(list(codes), share)}
    return out


def generate() -> None:
    """Write the mutants as ``mutmut run`` does first (its generation step; unchanged files are kept)."""
    from mutmut.__main__ import (
        copy_also_copy_files,
        copy_src_dir,
        create_mutants,
        set_mutant_under_test,
        setup_source_paths,
        store_lines_covered_by_tests,
    )

    set_mutant_under_test("mutant_generation")
    MUTANTS.mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    store_lines_covered_by_tests()
    create_mutants(os.cpu_count() or 2)


def package_name(glob: str) -> str:
    """A mutant-name glob within the package: ``domain.statistics*`` is ``virtualobserver.domain.statistics*``.

    mutmut names mutants by their path under ``virtualobserver/`` (``[tool.mutmut]``), so every name starts with
    the package's; the layer's name alone is enough on the command line.
    """
    return glob if glob.startswith(("virtualobserver.", "*")) else f"virtualobserver.{glob}"


def main(argv: list[str]) -> int:
    rerun = "--all" in argv
    globs = [package_name(arg) for arg in argv if arg != "--all"]
    # mutmut prints each file it mutates: keep stdout for the names.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        generate()
    finally:
        sys.stdout = stdout
    for codes in sample().values():
        for name, code in codes.items():
            if (rerun or code is None) and (not globs or any(fnmatch.fnmatch(name, g) for g in globs)):
                print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
