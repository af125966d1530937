"""Benchmark: cost of persistence and of a no-op rerun, as ratios to an in-memory baseline.

Run ``python benchmarks/run_demo_scaling.py [N]`` (default N=1000). In one process it times:

* baseline: download + reduce + analyse (cuts, finder, summaries, histograms) of N demo sources
  in memory (no database, no files);
* full: ``Project.run`` over the same sources on real PostgreSQL (``VO_DATABASE_URL`` or the
  embedded server in a temporary folder) and real HDF5 files;
* rerun: ``Project.run`` again, which must skip everything.

It prints a Markdown row to append to ``benchmarks/results.md``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.catalogs.demo import write_demo_catalog  # noqa: E402
from virtualobserver.adapters.container import SURVEYS, open_project  # noqa: E402
from virtualobserver.domain.analysis.analysis import Analysis  # noqa: E402


def main(n: int = 1000) -> None:
    work = Path(tempfile.mkdtemp(prefix="vo-bench-"))
    os.environ.setdefault("VO_DATA", str(work / "data"))
    write_demo_catalog(work / "catalog.csv", rows=n, seed=3)
    config = work / "bench.yaml"
    config.write_text(f"project: {{name: bench, batch_size: 100}}\ncatalog: {{path: {work / 'catalog.csv'}}}\n")

    container, project = open_project(config, workers=1)
    survey = project.config.surveys[0]
    client = SURVEYS["demo"](survey.download)
    sources = project.catalog_reader.read(project.config.catalog).sources("bench")

    start = time.perf_counter()
    detections = 0
    analysis = Analysis(survey.analysis, survey.quality, survey.histograms)
    histograms = analysis.new_histograms()
    for source in sources:
        lightcurves = client.reduce(client.download(source), survey.reduction)
        detections += analysis.analyse_source(source, lightcurves, "demo", "baseline", histograms)[1].num_detections
    baseline = time.perf_counter() - start

    try:
        start = time.perf_counter()
        report = project.run()
        full = time.perf_counter() - start
        start = time.perf_counter()
        again = project.run()
        rerun = time.perf_counter() - start
    finally:
        container.database().close()
        shutil.rmtree(work, ignore_errors=True)
    assert report.stages["analyse"].products == detections, "persisted run must find what the baseline found"
    assert again.did_nothing
    print(f"| {time.strftime('%Y-%m-%d')} | {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()} | {n} | {baseline:.2f} s | {full:.2f} s | {full / baseline:.2f} | "
          f"{rerun:.2f} s | {rerun / full:.3f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
