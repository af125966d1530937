"""What the pixel clients share: the position asked for, and names that change when the request does."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Iterator

from virtualobserver.domain.astrometry import propagate_position
from virtualobserver.domain.source import Source

__all__ = ["path_lock", "position_at", "request_digest"]

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def path_lock(path: Path) -> Iterator[None]:
    """Hold this process's lock of ``path`` while it is fetched and unpacked.

    Atomic writes stage beside the target under a name of the process (``.<name>.vo-tmp-<host>-<pid>``):
    two threads of one process writing the same target (two aliases of one star) would share it.
    Processes need no lock: their staging names differ and the last rename wins with equal content.

    Parameters
    ----------
    path : pathlib.Path
        The stored file or folder.
    """
    with _locks_guard:
        lock = _locks.setdefault(Path(path), threading.Lock())
    with lock:
        yield


def position_at(source: Source, year: float) -> tuple[float, float]:
    """Return the source's position (degrees) moved along its proper motion to ``year``.

    A source without an epoch is taken to be at ``year`` already.

    Parameters
    ----------
    source : Source
        Target.
    year : float
        Julian year.

    Returns
    -------
    tuple of float
        ``(ra, dec)``.
    """
    if source.epoch is None:
        return float(source.ra), float(source.dec)
    ra, dec = propagate_position(source.ra, source.dec, source.pmra, source.pmdec, source.epoch, year)
    return float(ra), float(dec)


def request_digest(*parts: Any) -> str:
    """Return 8 hex digits identifying a request (position, size, ...), for stored file names.

    A changed position or size (a corrected catalog, another configuration) then names another
    file instead of reusing a cutout of elsewhere.

    Examples
    --------
    >>> request_digest(10.0, 20.0, 11) == request_digest(10.0, 20.0, 11)
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]
