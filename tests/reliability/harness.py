"""Helpers of the reliability suite: a small project, `vo` under faults, and the checks "nothing lost"."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers LZ4, the filter of batch tables
from sqlalchemy import create_engine, text

from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.adapters.files.data_folder import ProductFolder
from virtualobserver.adapters.postgres.doctor_records import SqlRecordIndex
from virtualobserver.adapters.postgres.engine import make_engine
from virtualobserver.services.doctor import Doctor
from tests.e2e.helpers import REPO, vo_command, vo_env, write_project
from tests.e2e.test_kill_resume import assert_same, merged_parts, run_rows

__all__ = ["FULL", "scaled", "small_project", "run_vo", "start_vo", "pipe_vo", "doctor_check",
           "assert_nothing_lost", "fault_hits", "assert_same", "snapshot", "TALLY", "copy_run", "sql_rows"]

#: ``VO_RELIABILITY=full`` runs the full counts (`make test-reliability`); the default is a fast subset.
FULL = os.environ.get("VO_RELIABILITY", "").lower() == "full"

#: Figures of the suite, printed at the end of the session (see conftest.py) and copied into README.md.
TALLY: Counter = Counter()


def _read(data: Path, file: str, key: str) -> dict:
    # Whole datasets (one file per source) or rows "t0[start:stop]" of a batch file.
    match = re.match(r"^(.+)\[(\d+):(\d+)\]$", key)
    with h5py.File(data / file) as f:
        table = f[match[1]][int(match[2]):int(match[3])] if match else f[key][()]
    return {name: table[name] for name in table.dtype.names}


def snapshot(url: str, data: Path) -> dict:
    """Row counts, detections and injections by meaning, every array and the merged histograms of a run.

    Arrays are read through the rows that point at them (whatever the file layout); epoch-score
    files, which no row may name, are read whole, by path.
    """
    found = run_rows(url)
    arrays = {("lc", name, band, season): _read(data, file, key)
              for name, band, season, file, key in found["lightcurves"]}
    arrays.update({("raw", name): _read(data, file, key) for name, file, key in found["raws"]})
    for path in sorted(data.glob("analysis/**/*.h5")):
        with h5py.File(path) as f:
            for name in f:
                table = f[name][()]
                arrays[("scores", str(path.relative_to(data)), name)] = {k: table[k] for k in table.dtype.names}
    return {"counts": found["counts"], "detections": [tuple(r) for r in found["detections"]],
            "injections": [tuple(r) for r in found["injections"]], "arrays": arrays,
            "histograms": merged_parts(data, found["parts"])}


def scaled(default: int, full: int) -> int:
    """Return ``full`` under ``VO_RELIABILITY=full``, else ``default``."""
    return full if FULL else default


def small_project(folder: Path, *, rows: int = 24, batch_size: int = 6, extra: str = "") -> Path:
    """A demo project that exercises every stage (simulation on) in a few seconds; return its YAML path."""
    return write_project(folder, rows=rows, batch_size=batch_size, num_points=60,
                         extra="  simulation: {enabled: true, injections_per_source: 2}\n" + extra)


def _env(data: Path, url: str | None, **extra: str) -> dict:
    env = vo_env(data, url)
    env.pop("VO_FAULT", None)
    env.pop("VO_FAULT_LOG", None)
    env.update(extra)
    return env


def run_vo(*args: str, data: Path, url: str | None, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run ``vo ARGS`` to completion with extra environment variables (``VO_FAULT``...)."""
    return subprocess.run(vo_command(*args), env=_env(data, url, **env), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def start_vo(*args: str, data: Path, url: str | None, **env: str) -> subprocess.Popen:
    """Start ``vo ARGS`` in the background (output discarded)."""
    return subprocess.Popen(vo_command(*args), env=_env(data, url, **env), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def pipe_vo(*args: str, data: Path, url: str | None, **env: str) -> subprocess.Popen:
    """Start ``vo ARGS`` in the background with stdout and stderr as pipes (bytes)."""
    return subprocess.Popen(vo_command(*args), env=_env(data, url, **env), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def fault_hits(log: Path) -> Counter:
    """Count the fault points a run hit (from its ``VO_FAULT_LOG``)."""
    return Counter(log.read_text().split()) if log.exists() else Counter()


def wait_for_work(log: Path, process: subprocess.Popen, timeout: float = 60) -> bool:
    """Wait until the process hit its first fault point (it is past start-up); False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.stat().st_size:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def doctor_check(config: Path, data: Path, url: str):
    """Return the doctor's report (checking only) on a project's database and data folder."""
    project = load_config(config, survey_parameters={n: c.parameters_class for n, c in SURVEYS.items()})
    engine = make_engine(url)
    try:
        return Doctor(project, lambda: SqlRecordIndex(engine), ProductFolder(data)).check()
    finally:
        engine.dispose()


def assert_nothing_lost(reference: dict, config: Path, data: Path, url: str, label: str = "", *,
                        same_batches: bool = True) -> None:
    """The database and files equal the reference run's, with no orphan file and no row missing its data.

    With ``same_batches=False`` (sources that failed and were retried later fall in other batches),
    the number of histogram parts and the epoch-score batch files may differ; their sums may not.
    """
    report = doctor_check(config, data, url)
    assert report.healthy, f"{label}: " + "; ".join(f.line() for f in report.findings)
    assert not (data / "quarantine").exists() or not list((data / "quarantine").rglob("*"))
    resumed = snapshot(url, data)
    if not same_batches:
        reference, resumed = _batch_free(reference), _batch_free(resumed)
    assert_same(reference, resumed)


def _batch_free(shot: dict) -> dict:
    # Epoch scores re-keyed by source and lightcurve (from their batch file's index), parts not counted.
    arrays = {k: v for k, v in shot["arrays"].items() if k[0] != "scores"}
    arrays["scores"] = {"n": sum(len(v.get("snr", ())) for k, v in shot["arrays"].items() if k[0] == "scores")}
    counts = {k: v for k, v in shot["counts"].items() if k != "histogram_parts"}
    return {**shot, "arrays": arrays, "counts": counts}


def copy_run(reference: dict, folder: Path, new_database) -> tuple[Path, str]:
    """A finished run like the reference: its data folder copied to ``folder/data``, its database cloned.

    ``new_database`` is a factory of empty databases (the ``module_database`` fixture).
    """
    data = folder / "data"
    shutil.copytree(reference["data"], data)
    url = new_database()
    source, target = create_engine(reference["url"]).url.database, create_engine(url).url.database
    admin = create_engine(create_engine(url).url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{target}"'))
            connection.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
    finally:
        admin.dispose()
    return data, url


def sql_rows(url: str, sql: str) -> list[tuple]:
    """Return the rows of a (constant) SQL query on the database at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql))]
    finally:
        engine.dispose()
