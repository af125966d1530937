"""PostgresArchiveLimits: archive rate and concurrency limits shared through the project database.

Every worker of a run (``--workers N``, a Dask cluster) and every run on one database reaches the same
PostgreSQL server, so the limits live there:

- **rate**: a row per archive in ``archive_pace`` holds the next free request time. One atomic
  statement reserves a turn (``next_at = max(next_at, now) + 1/rate``) and returns how long to wait
  for it, on the server's clock, so workers on machines whose clocks differ still keep the spacing.
  Turns are ``1/rate`` apart whoever asks: the token bucket of capacity 1 of one process, for all.
- **concurrency**: slot ``k`` of an archive is the session-level advisory lock ``(archive key, k)``,
  held on the connection of the request in flight. A process killed mid-request (even by SIGKILL)
  ends its session, and the server frees its slot at once.

The advisory locks use PostgreSQL's two-integer key space, which never meets the one-bigint keys of
the run and batch locks (:mod:`adapters.postgres.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from virtualobserver.adapters.http.ratelimit import SharedLimits
from virtualobserver.adapters.postgres.engine import make_engine
from virtualobserver.domain.errors import DatabaseConnectionLost

__all__ = ["PostgresArchiveLimits", "archive_key"]

_RESERVE = text("""
    INSERT INTO archive_pace AS p (archive, next_at)
    VALUES (:archive, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (archive) DO UPDATE
        SET next_at = GREATEST(p.next_at, clock_timestamp()) + make_interval(secs => :interval)
    RETURNING EXTRACT(EPOCH FROM p.next_at - clock_timestamp())::float8 - :interval
""")
_TRY_SLOT = text("SELECT pg_try_advisory_lock(:key, :slot)")
_FREE_SLOT = text("SELECT pg_advisory_unlock(:key, :slot)")


def archive_key(service: str) -> int:
    """Return the advisory-lock key (a signed 32-bit integer) of an archive service, the same in every process.

    Parameters
    ----------
    service : str
        Archive service name.

    Returns
    -------
    int
        The first half of the two-integer advisory lock key of the service's slots.
    """
    return int.from_bytes(hashlib.sha256(f"vo-archive:{service}".encode()).digest()[:4], "big", signed=True)


class PostgresArchiveLimits(SharedLimits):
    """Archive limits shared by every process that uses the database at ``url``.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the project database (migrated to include ``archive_pace``).
    poll_s : float
        First pause between looks for a free slot while all are taken (jittered, so waiting processes
        do not look in step; growing to ten times this while the wait lasts). Slots are not handed out
        in arrival order across processes: whoever looks first after one is freed takes it.
    sleep : callable
        ``sleep(seconds)`` (tests may record the waits).
    connections : int
        Connections kept open for requests in flight (more are opened while needed).
    """

    def __init__(self, url: str, *, poll_s: float = 0.02, sleep: Callable[[float], None] = time.sleep,
                 connections: int = 4):
        self.url = url
        self.poll_s = float(poll_s)
        self._sleep = sleep
        self._connections = int(connections)
        self._engine = None
        self._lock = threading.Lock()
        self._rng = random.Random()

    @property
    def engine(self):
        """This limiter's own engine, made on first use.

        Its own pool, because each request in flight holds a connection for its slot: borrowed from the
        project's pool, long downloads would starve the units of work.
        """
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url, pool_size=self._connections, max_overflow=64,
                                           isolation_level="AUTOCOMMIT")
            return self._engine

    @contextlib.contextmanager
    def slot(self, service: str, rate_per_s: float, max_concurrency: int) -> Iterator[None]:
        """Hold one of the archive's ``max_concurrency`` slots and wait for its next rate turn.

        Parameters
        ----------
        service : str
            Archive service name.
        rate_per_s : float
            Requests per second over all processes (0: unlimited).
        max_concurrency : int
            Requests in flight at once over all processes.

        Yields
        ------
        None
            When the request may be sent; the slot is freed on leaving.

        Raises
        ------
        DatabaseConnectionLost
            If the database cannot be reached (the request is then not sent).
        """
        key = archive_key(service)
        try:
            connection = self.engine.connect()
        except DBAPIError as exc:
            raise DatabaseConnectionLost(f"archive limits of {service!r}: {_reason(exc)}") from exc
        held = None
        try:
            try:
                held = self._take_slot(connection, key, max(1, int(max_concurrency)))
                if rate_per_s > 0:
                    # Reserved once the slot is held: turns of requests still waiting for a slot would
                    # fall due together and bunch up above the rate.
                    wait = connection.execute(_RESERVE, {"archive": service, "interval": 1.0 / rate_per_s}).scalar()
                    if wait > 0:
                        self._sleep(wait)
            except DBAPIError as exc:
                raise DatabaseConnectionLost(f"archive limits of {service!r}: {_reason(exc)}") from exc
            yield
        finally:
            self._free(connection, key, held)

    def _take_slot(self, connection, key: int, slots: int) -> int:
        pause = self.poll_s
        while True:
            # One slot at a time: the server may evaluate a lock function in a multi-row query for more
            # rows than it returns (the PostgreSQL manual's warning about LIMIT and advisory locks).
            for slot in range(slots):
                if connection.execute(_TRY_SLOT, {"key": key, "slot": slot}).scalar():
                    return slot
            # Slots held by long downloads stay taken for minutes: look less often the longer one waits
            # (at most ten times poll_s), so waiting workers do not keep the server busy.
            self._sleep(pause * (0.5 + self._rng.random()))
            pause = min(pause * 1.5, 10 * self.poll_s)

    def _free(self, connection, key: int, slot: int | None) -> None:
        try:
            if slot is not None:
                connection.execute(_FREE_SLOT, {"key": key, "slot": slot})
        except DBAPIError:
            # A broken session already freed its locks; never return a connection in an unknown state.
            with contextlib.suppress(DBAPIError):
                connection.invalidate()
        with contextlib.suppress(DBAPIError):
            connection.close()

    def close(self) -> None:
        """Close the connections (slots held by requests still in flight are freed with them)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()


def _reason(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig or exc).split())[:300]
