"""Benchmark: peak memory of a run does not grow with the catalog (sources stream through in batches).

Run ``python benchmarks/run_memory_flatness.py [N_SMALL] [N_LARGE]`` (default 500 and 4000). Each size
runs in a fresh child process (so peak RSS is its own) on the embedded PostgreSQL in a temporary
folder, with simulation off. Prints a Markdown row for ``benchmarks/results.md``: peak RSS of both and
their ratio, which stays near 1 when memory is flat (it would approach N_LARGE/N_SMALL if every source
were kept in memory).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from virtualobserver.adapters.container import open_project
work, n = sys.argv[2], int(sys.argv[3])
write_demo_catalog(f"{work}/catalog.csv", rows=n, seed=5)
with open(f"{work}/p.yaml", "w") as f:
    f.write(f"project: {{name: mem, batch_size: 100}}\ncatalog: {{path: {work}/catalog.csv}}\n")
container, project = open_project(f"{work}/p.yaml", workers=1)
start = time.perf_counter()
try:
    report = project.run()
finally:
    container.database().close()
print(json.dumps({"n": n, "seconds": time.perf_counter() - start, "analysed": report.stages["analyse"].done,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="vo-mem-") as work:
        env = {**os.environ, "VO_DATA": f"{work}/data"}
        env.pop("VO_DATABASE_URL", None)
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO), work, str(n)], env=env,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def main(small: int = 500, large: int = 4000) -> None:
    a, b = measure(small), measure(large)
    assert a["analysed"] == small and b["analysed"] == large
    print(f"| {time.strftime('%Y-%m-%d')} | {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()} | {small} / {large} | {a['peak_rss_mb']:.0f} MB / {b['peak_rss_mb']:.0f} MB | "
          f"{b['peak_rss_mb'] / a['peak_rss_mb']:.2f} | {a['seconds']:.1f} s / {b['seconds']:.1f} s | "
          f"{(b['seconds'] / large) / (a['seconds'] / small):.2f} |")


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:3]))
