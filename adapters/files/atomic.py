"""Atomic file replacement: write a temporary file, fsync it, rename over the target, fsync the folder."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import threading
from pathlib import Path

from virtualobserver.adapters.faults import fault_point

__all__ = ["atomic_path", "is_temporary", "temporary_owner", "temporary_prefix", "sweep_temporaries",
           "left_by_dead_writer", "atomic_folder"]

# Temporary names carry the writer's host and PID, so that a leftover of a killed writer can be told
# from a file another live process (perhaps on another machine sharing the folder) is writing now.
_HOST = re.sub(r"[^A-Za-z0-9_]+", "_", socket.gethostname())[:32] or "host"
# ".<name>.vo-tmp-<host>-<pid>" (".<random>.part" after it for downloads); also ".<name>.tmp-<pid>",
# the name older versions wrote.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:vo-tmp-(?P<host>[A-Za-z0-9_]+)-|tmp-)(?P<pid>\d{1,10})"
                        r"(?:\.[A-Za-z0-9_]+\.part)?$")
_FAULT_KIND = {".h5": "hdf5", ".nc": "netcdf"}
_swept: set[Path] = set()
_swept_lock = threading.Lock()


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: Free space below which a failed write is put down to a full disk (HDF5 and netCDF write in blocks of KiB).
_NEARLY_FULL = 1 << 20


def _nearly_full(folder: Path) -> bool:
    # Checked before the temporary file is removed, while the space it took is still taken.
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the blocks reserved for it
    return free * st.f_frsize < _NEARLY_FULL


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file name of :func:`atomic_path`."""
    return _TEMPORARY.match(name) is not None


def temporary_owner(name: str) -> tuple[str | None, int] | None:
    """Return (host or None, PID) of the writer of a temporary file name, or None for other names."""
    match = _TEMPORARY.match(name)
    return (match["host"], int(match["pid"])) if match else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temporary_prefix(target: Path) -> str:
    """Return the name prefix of this process's temporary files for ``target`` (for ``tempfile.mkstemp``)."""
    return f".{target.name}.vo-tmp-{_HOST}-{os.getpid()}."


def left_by_dead_writer(name: str) -> bool:
    """Whether ``name`` is a temporary name whose writer ran on this host and is gone.

    Files of live writers, of this process and of other hosts (a folder shared over the network)
    are not: they may still be written to.
    """
    owner = temporary_owner(name)
    return bool(owner) and owner[0] in (None, _HOST) and owner[1] != os.getpid() and not _pid_alive(owner[1])


def sweep_temporaries(folder: Path) -> None:
    """Remove, once per folder and process, the temporary files that writers killed on this host left there.

    A writer is known dead when its PID is gone; files of live writers, of this process and
    of other hosts (a folder shared over the network) are left alone. Cheap: one listing.

    Parameters
    ----------
    folder : pathlib.Path
        Folder about to be written to.
    """
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and left_by_dead_writer(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    A crash at any moment leaves either the old file or the new one, never a
    partial file under the target name; the temporary file a killed writer leaves
    is removed by the next write to the same folder on this host. A full disk
    raises ``OSError(ENOSPC)`` naming ``target``, and nothing is left behind.

    Parameters
    ----------
    target : pathlib.Path
        Final file name.

    Yields
    ------
    pathlib.Path
        Where to write.

    Raises
    ------
    OSError
        If writing fails (``ENOSPC``: the disk is full); the target is then unchanged.
    """
    # Created folders follow the umask (mkdir's default 0o777 & ~umask): never wider than the user asked.
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(target.parent)
    kind = _FAULT_KIND.get(target.suffix, "file")
    tmp = target.with_name(f".{target.name}.vo-tmp-{_HOST}-{os.getpid()}")
    try:
        yield tmp
        fault_point(f"{kind}.before_fsync", target)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fault_point(f"{kind}.before_rename", target)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except Exception as exc:
        code = exc.errno if isinstance(exc, OSError) else None
        if code not in _NO_SPACE and _nearly_full(target.parent):
            # The library hid the system's error (netCDF-C says "NetCDF: HDF error", h5py "Can't write
            # data"): a write that failed on a full disk is taken for what it most likely is.
            code = errno.ENOSPC
        if code in _NO_SPACE and not (isinstance(exc, OSError) and exc.filename == str(target)):
            # Name the file that could not be written, whatever library raised it.
            raise OSError(code, f"{os.strerror(code)}: cannot write", str(target)) from exc
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_folder(target: Path):
    """Yield a staging folder beside ``target``; on success its files move into ``target``, all at the end.

    A writer killed part-way leaves only the hidden staging folder
    (``.<name>.vo-tmp-<host>-<pid>``), never a ``target`` that looks complete but lacks files; the
    next write to the same ``target`` removes the staging folders of dead writers first. Files
    already in ``target`` with other names are kept; same names are replaced (each move atomic).

    Parameters
    ----------
    target : pathlib.Path
        Final folder (created if needed).

    Yields
    ------
    pathlib.Path
        Where to write the files.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            if (entry.name.startswith(f".{target.name}.") and entry.is_dir(follow_symlinks=False)
                    and left_by_dead_writer(entry.name)):
                shutil.rmtree(entry.path, ignore_errors=True)
    staging = target.with_name(f".{target.name}.vo-tmp-{_HOST}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)  # this PID's own, from a reused PID: never in use now
    staging.mkdir()
    try:
        yield staging
        if not target.exists():
            os.rename(staging, target)  # one step: the folder appears whole
        else:
            for entry in sorted(os.listdir(staging)):
                os.replace(staging / entry, target / entry)
        dir_fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
