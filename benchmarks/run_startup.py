"""Benchmark: wall time of ``vo --help`` and ``vo status --json CONFIG``, this tree against another (issue 18).

Run ``python benchmarks/run_startup.py CONFIG [OTHER_TREE] [RUNS]`` with ``VO_DATA`` (and ``VO_DATABASE_URL``, if
not the embedded server) pointing at a data folder where CONFIG has been run. Each command runs RUNS times
(default 5) with this repository on ``PYTHONPATH`` and, given OTHER_TREE (e.g. ``git archive COMMIT | tar -x
-C DIR``), as many times with that tree, alternating the two so both see the same machine load. Prints the
median and the spread of the wall times, the ratio, and the load average before and after, as Markdown rows
for ``benchmarks/results.md``. Both trees are byte-compiled first (``compileall``), as an installed wheel is:
with ``PYTHONDONTWRITEBYTECODE`` set, a source tree would compile every module from source on every start.
"""

from __future__ import annotations

import compileall
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VO = [sys.executable, "-c", "import sys; from virtualobserver.adapters.cli.main import main; sys.exit(main())"]


def wall(tree: Path, args: list[str]) -> float:
    """Seconds for one ``vo ARGS`` run with ``tree`` first on the import path (its exit code must be 0)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run([*VO, *args], cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"vo {' '.join(args)} failed in {tree}: {done.stderr.strip()}")
    return seconds


def main(config: str, other: Path | None, runs: int) -> None:
    trees = {"this": REPO} if other is None else {"before": other, "this": REPO}
    commands = {"vo --help": ["--help"], "vo status --json": ["status", "--json", str(Path(config).resolve())]}
    for tree in trees.values():
        for layer in ("virtualobserver", "domain", "services", "adapters", "tui"):
            compileall.compile_dir(tree / layer, quiet=1)
    load_before = os.getloadavg()
    times = {(c, t): [] for c in commands for t in trees}
    for command, args in commands.items():
        for tree in trees.values():
            wall(tree, args)  # warm the file cache and the bytecode of both trees
        for _ in range(runs):
            for name, tree in trees.items():
                times[command, name].append(wall(tree, args))
    load_after = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average (1, 5, 15 min) before "
          f"{', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)}")
    print("| command | " + " | ".join(f"{t} median (min-max of {runs})" for t in trees)
          + (" | before/this |" if other else " |"))
    print("|---|" + "---|" * len(trees) + ("---|" if other else ""))
    for command in commands:
        cells = [f"{statistics.median(times[command, t]):.2f} s ({min(times[command, t]):.2f}-"
                 f"{max(times[command, t]):.2f})" for t in trees]
        ratio = (f" | {statistics.median(times[command, 'before']) / statistics.median(times[command, 'this']):.1f}x"
                 if other else "")
        print(f"| `{command}` | " + " | ".join(cells) + ratio + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else None,
         int(sys.argv[3]) if len(sys.argv) > 3 else 5)
