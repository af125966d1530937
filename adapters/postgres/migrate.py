"""Schema migrations run from code: upgrade a database to the newest revision, safely under concurrency."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import ProgrammingError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where a migration runs, not here: it costs most of a second, and every command
# that connects to a database already at the newest revision (the usual case, `vo status` among them)
# needs only the one-row check of `upgrade`.

__all__ = ["alembic_config", "upgrade", "current_revision", "head_revision", "script_head"]

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision; a no-op when it is current.

    Concurrent callers (several workers starting at once) serialise on a
    PostgreSQL advisory lock, so only the first one runs the migrations. A database already at the
    newest script's revision (:func:`script_head`) is left alone without loading Alembic.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the database.
    """
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if _at_script_head(connection):
                return
            from alembic import command

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
            from alembic.runtime.migration import MigrationContext

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
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?=\s*(?:None|['\"]([^'\"]+)['\"])", re.MULTILINE)


def script_head() -> str | None:
    """Return the newest revision among the migration scripts, read from their text without Alembic.

    The head is the one revision no script revises. Scripts that this reading cannot follow (a merge
    of branches, a ``down_revision`` that is a tuple) give None, and callers then ask Alembic.

    Returns
    -------
    str or None
        Revision id of the single head, or None when it cannot be told this way.
    """
    revisions, revised = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None:
            continue
        if down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            revised.add(down.group(1))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _at_script_head(connection) -> bool:
    # The database is at the newest script's revision: nothing to migrate, no need to load Alembic.
    head = script_head()
    if head is None:
        return False
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except ProgrammingError:  # a new database: no alembic_version table yet
        connection.rollback()
        return False
    connection.rollback()  # end the implicit transaction: Alembic's own begin/commit owns a migration
    return rows == [head]
