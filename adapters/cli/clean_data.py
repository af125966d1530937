"""``make clean-data``: remove the data folder (projects' files, the embedded database, the answer cache).

Stops the embedded PostgreSQL of the folder first, and refuses while a ``vo`` process uses it. A database
given by ``VO_DATABASE_URL`` is not touched (it is not in the folder).
"""

from __future__ import annotations

import shutil
import sys

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres, EmbeddedPostgresError
from virtualobserver.adapters.settings import data_dir

__all__ = ["main"]


def main() -> int:
    """Remove ``$VO_DATA`` (or the per-user data folder); return the exit code."""
    folder = data_dir()
    if not folder.exists():
        print(f"nothing to clean: {folder} does not exist")
        return 0
    try:
        EmbeddedPostgres(folder).stop_unused()
    except EmbeddedPostgresError as exc:
        print(f"clean-data: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    shutil.rmtree(folder)
    print(f"removed {folder} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
