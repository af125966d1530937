"""SIGKILL `vo run` at chosen and at random points, resume, and find exactly what an uninterrupted run leaves."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.reliability.harness import (
    TALLY,
    assert_nothing_lost,
    fault_hits,
    run_vo,
    scaled,
    start_vo,
    wait_for_work,
)

# Where a kill hurts: during a download, mid HDF5 write (written, not yet fsynced or renamed), mid DB
# batch (files written, transaction not committed), just after a commit, and during a histogram write.
POINTS = ("download.source", "hdf5.before_fsync", "hdf5.before_rename", "db.before_commit", "db.after_commit",
          "netcdf.before_fsync", "netcdf.before_rename")
SEEDS = range(scaled(3, 21))


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_twice_then_resumed_equals_an_uninterrupted_run(seed, reference, module_database, tmp_path):
    rng = random.Random(seed)
    hits = fault_hits(reference["log"])
    assert all(hits[p] for p in POINTS), hits  # every point is reached by a whole run
    config, data, url = reference["config"], tmp_path / "data", module_database()

    # 1. A kill at the N-th hit of a point (the points in turn, N drawn over the whole run).
    point = POINTS[seed % len(POINTS)]
    nth = rng.randint(1, hits[point])
    killed = run_vo("run", str(config), "--download-threads", "2", data=data, url=url, VO_FAULT=f"{point}:{nth}")
    assert killed.returncode == -signal.SIGKILL, f"seed {seed}: {point}:{nth} did not kill: {killed.stderr}"
    TALLY["kills at fault points"] += 1

    # 2. A kill at a random moment of the resumed run's work (anywhere, inside writes included).
    log = tmp_path / "faults.log"
    process = start_vo("run", str(config), "--download-threads", "2", data=data, url=url, VO_FAULT_LOG=str(log))
    if wait_for_work(log, process):
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=300)
    if process.returncode == -signal.SIGKILL:
        TALLY["kills at random moments"] += 1

    # 3. Resume to the end: the same rows, arrays and histograms, no orphan file, no row without its data.
    done = run_vo("run", str(config), "--download-threads", "2", data=data, url=url)
    assert done.returncode == 0, f"seed {seed}: {done.stderr}"
    assert_nothing_lost(reference["snapshot"], config, data, url, f"seed {seed} ({point}:{nth})")
    TALLY["crash seeds resumed"] += 1
