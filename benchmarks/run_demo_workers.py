"""Benchmark: `vo run configs/demo.yaml` end to end with --workers 1 against 2 (auto on this machine).

Run ``python benchmarks/run_demo_workers.py [REPEATS]`` (default 2) from the repository. Each run gets a
fresh data folder whose embedded PostgreSQL was started and migrated beforehand (``vo status``, not
timed), then ``vo run configs/demo.yaml --workers N`` is timed from start to exit: the whole demo
(1,278 sources: download, reduce, analyse, 4 injections per source), including the start of the
Dask cluster for N > 1. Configurations alternate so that a neighbour's load falls on both; the load
average is read before and after each run. Prints Markdown rows for ``benchmarks/results.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _vo(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "VO_DATA": str(data), "PYTHONPATH": str(REPO)}
    env.pop("VO_DATABASE_URL", None)
    env.pop("VO_WORKERS", None)
    return subprocess.run([sys.executable, "-m", "virtualobserver.adapters.cli.main", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True)


def _once(workers: str) -> tuple[float, tuple, tuple]:
    with tempfile.TemporaryDirectory(prefix="vo-demo-workers-") as folder:
        data = Path(folder) / "data"
        _vo("status", "configs/demo.yaml", data=data)  # the server's first start and migrations: not timed
        before = os.getloadavg()
        start = time.perf_counter()
        _vo("run", "configs/demo.yaml", "--workers", workers, data=data)
        seconds = time.perf_counter() - start
        return seconds, before, os.getloadavg()


def main(repeats: int = 2) -> None:
    """Time the demo with 1 and 2 workers, alternating, and print the rows."""
    best: dict[str, float] = {}
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"| date | workers | seconds | load average before (1, 5, 15 min) | after | cores {os.cpu_count()} |")
    print("|---|---|---|---|---|---|")
    for _ in range(repeats):
        for workers in ("1", "2"):
            seconds, before, after = _once(workers)
            best[workers] = min(best.get(workers, float("inf")), seconds)
            print(f"| {stamp} | {workers} | {seconds:.1f} s | {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} "
                  f"| {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} |", flush=True)
    print(f"\nbest: 1 worker {best['1']:.1f} s, 2 workers {best['2']:.1f} s: {best['1'] / best['2']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
