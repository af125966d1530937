"""Where an end-to-end run's time goes: wall-clock timers around each step and its main parts.

Run ``python benchmarks/run_breakdown.py [N] [WORKLOAD]`` (default 5000 reference sources, see
``run_scale.py``). It runs ``Project.run`` on a fresh embedded PostgreSQL and data folder in a temporary
directory, with timers wrapped around the steps, the survey, the science, the file writes, the
database calls and Python's garbage collector, and prints seconds, milliseconds per source and the
share of the run for each. Parts nest (a step's line includes its parts'), so the shares do not add
up to 100 %. Timers cost well under a microsecond each; use py-spy for a finer picture.
"""

from __future__ import annotations

import collections
import functools
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TIMES: collections.Counter = collections.Counter()
_COLLECTOR: dict = {}


def _time_the_collector(phase: str, info: dict) -> None:
    # gc callback: the collector's seconds go to TIMES like a timed part.
    if phase == "start":
        _COLLECTOR["start"] = time.perf_counter()
    elif "start" in _COLLECTOR:
        TIMES["python: garbage collector"] += time.perf_counter() - _COLLECTOR.pop("start")


def _timed(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def _instrument() -> None:
    import virtualobserver.adapters.files.hdf5_store as hdf5
    import virtualobserver.adapters.files.netcdf_store as netcdf
    import virtualobserver.adapters.postgres.repository as rows
    import virtualobserver.adapters.postgres.science_repository as science_rows
    import virtualobserver.adapters.surveys.demo as demo
    import virtualobserver.domain.analysis.analysis as analysis
    import virtualobserver.domain.simulator as simulator
    import virtualobserver.services.batch_runner as runner
    import virtualobserver.services.simulate as simulate
    import virtualobserver.services.stages as stages

    for name in ("download_batch", "reduce_batch", "analyse_batch"):
        _timed(stages, name, f"step: {name}")
        setattr(runner, name, getattr(stages, name))  # the runner imported the names before the timers
    _timed(simulate, "simulate_batch", "step: simulate_batch")
    runner.simulate_batch = simulate.simulate_batch
    for owner, name, label in (
        (demo.VirtualDemoObs, "download_many", "survey: demo download"),
        (demo.VirtualDemoObs, "reduce", "science: reduce"),
        (analysis.Analysis, "analyse_sources", "science: analyse"),
        (analysis.Analysis, "fill_many", "science: histogram fill"),
        (simulate, "_references", "science: search the un-injected lightcurves"),
        (simulate, "_search", "science: search the injected copies"),
        (simulator.Simulator, "plan", "science: draw events"),
        (simulator.Simulator, "copies_many", "science: inject"),
        (hdf5.Hdf5DataStore, "save_raw_many", "files: raw"),
        (hdf5.Hdf5DataStore, "save_lightcurves_many", "files: lightcurves"),
        (hdf5.Hdf5DataStore, "save_epoch_scores_many", "files: epoch scores"),
        (netcdf.NetCdfHistogramStore, "save", "files: netCDF histogram parts"),
        (rows.SqlAlchemySourceRepository, "add_many", "rows: sources"),
        (rows.SqlAlchemyRawDataRepository, "add_many", "rows: raw data"),
        (rows.SqlAlchemyLightcurveRepository, "add_many", "rows: lightcurves"),
        (science_rows.SqlAlchemyInjectionRepository, "add_many", "rows: injections"),
        (science_rows.SqlAlchemySummaryRepository, "upsert_many", "rows: summaries"),
        (rows.SqlAlchemyStepRepository, "done", "bookkeeping: steps done?"),
        (rows.SqlAlchemyStepRepository, "mark_done", "bookkeeping: mark done"),
        (rows.SqlAlchemyStepRepository, "clear_failures", "bookkeeping: clear failures"),
    ):
        _timed(owner, name, label)


def server_cpu_seconds(folder: str) -> float:
    """CPU seconds used so far by the PostgreSQL server whose data lies under ``folder`` (its processes alive now).

    Read from ``/proc`` (Linux): the postmaster is the process whose command line names the folder, and
    its backends are its children. 0 where ``/proc`` is not available.
    """
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command)
    roots = {pid for pid, (_, _, command) in stats.items() if "postgres" in command and folder in command}
    return sum(cpu for pid, (parent, cpu, _) in stats.items() if pid in roots or parent in roots)


def main(n: int, workload: str) -> None:
    from run_scale import WORKLOADS

    with tempfile.TemporaryDirectory(prefix="vo-breakdown-") as work:
        os.environ["VO_DATA"] = f"{work}/data"
        os.environ.pop("VO_DATABASE_URL", None)
        _instrument()
        from virtualobserver.adapters.catalogs.demo import write_demo_catalog
        from virtualobserver.adapters.container import open_project

        write_demo_catalog(Path(work) / "catalog.csv", rows=n, seed=3)
        (Path(work) / "p.yaml").write_text(WORKLOADS[workload].replace("CATALOG", f"{work}/catalog.csv"))
        container, project = open_project(Path(work) / "p.yaml", workers=1)
        try:
            project.status()  # start the server and migrate before timing
            server = server_cpu_seconds(work)
            gc.callbacks.append(_time_the_collector)
            start, cpu = time.perf_counter(), time.process_time()
            project.run()
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            gc.callbacks.remove(_time_the_collector)
            server = server_cpu_seconds(work) - server
        finally:
            container.database().close()
    print(f"{workload}, {n} sources: {elapsed:.2f} s, {n / elapsed:.0f} sources/s; CPU time of this process "
          f"{cpu:.2f} s ({n / cpu:.0f} sources per CPU second), of the PostgreSQL server {server:.2f} s")
    for label, seconds in sorted(TIMES.items()):
        print(f"{label:40s} {seconds:7.2f} s {1e3 * seconds / n:7.3f} ms/source {100 * seconds / elapsed:5.1f} %")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, sys.argv[2] if len(sys.argv) > 2 else "reference")
