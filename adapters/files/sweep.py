"""Sweep a data folder of what interrupted writes left: temporary files and staging folders of dead writers."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from virtualobserver.adapters.files.atomic import left_by_dead_writer

__all__ = ["sweep_interrupted", "SWEPT_FOLDERS"]

#: Sub-folders of the data folder that runs write to: products, manifests (under projects/), the raw-answer
#: cache. The database's own folder and the quarantine are not ours to touch.
SWEPT_FOLDERS = ("raw", "projects", "analysis", "histograms", "stamps", "cache")


def sweep_interrupted(root: str | Path) -> list[Path]:
    """Remove the temporaries that killed writers on this host left anywhere under the data folder.

    Only names of our temporary patterns (``.<name>.vo-tmp-<host>-<pid>``, with ``.<random>.part``
    after it for downloads, and the older ``.<name>.tmp-<pid>...``) whose writer is gone are
    removed: a file written now by a live process, here or on another host sharing the folder, is
    left, and so is every other file (a user's included). Atomic writes sweep their own folder
    before writing; this reaches the folders a finished run no longer writes to (a manifest's, the
    histograms of a compaction killed at the end of a run, a staging folder).

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    root = Path(root)
    removed = []
    for top in SWEPT_FOLDERS:
        for folder, dirs, names in os.walk(root / top):
            for name in [*names, *dirs]:
                if not left_by_dead_writer(name):
                    continue
                path = Path(folder, name)
                with contextlib.suppress(OSError):
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                        dirs.remove(name)
                    else:
                        path.unlink()
                    removed.append(path)
    return removed
