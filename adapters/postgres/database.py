"""Database: the one place that decides which PostgreSQL to use, migrates it and makes sessions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from virtualobserver.adapters.postgres.engine import make_engine, make_session_factory
from virtualobserver.adapters.postgres.migrate import current_revision, upgrade
from virtualobserver.adapters.postgres.orm import start_mappers
from virtualobserver.domain.errors import VOError

__all__ = ["Database", "DatabaseUnavailableError"]


class DatabaseUnavailableError(VOError):
    """The configured PostgreSQL server cannot be reached (wrong URL, server down, bad credentials)."""


class Database:
    """A PostgreSQL database: ``url`` if given, else the embedded server in ``data_dir``.

    Connecting runs the migrations to head (idempotent, guarded by an advisory
    lock), so a new data folder or server needs no manual step.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL of any PostgreSQL server (``VO_DATABASE_URL``).
    data_dir : pathlib.Path
        Data folder; the embedded server keeps its cluster here.
    migrate : bool
        Whether to upgrade the schema on connect.
    """

    def __init__(self, url: str | None, data_dir: Path, migrate: bool = True):
        self._url = url
        self.data_dir = Path(data_dir)
        self.migrate = migrate
        self.embedded: EmbeddedPostgres | None = None
        self._engine = None
        self._closing: list = []
        # Map before any domain object is created, so objects made earlier are persistable too.
        start_mappers()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL, starting the embedded server on first use."""
        if self._url is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.embedded = EmbeddedPostgres(self.data_dir)
            self._url = self.embedded.start()
        return self._url

    @property
    def engine(self):
        """The SQLAlchemy engine (schema upgraded on first use)."""
        if self._engine is None:
            url = self.url
            engine = make_engine(url)
            try:
                with engine.connect():
                    pass
            except OperationalError as exc:
                engine.dispose()
                reason = " ".join(str(exc.orig).split()) if exc.orig is not None else type(exc).__name__
                raise DatabaseUnavailableError(f"cannot connect to the database {self.safe_url}: {reason}") from None
            if self.migrate:
                upgrade(url)
            self._engine = engine
        return self._engine

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> str | None:
        """Connect (which migrates the schema to head) and return the revision the database is at."""
        self.engine  # noqa: B018 - connecting is what migrates
        return current_revision(self.url)

    def revive(self) -> None:
        """Start the embedded server again if it was this process's and died; a no-op for a server at a URL.

        Called before a batch is retried after a lost connection; the pool checks each connection
        before use, so the engine carries on with the new server.
        """
        if self.embedded is not None:
            self.embedded.revive()

    def session_factory(self):
        """Return a session factory bound to the engine."""
        return make_session_factory(self.engine)

    def on_close(self, callback) -> None:
        """Call ``callback()`` when the database is closed, before its connections go (e.g. stop sharing limits).

        Parameters
        ----------
        callback : callable
            Called with no arguments, once, by :meth:`close`.
        """
        self._closing.append(callback)

    def close(self) -> None:
        """Run the :meth:`on_close` callbacks, dispose of connections and release the embedded server."""
        closing, self._closing = self._closing, []
        for callback in closing:
            callback()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self.embedded is not None:
            self.embedded.stop()
