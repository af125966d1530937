"""The time window the source screen shows around an event: as wide as the event needs, inside the data."""

from __future__ import annotations

import numpy as np

__all__ = ["event_window", "clamp_window"]

#: The window spans this many times the event's duration (its first to last epoch above threshold)...
DURATION_FACTOR = 5.0
#: ... or this many times the width of the matched filter that found it...
FILTER_FACTOR = 3.0
#: ... or this many typical time steps of the lightcurve, whichever is widest (a one-epoch event still
#: shows its neighbours).
MIN_STEPS = 20


def event_window(start: float, end: float, filter_width: float, mjds: np.ndarray) -> tuple[float, float]:
    """Return the MJD range to show an event in: centred on it, sized by its width, inside the data.

    Parameters
    ----------
    start, end : float
        The event's first and last MJD.
    filter_width : float
        Width (days) of the matched filter that found it (0 for a single-epoch one).
    mjds : numpy.ndarray
        Times of the lightcurve it is in.

    Returns
    -------
    tuple of float
        (low, high) MJD.
    """
    times = np.sort(np.asarray(mjds, dtype=float))
    step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    width = max(DURATION_FACTOR * (end - start), FILTER_FACTOR * filter_width, MIN_STEPS * step, 1e-3)
    centre = (start + end) / 2
    if not times.size:
        return centre - width / 2, centre + width / 2
    return clamp_window((centre - width / 2, centre + width / 2), float(times[0]), float(times[-1]))


def clamp_window(window: tuple[float, float], lo: float, hi: float) -> tuple[float, float]:
    """Return ``window`` moved (not shrunk) to lie within the data's range ``lo``–``hi`` plus a margin.

    A window wider than the data becomes the data's range: no part of the plot is left empty
    beyond the first or the last epoch.

    Parameters
    ----------
    window : tuple of float
        (low, high) MJD asked for.
    lo, hi : float
        First and last MJD of the data.

    Returns
    -------
    tuple of float
        (low, high) MJD.
    """
    low, high = window
    width = high - low
    # A margin of 2 % of the window keeps the first and the last epoch off the plot's frame.
    margin = 0.02 * min(width, max(hi - lo, 1e-3))
    lo, hi = lo - margin, hi + margin
    if width >= hi - lo:
        return lo, hi
    if low < lo:
        return lo, lo + width
    if high > hi:
        return hi - width, hi
    return low, high
