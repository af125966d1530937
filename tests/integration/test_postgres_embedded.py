"""The embedded PostgreSQL server: sharing between handles and processes, recovery after kills, socket paths."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from virtualobserver.adapters.postgres import embedded
from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres, EmbeddedPostgresError, socket_dir_for
from virtualobserver.adapters.postgres.processes import process_alive, read_handles, wait_gone

ROOT = Path(__file__).resolve().parents[2]

# Starts a handle, prints the postmaster PID, then either kills itself or waits for a line
# on stdin and exits normally (so that the atexit hook stops its handle).
CHILD = """
import os, signal, sys
from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
pg = EmbeddedPostgres(sys.argv[1])
pg.start()
print(pg.postmaster_pid, flush=True)
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.readline()
"""


def _child(data_dir, mode="wait"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


def _finish(child):
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(timeout=30) == 0


def _query(pg, database="postgres"):
    connection = psycopg2.connect(host=str(pg.host), user="postgres", dbname=database)
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('listen_addresses'), current_setting('fsync')")
            return cur.fetchone()
    finally:
        connection.close()


def test_start_gives_a_working_socket_only_server(tmp_path):
    with EmbeddedPostgres(tmp_path) as pg:
        assert pg.url() == f"postgresql+psycopg2://postgres@/postgres?host={tmp_path.resolve()}/postgres"
        assert _query(pg) == ("", "on")  # no TCP listener; durability kept
        pg.create_database("extra")
        pg.create_database("extra")  # existing: no error
        assert _query(pg, "extra")
        pg.drop_database("extra")
        pid = pg.postmaster_pid
    assert not process_alive(pid) and pg.postmaster_pid is None


def test_two_handles_in_one_process_share_one_server(tmp_path):
    first, second = EmbeddedPostgres(tmp_path), EmbeddedPostgres(tmp_path)
    assert first.start() == second.start()
    pid = first.postmaster_pid
    assert second.postmaster_pid == pid and len(read_handles(tmp_path / "postgres.handles.json")) == 2
    first.stop()
    assert process_alive(pid) and _query(second)
    second.stop()
    assert not process_alive(pid)
    assert read_handles(tmp_path / "postgres.handles.json") == []


def test_handle_in_another_process_shares_the_server(tmp_path):
    child = _child(tmp_path)
    pid = int(child.stdout.readline())
    pg = EmbeddedPostgres(tmp_path)
    pg.start()
    assert pg.postmaster_pid == pid
    _finish(child)  # the child's atexit stop must leave our server running
    assert process_alive(pid) and _query(pg)
    pg.stop()
    assert not process_alive(pid)


def test_concurrent_starts_share_one_server(tmp_path):
    children = [_child(tmp_path), _child(tmp_path)]  # both race on a fresh, uninitialised folder
    pids = {int(child.stdout.readline()) for child in children}
    assert len(pids) == 1
    for child in children:
        _finish(child)
    assert wait_gone(list(pids), 5)


def test_server_left_by_a_killed_process_is_reused_then_stopped(tmp_path):
    child = _child(tmp_path, "kill")
    pid = int(child.stdout.readline())
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert process_alive(pid)  # the orphaned server keeps running
    assert [h["pid"] for h in read_handles(tmp_path / "postgres.handles.json")] == [child.pid]
    pg = EmbeddedPostgres(tmp_path)
    pg.start()
    assert pg.postmaster_pid == pid
    assert [h["pid"] for h in read_handles(tmp_path / "postgres.handles.json")] == [os.getpid()]
    pg.stop()  # no live handle left: the orphan goes with us
    assert not process_alive(pid)


def test_cleanup_orphans_reports_dead_handles(tmp_path):
    child = _child(tmp_path, "kill")
    pid = int(child.stdout.readline())
    child.wait(timeout=30)
    pg = EmbeddedPostgres(tmp_path)
    assert pg.cleanup_orphans() == [child.pid]
    assert process_alive(pid)  # a running server is left for the next user
    pg.start()
    pg.stop()
    assert not process_alive(pid)


def test_killed_server_is_replaced(tmp_path):
    first = EmbeddedPostgres(tmp_path)
    first.start()
    old = first.postmaster_pid
    os.kill(old, signal.SIGKILL)  # leaves a stale postmaster.pid behind
    assert wait_gone([old], 5)
    second = EmbeddedPostgres(tmp_path)
    second.start()
    new = second.postmaster_pid
    assert new not in (None, old) and _query(second)
    second.stop()
    assert process_alive(new)  # ``first`` still holds a live handle
    first.stop()
    assert not process_alive(new)


def test_long_data_dir_gets_a_short_socket_dir(tmp_path):
    data_dir = tmp_path / ("d" * 60) / ("e" * 60)
    pg = EmbeddedPostgres(data_dir)
    assert pg.socket_dir.parent == Path("/tmp") and len(str(pg.socket_dir)) < 40
    with pg:
        assert f"host={pg.socket_dir}" in pg.url("db") and "/db?" in pg.url("db")
        assert _query(pg)
    assert socket_dir_for(Path("/tmp/with space")) != Path("/tmp/with space")
    assert socket_dir_for(Path("/tmp/plain")) == Path("/tmp/plain")


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare is used only when running as root")
def test_missing_unshare_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "UNSHARE", str(tmp_path / "no-unshare"))
    with pytest.raises(EmbeddedPostgresError, match="as root.*VO_DATABASE_URL"):
        EmbeddedPostgres(tmp_path).start()
