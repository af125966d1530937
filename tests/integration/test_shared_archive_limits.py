"""Archive limits shared through PostgreSQL: two Dask workers against the local archive keep one rate and one
concurrency between them (the archive's request log shows it), turns are paced on the server's clock, and a
dead session frees its slot."""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from virtualobserver.adapters.http.fetcher import HttpFetcher
from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.http.ratelimit import share_limits, shared_limits
from virtualobserver.adapters.postgres.archive_limits import PostgresArchiveLimits
from virtualobserver.domain.parameters import Parameters
from tests.http_server import Reply

pytest.importorskip("distributed")

GOOD = b"mjd,mag\n58000.5,17.2\n"
#: Scheduling delay between a turn and the request reaching the archive on a loaded 2-core machine: 60 ms
#: for threads of one process (tests/integration/test_http_fetcher.py::test_rate_limit_is_not_exceeded_from_many_
#: threads); with two worker processes, the test process and PostgreSQL on 2 cores at load 9, one request was
#: seen 120 ms behind its turn (7 arrivals within 0.18 s at 20/s). Any delay up to JITTER passes; the windows
#: still catch two workers that pace only themselves (30 requests in 0.7 s, where the rate allows 18).
JITTER = 0.15
#: Slack of a span of many requests: a late first arrival shortens it (80 ms seen at load 8). Far below what
#: two workers pacing only themselves save (half the span).
SPAN_SLACK = 0.15


class ArchiveParameters(Parameters):
    SPECS = http_specs("http://unused.invalid", rate_limit_per_s=0, max_concurrency=8, timeout_s=10.0)


def _warm_up() -> int:
    # Imported before the clock starts, so neither worker spends the test importing.
    import virtualobserver.adapters.http.fetcher  # noqa: F401
    import virtualobserver.adapters.postgres.archive_limits  # noqa: F401

    return os.getpid()


def _fetch_in_worker(task: dict) -> tuple[int, float]:
    """One worker's share of the requests: ``count`` fetches from ``threads`` threads, from ``start_at`` on.

    With ``shared`` the worker takes its limits from the database, as a worker of ``vo run`` does once
    its container is built (adapters/container.py); without, it keeps only its own in-process limits.
    """
    limits = PostgresArchiveLimits(task["database_url"]) if task["shared"] else None
    share_limits(limits)
    try:
        parameters = ArchiveParameters(base_url=task["archive_url"], rate_limit_per_s=task["rate"],
                                       max_concurrency=task["concurrency"], retries=0)
        fetcher = HttpFetcher(task["service"], parameters)
        time.sleep(max(0.0, task["start_at"] - time.time()))
        started = time.monotonic()
        with ThreadPoolExecutor(task["threads"]) as pool:
            bodies = list(pool.map(lambda _: fetcher.fetch("/lc"), range(task["count"])))
        assert bodies == [GOOD] * task["count"]
        fetcher.close()
        return os.getpid(), time.monotonic() - started
    finally:
        share_limits(None)
        if limits is not None:
            limits.close()


@pytest.fixture(scope="module")
def two_workers():
    """A local cluster of two worker processes, as ``vo run --workers 2`` starts (it takes seconds)."""
    from virtualobserver.adapters.executors.dask_executor import DaskExecutor

    executor = DaskExecutor(workers=2)
    try:
        assert len(set(executor.client.run(_warm_up).values())) == 2
        yield executor
    finally:
        executor.close()


def run_on_two_workers(executor, archive, database_url, *, shared, rate, concurrency, count, threads):
    task = {"database_url": database_url, "archive_url": archive.url, "service": f"shared-{uuid.uuid4().hex[:8]}",
            "rate": rate, "concurrency": concurrency, "count": count, "threads": threads, "shared": shared,
            "start_at": time.time() + 1.0}  # both workers start together, whenever Dask hands them the task
    outcomes = list(executor.map_batches(_fetch_in_worker, [task, dict(task)]))
    assert len({pid for pid, _ in outcomes}) == 2  # one task in each worker process
    return sorted(request.time for request in archive.requests)


def rate_violations(times: list[float], rate: float) -> list[tuple[int, int, float]]:
    """Pairs of requests with more requests between them than ``rate`` allows (one token of burst, JITTER slack)."""
    return [(i, j, times[j] - times[i]) for i in range(len(times)) for j in range(i + 1, len(times))
            if j - i > 1 + rate * (times[j] - times[i] + JITTER)]


def test_two_workers_together_never_exceed_the_configured_rate(two_workers, fake_archive, database_url):
    fake_archive.route("/lc", lambda r: Reply(200, GOOD))
    rate, per_worker = 20.0, 15
    times = run_on_two_workers(two_workers, fake_archive, database_url, shared=True, rate=rate, concurrency=4,
                               count=per_worker, threads=4)
    assert len(times) == 2 * per_worker
    assert rate_violations(times, rate) == []
    # 30 turns 1/20 s apart span 29/20 s (one worker alone would pace its 15 in 14/20 s).
    assert times[-1] - times[0] >= (2 * per_worker - 1) / rate - SPAN_SLACK


def test_without_shared_limits_two_workers_send_twice_the_rate(two_workers, fake_archive, database_url):
    # The same run with each worker keeping only its own limits: what the test above would catch.
    fake_archive.route("/lc", lambda r: Reply(200, GOOD))
    rate, per_worker = 20.0, 15
    times = run_on_two_workers(two_workers, fake_archive, database_url, shared=False, rate=rate, concurrency=4,
                               count=per_worker, threads=4)
    assert rate_violations(times, rate) != []
    assert times[-1] - times[0] < (2 * per_worker - 1) / rate - SPAN_SLACK


def test_two_workers_together_never_exceed_the_configured_concurrency(two_workers, fake_archive, database_url):
    fake_archive.route("/lc", lambda r: Reply(200, GOOD, delay=0.1))
    run_on_two_workers(two_workers, fake_archive, database_url, shared=True, rate=0.0, concurrency=2, count=6,
                       threads=3)
    assert len(fake_archive.requests) == 12
    assert fake_archive.max_in_flight == 2  # reached, so more would have been seen


def test_without_shared_limits_two_workers_overlap_beyond_the_concurrency(two_workers, fake_archive, database_url):
    fake_archive.route("/lc", lambda r: Reply(200, GOOD, delay=0.1))
    run_on_two_workers(two_workers, fake_archive, database_url, shared=False, rate=0.0, concurrency=2, count=6,
                       threads=3)
    assert fake_archive.max_in_flight > 2


# -- the store itself, two limiters in this process standing for two processes ------------------------------------


class DueTimes(list):
    """An injected sleep that records when each turn falls due (this process's clock) instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(time.monotonic() + seconds)


def test_turns_are_one_interval_apart_whoever_reserves_them(database_url):
    due_a, due_b = DueTimes(), DueTimes()
    first = PostgresArchiveLimits(database_url, sleep=due_a)
    second = PostgresArchiveLimits(database_url, sleep=due_b)
    try:
        # Alternately, nobody sleeping: each turn queues 1 s after the one before (1 s: far longer than the
        # ten reservations take even on a loaded machine, so none of the turns is due by the time it is made).
        for _ in range(5):
            for limits in (first, second):
                with limits.slot("pace-test", 1.0, 4):
                    pass
    finally:
        first.close()
        second.close()
    due = sorted(due_a + due_b)
    assert len(due) == 9  # the first turn is due at once; the nine others wait for theirs
    assert len(due_a) == 4 and len(due_b) == 5
    # Each turn 1 s after the one before, whichever limiter (process) reserved it; the time between the
    # server reading its clock and this process reading its own (ms, tens under load) is the only slack.
    gaps = [later - earlier for earlier, later in zip(due, due[1:])]
    assert gaps == pytest.approx([1.0] * 8, abs=0.04)


def test_a_slot_held_by_a_dead_session_is_free_at_once(database_url):
    holder = PostgresArchiveLimits(database_url)
    other = PostgresArchiveLimits(database_url, poll_s=0.01)
    entered = threading.Event()
    release = threading.Event()

    def hold():
        with holder.slot("slot-test", 0.0, 1):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(10)
        got = threading.Event()

        def take():
            with other.slot("slot-test", 0.0, 1):
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(0.3)  # the only slot is held
        # The holder's process dies: its server session ends (pg_terminate_backend, as a SIGKILL would).
        from sqlalchemy import create_engine, text

        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND database = "
                                    "(SELECT oid FROM pg_database WHERE datname = current_database())"))
        admin.dispose()
        assert got.wait(5)
        taker.join(5)
    finally:
        release.set()
        thread.join(10)
        holder.close()
        other.close()


@pytest.mark.parametrize("close", ["close_container", "database"])
def test_a_project_shares_its_archive_limits_through_its_database_until_it_closes(monkeypatch, tmp_path,
                                                                                   database_url, close):
    from virtualobserver.adapters.container import build_container, close_container
    from tests.e2e.helpers import REPO

    monkeypatch.setenv("VO_DATA", str(tmp_path))
    monkeypatch.setenv("VO_DATABASE_URL", database_url)
    container = build_container(str(REPO / "configs" / "demo.yaml"))
    try:
        container.project()
        shared = shared_limits()
        assert isinstance(shared, PostgresArchiveLimits) and shared.url == database_url
    finally:
        # Both ways the commands close: afterwards no fetcher of this process asks that database for turns.
        if close == "close_container":
            close_container(container)
        else:
            container.database().close()
    assert shared_limits() is None
