"""Schema migrations run from code: upgrade a database to the newest revision, safely under concurrency."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

__all__ = ["alembic_config", "upgrade", "current_revision", "head_revision"]

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number works; every process upgrading any database uses the same one
# ("vo_migra" in ASCII), and advisory locks are per database so other databases don't wait.
_LOCK_KEY = 0x766F5F6D69677261


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic configuration built in code (no ``alembic.ini`` on disk).

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL of the database, handed to ``env.py`` through ``attributes``.

    Returns
    -------
    alembic.config.Config
        Configuration whose ``script_location`` is the ``migrations`` package.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision; a no-op when it is current.

    Concurrent callers (several workers starting at once) serialise on a
    PostgreSQL advisory lock, so only the first one runs the migrations.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the database.
    """
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            # End the implicit transaction so Alembic's own begin/commit owns the migration.
            connection.commit()
            try:
                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            finally:
                connection.rollback()  # a failed migration leaves the transaction aborted
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """Return the revision the database at ``url`` is at.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the database.

    Returns
    -------
    str or None
        Revision id, or None for a database never migrated.
    """
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """Return the newest revision among the migration scripts.

    Returns
    -------
    str or None
        Revision id of the head.
    """
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
