"""Benchmark: end-to-end throughput, the compute-only floor, resume, peak memory and bytes on disk.

Run ``python benchmarks/run_scale.py WORKLOAD N [N ...]`` with WORKLOAD ``reference`` or ``realistic``:

* **reference**: per source 100 epochs evenly spaced over MJD 57000-58000, one filter, mean mag 18
  with errors 0.09-0.11, exptime 30 s, no flags or events, no latency, one injection per source;
* **realistic**: 3 filters x ~300 epochs in yearly seasons, flagged epochs, flares and dips, the
  matched filter on, one injection per source.

For each N, a fresh child process (so peak RSS is its own) on a fresh embedded PostgreSQL and data
folder times ``Project.run`` (download, reduce, analyse, simulate; ``end_to_end``), then the same run
again on the finished project (``resume``), and measures the bytes under the data folder's
product folders against the raw column bytes (rows x stored row size of the raw tables). Another
child times the **compute-only floor**: the same reduce + analyse + simulate of the same sources
on arrays in memory, batch by batch with the functions the pipeline's steps call (downloads made
beforehand, not timed), no rows and no files.
Prints one Markdown row per N for ``benchmarks/results.md``.
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

WORKLOADS = {
    "reference": """
project: {name: bench, batch_size: 1000}
catalog: {path: CATALOG}
observatories:
  simulation: {enabled: true, injections_per_source: 1}
  demo:
    download: {cadence: even, magerr_range: [0.09, 0.11], filters: [g], num_points: 100, mjd_start: 57000.0,
               duration_days: 1000.0, flag_fraction: 0.0, flare_fraction: 0.0, dip_fraction: 0.0, exptimes: [30.0]}
""",
    "realistic": """
project: {name: bench, batch_size: 200}
catalog: {path: CATALOG}
observatories:
  quality: {bad_flag_mask: 32768, max_offset_sigma: 5.0, max_chi: 4.0}
  analysis: {widths_days: [2.0, 8.0]}
  simulation: {enabled: true, injections_per_source: 1}
  demo:
    download: {filters: [g, r, i], num_points: 900, duration_days: 1000.0}
""",
}

END_TO_END = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from virtualobserver.adapters.container import open_project
from virtualobserver.adapters.files.batch_tables import to_table
work, n, config_text = Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
write_demo_catalog(work / "catalog.csv", rows=n, seed=3)
(work / "p.yaml").write_text(config_text.replace("CATALOG", str(work / "catalog.csv")))
container, project = open_project(work / "p.yaml", workers=1)
try:
    project.status()  # start the server and migrate before timing
    start = time.perf_counter()
    report = project.run()
    end_to_end = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    again = project.run()
    resume = time.perf_counter() - start
    assert again.did_nothing, again.as_dict()
    from sqlalchemy import text
    with container.database().engine.connect() as c:
        epochs = c.execute(text("SELECT sum(num_epochs) FROM raw_data")).scalar()
        raw = c.execute(text("SELECT file, key FROM raw_data LIMIT 1")).first()
    from virtualobserver.adapters.files.batch_tables import read_tables
    row_bytes = to_table(read_tables(work / "data", raw[0], [raw[1]], "raw")[0]).itemsize
    on_disk = {top: sum(f.stat().st_size for f in (work / "data" / top).rglob("*") if f.is_file())
               for top in ("raw", "projects", "analysis", "histograms")}
finally:
    container.database().close()
print(json.dumps({"n": n, "end_to_end": end_to_end, "resume": resume, "peak_rss_mb": rss,
                  "analysed": report.stages["analyse"].done, "raw_bytes": int(epochs) * row_bytes,
                  "on_disk": on_disk}))
"""

FLOOR = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.domain.analysis.analysis import Analysis, summarise_many
from virtualobserver.domain.analysis.finder import find_events_many
from virtualobserver.domain.recovery import reference_of
from virtualobserver.domain.simulator import Simulator
work, n, config_text = Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
write_demo_catalog(work / "catalog.csv", rows=n, seed=3)
(work / "p.yaml").write_text(config_text.replace("CATALOG", str(work / "catalog.csv")))
config = load_config(work / "p.yaml", survey_parameters={k: c.parameters_class for k, c in SURVEYS.items()})
survey = config.surveys[0]
client = SURVEYS["demo"](survey.download)
sources = FileCatalogReader().read(config.catalog).sources("bench")
raws = [client.download(s) for s in sources]
start = time.perf_counter()
analysis = Analysis(survey.analysis, survey.quality, survey.histograms)
simulator = Simulator(survey.simulation)
histograms = analysis.new_histograms()
detections = 0
# The science of the pipeline's steps, batch by batch, as they run it (no rows, no files).
for first in range(0, n, config.batch_size):
    batch = list(zip(sources[first:first + config.batch_size], raws[first:first + config.batch_size]))
    reduced = [(source, client.reduce(raw, survey.reduction)) for source, raw in batch]
    results = analysis.analyse_many([lc for _, lightcurves in reduced for lc in lightcurves])
    grouped, at = [], 0
    for source, lightcurves in reduced:
        grouped.append((source, results[at:at + len(lightcurves)]))
        at += len(lightcurves)
    summarise_many(grouped, survey.name, "floor")
    detections += sum(len(r.detections) for r in results)
    analysis.fill_many(histograms, results)
    # Simulation as the simulate step runs it, for the whole batch: the un-injected results are the
    # reference; every copy is searched in one pass, reusing its original's scores.
    made = []
    for s, ((_, lightcurves), (_, mine)) in enumerate(zip(reduced, grouped)):
        refs = [reference_of(r.lightcurve.mjds, r.scores, r.detections, r.lightcurve.exptime) for r in mine]
        plans = simulator.plan(lightcurves, refs, s)
        made.append((plans, refs, mine, simulator.copies(lightcurves, refs, plans)))
    copies = [(plans_index, p, i, c) for plans_index, (_, _, _, cs) in enumerate(made) for p, i, c in cs]
    found = find_events_many([c for *_, c in copies], survey.analysis,
                             [made[k][2][i].quality for k, _, i, _ in copies],
                             [(made[k][2][i].lightcurve, made[k][2][i].scores) for k, _, i, _ in copies])
    by_plan = {}
    for (k, p, i, _), (_, dets) in zip(copies, found):
        by_plan.setdefault((k, p), {})[i] = dets
    for k, (plans, refs, _, _) in enumerate(made):
        for p, plan in enumerate(plans):
            simulator.outcome(plan, by_plan.get((k, p), {}), refs)
print(json.dumps({"n": n, "floor": time.perf_counter() - start, "detections": detections}))
"""


def _child(script: str, n: int, workload: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="vo-scale-") as work:
        env = {**os.environ, "VO_DATA": f"{work}/data"}
        env.pop("VO_DATABASE_URL", None)
        done = subprocess.run([sys.executable, "-c", script, str(REPO), work, str(n), WORKLOADS[workload]],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])


def _versions() -> str:
    import h5py
    import numpy
    import sqlalchemy

    return f"Python {platform.python_version()}, numpy {numpy.__version__}, h5py {h5py.__version__}, " \
           f"SQLAlchemy {sqlalchemy.__version__}, PostgreSQL 18 (embedded)"


def main(workload: str, sizes: list[int]) -> None:
    print("| date | machine | workload | N | end to end | sources/s | compute-only floor | end to end / floor "
          "| resume | peak RSS | on disk / raw column bytes |")
    for n in sizes:
        run, floor = _child(END_TO_END, n, workload), _child(FLOOR, n, workload)
        assert run["analysed"] == n
        disk = sum(run["on_disk"].values())
        print(f"| {time.strftime('%Y-%m-%d')} | {platform.machine()}, {os.cpu_count()} cores | {workload} | {n} "
              f"| {run['end_to_end']:.1f} s | {n / run['end_to_end']:.0f} | {floor['floor']:.1f} s "
              f"({n / floor['floor']:.0f}/s) | {run['end_to_end'] / floor['floor']:.2f} | {run['resume']:.2f} s "
              f"| {run['peak_rss_mb']:.0f} MB | {disk / n / 1024:.1f} KB/source, {disk / run['raw_bytes']:.2f}x |",
              flush=True)
    # Where the bytes are: on disk / raw column bytes per product folder (the last N), after the table.
    print("\non disk / raw column bytes by folder: " + ", ".join(
        f"{top} {size / run['raw_bytes']:.2f}x" for top, size in run["on_disk"].items()))
    print(f"versions: {_versions()}; command: python benchmarks/run_scale.py {workload} "
          f"{' '.join(map(str, sizes))}")


if __name__ == "__main__":
    main(sys.argv[1], [int(x) for x in sys.argv[2:]] or [1000])
