"""PostgresRunLock: session-level advisory locks (per project run, per batch lease) on their own connection."""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from domain.errors import DatabaseConnectionLost, ProjectBusyError
from services.ports import RunLock

__all__ = ["PostgresRunLock"]


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

        Raises
        ------
        ProjectBusyError
            If another session holds it and ``wait`` is false.
        DatabaseConnectionLost
            If the server cannot be reached or the connection is cut while taking the lock.
        """
        key = int.from_bytes(hashlib.sha256(f"vo-run:{name}".encode()).digest()[:8], "big", signed=True)
        with contextlib.ExitStack() as stack:
            try:
                connection = stack.enter_context(self.engine.connect())
                if wait:
                    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                    got = True
                else:
                    got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
                connection.commit()
            except OperationalError as exc:
                # The server went away (restarted, or the connection was cut) before the lock was held:
                # the same transient loss as in a unit of work, which the batch runner retries.
                raise DatabaseConnectionLost(" ".join(str(exc.orig or exc).split())) from exc
            if not got:
                raise ProjectBusyError(f"project {name!r} is being run by another process; "
                                       "wait for it to finish (its progress is kept) or stop it")
            try:
                yield
            finally:
                # A restarted server already released the lock with the session: nothing to undo then.
                with contextlib.suppress(OperationalError):
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
