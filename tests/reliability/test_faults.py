"""Faults: a full disk, a database restarted mid-run, a server left by a killed run, corrupt files, a failing archive."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from virtualobserver.adapters.postgres.processes import process_alive
from tests.http_server import Reply
from tests.reliability.harness import (
    TALLY,
    assert_nothing_lost,
    doctor_check,
    fault_hits,
    run_vo,
    scaled,
    snapshot,
    start_vo,
    wait_for_work,
)


@pytest.mark.parametrize("point", ["hdf5.before_fsync", "netcdf.before_fsync", "hdf5.before_rename"])
def test_a_full_disk_stops_the_run_with_one_line_and_a_rerun_finishes(point, reference, module_database, tmp_path):
    config, data, url = reference["config"], tmp_path / "data", module_database()
    nth = random.Random(point).randint(1, fault_hits(reference["log"])[point])
    full = run_vo("run", str(config), data=data, url=url, VO_FAULT=f"{point}:{nth}:enospc")
    assert full.returncode == 1, full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("vo:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], full.stderr
    assert (".h5'" if point.startswith("hdf5") else ".nc'") in errors[0], errors  # names the file
    # Nothing half-written: no temporary file, and every file there reads whole.
    assert not [p for p in data.rglob("*") if ".vo-tmp-" in p.name]
    report = doctor_check(config, data, url)
    assert all(f.kind == "orphan" for f in report.findings), [f.line() for f in report.findings]

    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    assert_nothing_lost(reference["snapshot"], config, data, url, f"ENOSPC at {point}:{nth}")
    TALLY["fault: disk full (ENOSPC)"] += 1


def test_the_database_restarted_mid_run_is_reconnected_and_the_run_goes_on(reference, tmp_path):
    server = EmbeddedPostgres(tmp_path / "server")
    try:
        server.start()
        server.create_database("project")
        url = server.url("project")
        config, data, log = reference["config"], tmp_path / "data", tmp_path / "faults.log"
        # A slow download stretches each batch's open transaction, so the restart cuts one.
        process = start_vo("run", str(config), "--set", "observatories.demo.download.latency=0.1",
                           data=data, url=url, VO_FAULT_LOG=str(log))
        assert wait_for_work(log, process)
        time.sleep(1.0)
        server.restart()
        restarted_at = sum(fault_hits(log).values())
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert restarted_at < sum(fault_hits(log).values()), "the restart came after the run's work"
        # The run met the restart: in a batch's transaction ("retrying the batch") or, between batches, in
        # the project lock's session ("taking the project lock again"); either way it reconnected.
        assert "database connection lost" in stderr, "the run never met the restart: this test proved nothing"
        assert_nothing_lost(reference["snapshot"], config, data, url, "after a restart")
        TALLY["fault: database restarted mid-run"] += 1
    finally:
        server.stop()


def test_an_embedded_server_left_by_a_killed_run_is_cleaned_up(reference, tmp_path):
    config, data = reference["config"], tmp_path / "data"
    killed = run_vo("run", str(config), data=data, url=None, VO_FAULT="db.after_commit:3")
    assert killed.returncode == -signal.SIGKILL
    server = EmbeddedPostgres(data)
    left = server.postmaster_pid
    assert left is not None and process_alive(left), "the killed run's server should still be running"

    done = run_vo("run", str(config), data=data, url=None)
    assert done.returncode == 0, done.stderr
    assert not process_alive(left) and server.postmaster_pid is None, "the server was not stopped"
    assert json.loads((data / "postgres.handles.json").read_text()) == {"handles": []}
    url = server.start()
    try:
        assert_nothing_lost(reference["snapshot"], config, data, url, "embedded server")
    finally:
        server.stop()
    TALLY["fault: embedded server left by a killed run"] += 1


def test_a_corrupt_file_met_by_a_run_is_reported_then_quarantined_and_remade(reference, module_database, tmp_path):
    config, data, url = reference["config"], tmp_path / "data", module_database()
    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    with engine.connect() as connection:
        broken = connection.execute(text("SELECT file FROM lightcurves ORDER BY id LIMIT 1")).scalar()
    engine.dispose()
    (data / broken).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a header and nothing else

    other = ("--set", "observatories.analysis.threshold=4.5")  # a new analysis must read the lightcurves
    met = run_vo("run", str(config), *other, "--json", data=data, url=url)
    assert met.returncode == 4, met.stderr  # sources failed
    failures = json.loads(met.stdout)["failures"]
    assert failures and all(broken in message for message in failures.values()), failures  # names the file

    repaired = run_vo("doctor", str(config), *other, "--repair", data=data, url=url)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert (data / "quarantine").exists() and any(p.name == broken.rsplit("/", 1)[-1]
                                                  for p in (data / "quarantine").rglob("*"))
    again = run_vo("run", str(config), *other, "--json", data=data, url=url)
    assert again.returncode == 0, again.stderr
    status = json.loads(again.stdout)["status"]
    assert status["failed"] == 0 and status["analysed"] == status["reduced"] == 24
    TALLY["fault: corrupt file met by a run"] += 1


# -- The archive fails in every way the download layer knows ---------------------------------------------------

def _failures(rng: random.Random, n: int) -> list[Reply]:
    kinds = [Reply(503), Reply(500, b"Internal error"), Reply(429, headers={"Retry-After": "0"}), Reply(reset=True),
             Reply(200, b"|oid|mjd|\n" * 50, truncate=20),
             Reply(502, b"<!DOCTYPE html><html><title>Bad gateway</title></html>", {"Content-Type": "text/html"})]
    return [rng.choice(kinds) for _ in range(n)]


@pytest.mark.parametrize("seed", range(scaled(2, 10)))
def test_a_failing_archive_loses_nothing(seed, fake_archive, module_database, tmp_path):
    from tests.e2e.test_real_surveys import write_config, ztf_answer
    from tests.integration.test_ztf_client import LC_PATH

    rng = random.Random(seed)
    rows = [(f"T{i:02d}", 10.0 + i, 20.0 + 0.5 * i) for i in range(12)]
    download = (f"  ztf:\n    download: {{base_url: '{fake_archive.url}', retries: 2, backoff_s: 0.01,"
                " backoff_max_s: 0.02, rate_limit_per_s: 0, max_concurrency: 4}\n")
    config = write_config(tmp_path / "p", "ztf", rows, download)
    fake_archive.route(LC_PATH, ztf_answer)
    healthy_data, healthy_url = tmp_path / "healthy", module_database()
    assert run_vo("run", str(config), data=healthy_data, url=healthy_url).returncode == 0
    healthy = snapshot(healthy_url, healthy_data)

    data, url = tmp_path / "data", module_database()
    fake_archive.queue(LC_PATH, *_failures(rng, rng.randint(5, 30)))
    stumbling = run_vo("run", str(config), "--json", data=data, url=url,
                       VO_FAULT=f"download.mid_body:{rng.randint(1, 12)}" if seed % 2 else "")
    if seed % 2:
        assert stumbling.returncode == -signal.SIGKILL  # killed in the middle of an answer's body
        TALLY["kills at fault points"] += 1
    else:
        assert stumbling.returncode == (4 if json.loads(stumbling.stdout)["failures"] else 0), stumbling.stderr
        status = json.loads(stumbling.stdout)["status"]
        assert status["downloaded"] + status["failed"] == 12  # every source downloaded or its failure recorded
    fake_archive.queue(LC_PATH)  # whatever failures are left stay queued; the next run rides over them too
    for _ in range(3):  # failures left over make a source fail again; each run retries the failed ones
        done = run_vo("run", str(config), "--json", data=data, url=url)
        assert done.returncode == (4 if json.loads(done.stdout)["failures"] else 0), done.stderr
        if json.loads(done.stdout)["status"]["failed"] == 0:
            break
    assert_nothing_lost(healthy, config, data, url, f"archive seed {seed}", same_batches=False)
    assert not [p for p in data.rglob("*") if ".part" in p.name or ".vo-tmp-" in p.name]
    TALLY["fault: failing archive runs"] += 1
