"""Where the data folder and the database are, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "database_url_from_env", "workers_from_env"]


def data_dir() -> Path:
    """Return the data folder: ``$VO_DATA``, else the per-user data folder.

    Returns
    -------
    pathlib.Path
        ``$VO_DATA`` or ``$XDG_DATA_HOME/virtualobserver`` (default ``~/.local/share/virtualobserver``).
    """
    explicit = os.environ.get("VO_DATA")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "virtualobserver"


def database_url_from_env() -> str | None:
    """Return ``$VO_DATABASE_URL`` (any PostgreSQL server), or None for the embedded server."""
    url = os.environ.get("VO_DATABASE_URL", "").strip()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url or None


def workers_from_env() -> str | None:
    """Return ``$VO_WORKERS`` (worker processes for a run's batches: a number or ``auto``), or None if unset.

    It ranks between ``vo run --workers`` and the configuration's ``project.workers``: a batch job
    sets it to the cores it was given, whatever the project file says.
    """
    value = os.environ.get("VO_WORKERS", "").strip()
    return value or None
