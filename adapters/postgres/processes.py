"""Process helpers for the embedded server: liveness checks, a file lock and the handles file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import Iterator

__all__ = [
    "file_lock",
    "kill_all",
    "process_alive",
    "process_start_time",
    "processes_in_directory",
    "read_handles",
    "write_handles",
    "wait_gone",
]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the duration of the block.

    Parameters
    ----------
    path : Path
        Lock file; created if missing and never deleted (deleting a lock
        file that another process is waiting on would split the lock).

    Yields
    ------
    None
        While the lock is held.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # flock locks belong to the open file description, so a fresh open
        # also excludes other threads and other handles of this process.
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may itself contain spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def process_start_time(pid: int) -> str | None:
    """Return the kernel start time of ``pid`` (Linux), to tell a reused PID apart.

    Parameters
    ----------
    pid : int
        Process id.

    Returns
    -------
    str or None
        Start time in clock ticks since boot, or None without ``/proc``.
    """
    fields = _proc_stat(pid)
    return fields[19] if fields else None


def process_alive(pid: int, start_time: str | None = None) -> bool:
    """Tell whether ``pid`` is a running (non-zombie) process.

    Parameters
    ----------
    pid : int
        Process id.
    start_time : str, optional
        Start time recorded earlier by :func:`process_start_time`; a process
        with the same PID but another start time is a different process.

    Returns
    -------
    bool
        True when the process exists and is the one that was recorded.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to someone else
    fields = _proc_stat(pid)
    if fields is None:
        return True  # no /proc (macOS): os.kill is all we can know
    if fields[0] in ("Z", "X"):
        return False  # a zombie no longer serves anything
    return start_time is None or fields[19] == start_time


def processes_in_directory(directory: Path, executable: str) -> list[int]:
    """Return PIDs running ``executable`` with ``directory`` as working directory (Linux only).

    PostgreSQL's postmaster and all its children run with the data folder as
    working directory, so this finds the leftovers of a killed server without
    touching, say, a shell that happens to sit in that folder.

    Parameters
    ----------
    directory : Path
        Data folder of a server.
    executable : str
        Real path of the server binary.

    Returns
    -------
    list of int
        Matching PIDs other than this process; empty without ``/proc``.
    """
    target = os.path.realpath(directory)
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") == target and os.readlink(entry / "exe") == executable:
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to inspect
    return found


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until none of ``pids`` is alive.

    Parameters
    ----------
    pids : list of int
        Processes to wait for.
    timeout : float
        Seconds to wait at most.

    Returns
    -------
    bool
        True if they are all gone.
    """
    deadline = time.monotonic() + timeout
    while True:
        if not any(process_alive(pid) for pid in pids):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each of ``pids``, ignoring those already gone.

    Parameters
    ----------
    pids : list of int
        Processes to signal.
    sig : int, optional
        Signal number (default SIGKILL).
    """
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def read_handles(path: Path) -> list[dict]:
    """Return the handles recorded in ``path`` (empty if missing or unreadable).

    Parameters
    ----------
    path : Path
        Handles file.

    Returns
    -------
    list of dict
        Entries with ``pid``, ``start_time`` and ``token``.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []  # a torn or missing file only means "no known users"
    handles = data.get("handles", []) if isinstance(data, dict) else []
    return [h for h in handles if isinstance(h, dict) and isinstance(h.get("pid"), int)]


def write_handles(path: Path, handles: list[dict]) -> None:
    """Replace the handles file atomically (temp file + rename).

    Parameters
    ----------
    path : Path
        Handles file.
    handles : list of dict
        Entries to record.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"handles": handles}, indent=1))
    os.replace(tmp, path)
