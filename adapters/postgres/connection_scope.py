"""One connection and one transaction on the project database, for record views used as context managers."""

from __future__ import annotations

from sqlalchemy.engine import Engine

__all__ = ["ConnectionScope"]


class ConnectionScope:
    """Opens a connection on ``with``; leaving without :meth:`commit` discards what was done, then closes it.

    The doctor's record index and prune's version records are both this, with their own queries.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of the database.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.connection = None

    def __enter__(self):
        self.connection = self.engine.connect()
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.rollback()
        finally:
            self.connection.close()
            self.connection = None

    def commit(self) -> None:
        """Make the removals durable."""
        self.connection.commit()

    def rollback(self) -> None:
        """Discard the removals."""
        if self.connection is not None:
            self.connection.rollback()
