"""Fault injection for the reliability tests: inert unless ``VO_FAULT`` is set.

``VO_FAULT`` lists faults as ``point:count[:action]``, separated by commas, for example
``VO_FAULT=hdf5.before_rename:3`` (SIGKILL this process at the third HDF5 file about to
be renamed into place) or ``VO_FAULT=hdf5.before_fsync:2:enospc`` (the second HDF5 write
fails as if the disk were full). Actions: ``kill`` (default; ``os.kill(os.getpid(), SIGKILL)``,
exactly what an out-of-memory killer or a power cut leaves behind), ``enospc``
(raise ``OSError(ENOSPC)``) and ``stop`` (SIGSTOP: the process freezes where it is, holding what it
holds, until the test sends SIGCONT; a deterministic "run in progress" however loaded the machine is). Each fault fires once, at the ``count``-th hit of its point
in this process. ``VO_FAULT_LOG=FILE`` appends the name of every point hit, one a line,
which is how the tests learn how many hits a run has.

The points are one-line calls, ``fault_point("db.before_commit")``, placed in the
adapters: ``hdf5.before_fsync``, ``hdf5.before_rename``, ``netcdf.before_fsync``,
``netcdf.before_rename`` (atomic file writes), ``db.before_commit``, ``db.after_commit``
(unit of work), ``download.source`` (demo survey), ``download.mid_body`` (HTTP bodies),
``prune.after_commit`` (a step version's rows removed by ``vo prune``) and ``prune.before_remove``
(a file about to be deleted by it).
"""

from __future__ import annotations

import errno
import os
import signal
import threading

__all__ = ["fault_point", "reset"]

_lock = threading.Lock()
_hits: dict[str, int] = {}
_spec_seen: str | None = None


def _parse(spec: str) -> dict[str, tuple[int, str]]:
    faults = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, rest = item.partition(":")
        count, _, action = rest.partition(":")
        faults[point] = (int(count or 1), action or "kill")
    return faults


def reset() -> None:
    """Forget the hits counted so far (tests that change ``VO_FAULT`` in-process call it)."""
    global _spec_seen
    with _lock:
        _hits.clear()
        _spec_seen = None


def fault_point(name: str, path: object = None) -> None:
    """Count a hit of point ``name`` and fire the fault configured for it, if this is its hit.

    Parameters
    ----------
    name : str
        Point name, such as ``"hdf5.before_rename"``.
    path : object, optional
        File concerned, named in the ``OSError`` of an ``enospc`` fault.

    Raises
    ------
    OSError
        ``ENOSPC``, when an ``enospc`` fault fires here.
    """
    spec = os.environ.get("VO_FAULT")
    log = os.environ.get("VO_FAULT_LOG")
    if not spec and not log:
        return  # the normal case: one dictionary look-up per point
    global _spec_seen
    with _lock:
        if spec != _spec_seen:  # a new specification starts a new count
            _hits.clear()
            _spec_seen = spec
        _hits[name] = hit = _hits.get(name, 0) + 1
        if log:
            with open(log, "a") as f:
                f.write(name + "\n")
    count, action = _parse(spec or "").get(name, (0, ""))
    if hit != count:
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path is not None else None)
    os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)
