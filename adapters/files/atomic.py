"""Atomic file replacement: write a temporary file, fsync it, rename over the target, fsync the folder."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    A crash at any moment leaves either the old file or the new one, never a
    partial file under the target name (a stale ``.tmp`` file at worst).

    Parameters
    ----------
    target : pathlib.Path
        Final file name.

    Yields
    ------
    pathlib.Path
        Where to write.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
