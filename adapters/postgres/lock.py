"""PostgresRunLock: session-level advisory locks (per project run, per batch lease) on their own connection."""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from virtualobserver.domain.errors import DatabaseConnectionLost, ProjectBusyError
from virtualobserver.services.ports import HeldLock, RunLock

__all__ = ["PostgresRunLock", "PostgresHeldLock"]


def _reason(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig or exc).split())


class PostgresHeldLock(HeldLock):
    """An advisory lock held by one connection; :meth:`keep` takes it again if that connection's session died.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Engine of the project database.
    name : str
        What is locked (for messages).
    key : int
        The advisory lock key.
    """

    def __init__(self, engine, name: str, key: int):
        self.engine, self.name, self.key = engine, name, key
        self.connection = None

    def take(self, *, wait: bool) -> None:
        """Take the lock on a new connection.

        Raises
        ------
        ProjectBusyError
            If another session holds it and ``wait`` is false.
        DatabaseConnectionLost
            If the server cannot be reached or the connection is cut while taking it.
        """
        connection = None
        try:
            connection = self.engine.connect()
            if wait:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
                got = True
            else:
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            connection.commit()
        except DBAPIError as exc:
            # The server went away (restarted, or the connection was cut) before the lock was held:
            # the same transient loss as in a unit of work, which the batch runner retries.
            _close(connection)
            raise DatabaseConnectionLost(_reason(exc)) from exc
        if not got:
            _close(connection)
            raise ProjectBusyError(f"project {self.name!r} is being run by another process; "
                                   "wait for it to finish (its progress is kept) or stop it")
        self.connection = connection

    def keep(self) -> None:
        """Make sure the lock is still held: if its session died, take it again at once (never waiting).

        The lock is session-level, so it died with its backend (``pg_terminate_backend``, a server
        restart or crash) and no client notices until it next talks to the server. In the gap another
        run may have taken it: then this one must stop rather than be a second driver, so the lock is
        taken again with ``pg_try_advisory_lock`` and a refusal is :class:`ProjectBusyError`. What ran
        in the gap is safe either way: each batch holds its own lease and every step skips work that
        is committed, so at most the batch in flight is done twice, never counted twice.

        Raises
        ------
        ProjectBusyError
            If another run took the lock while this one had lost it.
        DatabaseConnectionLost
            If the server cannot be reached to take it again.
        """
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                self.connection.commit()
                return
            except DBAPIError:
                _close(self.connection)  # the session, and the lock with it, are gone
                self.connection = None
        self.take(wait=False)  # also after an earlier attempt found the server down

    def release(self) -> None:
        """Release the lock and close its connection; a dead session already released it."""
        if self.connection is None:
            return
        connection, self.connection = self.connection, None
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            connection.commit()
        except DBAPIError:
            # Killed backend, restarted server: the session ended and released the lock with it. The
            # error's class depends on when the client noticed (OperationalError, DatabaseError, ...).
            _close(connection)
        else:
            connection.close()


def _close(connection) -> None:
    if connection is None:
        return
    with contextlib.suppress(DBAPIError):
        if connection.invalidated or connection.closed:
            return
        connection.invalidate()  # never return a connection whose state is unknown to the pool
    with contextlib.suppress(DBAPIError):
        connection.close()


class PostgresRunLock(RunLock):
    """Advisory locks keyed by a hash of the name; released when the connection closes, even on SIGKILL.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Engine of the project database.
    """

    def __init__(self, engine):
        self.engine = engine

    @contextlib.contextmanager
    def hold(self, name: str, *, wait: bool = False):
        """Hold the lock ``name`` for the duration of the ``with`` block.

        Parameters
        ----------
        name : str
            What is locked (a project, or ``<project>:batch:<id>`` for a worker's lease on a batch).
        wait : bool
            Block until the holder releases it (a dead holder's session ends, which releases it).

        Yields
        ------
        PostgresHeldLock
            The held lock (its ``keep`` re-takes it after its session died).

        Raises
        ------
        ProjectBusyError
            If another session holds it and ``wait`` is false.
        DatabaseConnectionLost
            If the server cannot be reached or the connection is cut while taking the lock.
        """
        key = int.from_bytes(hashlib.sha256(f"vo-run:{name}".encode()).digest()[:8], "big", signed=True)
        held = PostgresHeldLock(self.engine, name, key)
        held.take(wait=wait)
        try:
            yield held
        finally:
            held.release()
