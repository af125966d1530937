"""Failures that say what happened: a lost database, a closed pipe, a really full disk, interrupted writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.files.atomic import temporary_prefix
from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from virtualobserver.adapters.postgres.lock import PostgresRunLock
from virtualobserver.domain.errors import ProjectBusyError
from tests.reliability.harness import FULL, TALLY, assert_nothing_lost, pipe_vo, run_vo, scaled, start_vo, wait_for_work

# The batches of the small project last a few seconds with a slow survey, so a fault lands inside the run.
SLOW = ("--set", "observatories.demo.download.latency=0.2", "--download-threads", "1")
PROJECT = "e2e"  # the small project's name (tests/e2e/helpers.py)


def _lock_key(name: str) -> int:
    # As adapters/postgres/lock.py keys its advisory locks.
    return int.from_bytes(hashlib.sha256(f"vo-run:{name}".encode()).digest()[:8], "big", signed=True)


def _lock_held(engine, name: str) -> bool:
    # Read pg_locks rather than try the lock: trying would take it from the run for a moment.
    unsigned = _lock_key(name) & 0xFFFFFFFFFFFFFFFF
    with engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid::bigint = :high AND objid::bigint = :low"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}).scalar())


def _terminate_others(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("vo:")]


# -- The database goes away --------------------------------------------------------------------------------

def test_a_killed_backend_is_reconnected_the_lock_taken_again_and_the_batch_retried(reference, module_database,
                                                                                     tmp_path):
    config, data, url, log = reference["config"], tmp_path / "data", module_database(), tmp_path / "faults.log"
    process = start_vo("run", str(config), *SLOW, data=data, url=url, VO_FAULT_LOG=str(log))
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        assert wait_for_work(log, process)
        time.sleep(1.0)
        killed = _terminate_others(engine)  # the batch's session, its lease and the project lock's session
        relocked = False
        while process.poll() is None and not relocked:
            relocked = _lock_held(engine, PROJECT)
            time.sleep(0.02)
        _, stderr = process.communicate(timeout=300)
    finally:
        engine.dispose()
    assert process.returncode == 0, stderr
    assert killed >= 2, "the run had no session to kill: this test proved nothing"
    assert "retrying the batch" in stderr, stderr
    assert relocked, "the project lock was not taken again after its session died (another run could slip in)"
    assert_nothing_lost(reference["snapshot"], config, data, url, "after killed backends")
    TALLY["fault: database backends killed mid-run"] += 1


def test_a_lost_project_lock_is_taken_again_or_yields_to_the_run_that_took_it(module_database):
    url = module_database()
    ours, theirs, admin = (create_engine(url), create_engine(url),
                           create_engine(url, isolation_level="AUTOCOMMIT"))
    try:
        with PostgresRunLock(ours).hold("demo") as held:
            # Its session dies and nobody takes the lock in the gap: keep() takes it back at once.
            assert _terminate_others(admin) >= 1
            held.keep()
            with pytest.raises(ProjectBusyError), PostgresRunLock(theirs).hold("demo"):
                pass
            # It dies again and another run takes the lock first: this one must yield, not be a second driver.
            _terminate_others(admin)
            with PostgresRunLock(theirs).hold("demo"):
                with pytest.raises(ProjectBusyError):
                    held.keep()
        # Leaving the block after a dead session is quiet, and the lock is free again.
        with PostgresRunLock(theirs).hold("demo"):
            pass
    finally:
        for engine in (ours, theirs, admin):
            engine.dispose()
    TALLY["fault: project lock lost with its session"] += 1


def test_a_killed_embedded_server_is_started_again_and_the_run_goes_on(reference, tmp_path):
    config, data, log = reference["config"], tmp_path / "data", tmp_path / "faults.log"
    process = start_vo("run", str(config), *SLOW, data=data, url=None, VO_FAULT_LOG=str(log))
    assert wait_for_work(log, process)
    time.sleep(1.0)
    server = EmbeddedPostgres(data)
    killed = server.postmaster_pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "retrying the batch" in stderr, stderr
    assert server.postmaster_pid is None, "the restarted server was not stopped with its last user"
    url = server.start()
    try:
        assert_nothing_lost(reference["snapshot"], config, data, url, "embedded server killed")
    finally:
        server.stop()
    TALLY["fault: embedded server killed mid-run"] += 1


def test_a_database_that_stays_down_ends_the_run_with_its_own_exit_code(reference, tmp_path):
    server = EmbeddedPostgres(tmp_path / "server")
    try:
        server.start()
        server.create_database("project")
        url = server.url("project")
        config, data, log = reference["config"], tmp_path / "data", tmp_path / "faults.log"
        process = start_vo("run", str(config), *SLOW, data=data, url=url, VO_FAULT_LOG=str(log))
        assert wait_for_work(log, process)
        time.sleep(1.0)
        server.stop()  # this test is its only user: it stops, and nobody starts it again
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 75, stderr  # EX_TEMPFAIL: try again later (not 2, bad input)
        errors = _errors(stderr)
        assert len(errors) == 1 and "database" in errors[0] and "run again" in errors[0], stderr
        assert "Traceback" not in stderr
        if FULL:  # resuming after a lost database is what the restart tests do by default; here in full only
            server.start()
            done = run_vo("run", str(config), data=data, url=url)
            assert done.returncode == 0, done.stderr
            assert_nothing_lost(reference["snapshot"], config, data, url, "after the database came back")
    finally:
        server.stop()
    TALLY["fault: database down for good (exit 75)"] += 1


# -- The reader goes away ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("top",), ("top", "--json"), ("status",)][:scaled(1, 3)])
def test_a_reader_gone_ends_vo_quietly(args, reference):
    # The reader closes its end before vo writes, as `vo top | head -1` does when head has its line.
    process = pipe_vo(args[0], str(reference["config"]), *args[1:], data=reference["data"], url=reference["url"])
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert stderr == "", stderr  # no traceback, no "Exception ignored", no message
    assert process.returncode == 128 + signal.SIGPIPE
    TALLY["broken pipes ended quietly"] += 1


# -- The disk fills up -------------------------------------------------------------------------------------

@contextlib.contextmanager
def _small_filesystem(folder, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small filesystem (tmpfs) needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_really_full_disk_under_histograms_names_the_file(reference, module_database, tmp_path):
    # A real full filesystem, not the fault hook: netCDF-C hides the system's error ("NetCDF: HDF error").
    config, data, url = reference["config"], tmp_path / "data", module_database()
    with _small_filesystem(data / "histograms", "48k"):
        full = run_vo("run", str(config), data=data, url=url)
        assert full.returncode == 1, full.stderr
        errors = _errors(full.stderr)
        assert len(errors) == 1 and "No space left on device" in errors[0], full.stderr
        assert ".nc'" in errors[0] and "/histograms/" in errors[0], errors  # names the file
        assert not [p for p in data.rglob("*") if ".vo-tmp-" in p.name]
        if FULL:  # the rerun after a full disk is test_faults.py's by default; here in full only
            subprocess.run(["mount", "-o", "remount,size=64m", str(data / "histograms")], check=True)  # space freed
            done = run_vo("run", str(config), data=data, url=url)
            assert done.returncode == 0, done.stderr
            assert_nothing_lost(reference["snapshot"], config, data, url, "after a really full disk")
    TALLY["fault: really full filesystem (tmpfs)"] += 1


# -- Interrupted writes ------------------------------------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_next_run_sweeps_what_interrupted_writes_left_and_nothing_else(reference, module_database, tmp_path):
    config, data, url = reference["config"], tmp_path / "data", module_database()
    dead = _dead_pid()
    manifests = data / "projects" / "other-project" / "0123abcdef01"  # a version folder no run writes to now
    histograms = data / "histograms" / "demo" / "0123abcdef01" / "scanned"

    def left_by(folder, name, pid):
        # The name atomic writes give their temporary file: ".<name>.vo-tmp-<host>-<pid>".
        path = folder / temporary_prefix(folder / name)[:-1].replace(f"-{os.getpid()}", f"-{pid}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
        return path

    manifests.mkdir(parents=True)
    swept = [
        manifests / f".manifest.yaml.tmp-{dead}.{uuid.uuid4().hex}.part",  # a manifest being created
        left_by(histograms, "merged-0123456789abcdef.nc", dead),  # a compaction killed at the end of a run
        left_by(data / "raw" / "demo", "batch-x.h5", dead),
        left_by(data / "cache" / "ztf", "answer.csv", dead),
    ]
    swept[0].write_text("half")
    kept = [
        manifests / f".manifest.yaml.tmp-{os.getpid()}.{uuid.uuid4().hex}.part",  # a live writer's
        left_by(histograms, "part-live.nc", os.getpid()),
        histograms / f".part-x.nc.vo-tmp-otherhost-{dead}",  # another host's (a folder shared over the network)
        manifests / "notes.txt", manifests / ".hidden", data / "mine" / f".x.h5.vo-tmp-host-{dead}",  # not ours
    ]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")

    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    assert not [p for p in swept if p.exists()], "interrupted writes were not swept"
    assert all(p.exists() for p in kept), [p for p in kept if not p.exists()]
    for path in kept:
        path.unlink()
    assert_nothing_lost(reference["snapshot"], config, data, url, "after the sweep")
    TALLY["interrupted writes swept by the next run"] += len(swept)


def test_an_export_killed_part_way_leaves_no_partial_folder(reference, tmp_path):
    config, data, url = reference["config"], reference["data"], reference["url"]
    out = tmp_path / "lightkurve"
    export = ("export", str(config), "--what", "lightcurves", "--format", "lightkurve", "--out", str(out),
              "--limit", "4")
    killed = run_vo(*export, data=data, url=url, VO_FAULT="file.before_rename:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists(), "a partial export passes for a whole one"
    assert [p for p in tmp_path.iterdir() if ".vo-tmp-" in p.name]  # what the kill left, hidden

    done = run_vo(*export, data=data, url=url)
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*_lc.fits"))) >= 3
    assert not [p for p in tmp_path.rglob("*") if ".vo-tmp-" in p.name], "the next export did not sweep"
    TALLY["interrupted exports swept"] += 1


# -- Anything else -----------------------------------------------------------------------------------------

def test_an_unexpected_error_names_the_command_and_the_file(reference, module_database, tmp_path):
    data = tmp_path / "data"
    data.write_text("a file where the data folder should be")
    failed = run_vo("run", str(reference["config"]), data=data, url=module_database())
    errors = _errors(failed.stderr)
    assert failed.returncode == 1, failed.stderr  # the unexpected-failure code, distinct from 2 and 75
    assert len(errors) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert "vo run" in errors[0] and str(reference["config"]) in errors[0], errors  # the command
    assert str(data) in errors[0], errors  # the file
    TALLY["unexpected errors naming command and file"] += 1
