"""PostgresRunLock: a session-level advisory lock per project, held on its own connection for a whole run."""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import text

from domain.errors import ProjectBusyError
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
    def hold(self, name: str):
        """Hold the lock ``name`` for the duration of the ``with`` block.

        Raises
        ------
        ProjectBusyError
            If another session holds it.
        """
        key = int.from_bytes(hashlib.sha256(f"vo-run:{name}".encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as connection:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            connection.commit()
            if not got:
                raise ProjectBusyError(f"project {name!r} is being run by another process; "
                                       "wait for it to finish (its progress is kept) or stop it")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
