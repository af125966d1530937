"""Engine and session factory for the metadata database (built by the container, not at import)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_session_factory"]


def make_engine(url: str, **kwargs) -> Engine:
    """Return an engine with a small, self-healing connection pool.

    Build one engine per process: pooled connections must not cross a
    ``fork`` (Dask or multiprocessing workers create their own).

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``postgresql://`` uses psycopg2).
    **kwargs
        Overrides of the ``create_engine`` arguments.

    Returns
    -------
    sqlalchemy.Engine
        The engine.
    """
    options = {
        # A restarted server (or an idle timeout) silently kills pooled connections; ping first.
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 10,
        "pool_recycle": 3600,
    }
    options.update(kwargs)
    return create_engine(url, **options)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay usable after commit.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine to bind.

    Returns
    -------
    sqlalchemy.orm.sessionmaker
        Factory of sessions with ``expire_on_commit=False``, so that domain
        objects returned by a unit of work keep their values after it ends.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)
