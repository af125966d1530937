"""How many worker processes a run's batches get: ``auto`` (every core this process may use) or a number."""

from __future__ import annotations

import os

from virtualobserver.domain.config import AUTO_WORKERS, parse_workers

__all__ = ["usable_cores", "resolve_workers"]


def usable_cores() -> int:
    """Return the cores this process may run on (at least 1).

    ``os.sched_getaffinity`` counts what a batch system or ``taskset`` left to the process, which
    ``os.cpu_count()`` (every core of the machine) does not; the latter is the fallback where the
    former does not exist (macOS, Windows).

    Returns
    -------
    int
        Usable cores.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:  # pragma: no cover - a kernel that refuses the call
            pass
    return max(1, os.cpu_count() or 1)


def resolve_workers(setting, cores: int | None = None, *, key: str = "--workers") -> int:
    """Return the number of worker processes for ``setting`` (``auto`` or a number).

    Parameters
    ----------
    setting : str or int
        ``auto``: one per usable core (so one process, no cluster, on a one-core machine); a number: that.
    cores : int, optional
        Usable cores (default :func:`usable_cores`).
    key : str
        Named in the error of a bad setting.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ConfigError
        The setting is neither ``auto`` nor a whole number of at least 1.
    """
    setting = parse_workers(setting, key=key)
    if setting == AUTO_WORKERS:
        return max(1, usable_cores() if cores is None else int(cores))
    return setting
