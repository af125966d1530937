"""Baselines an epoch or a window is measured against, always without the epochs being measured.

The S/N of an epoch (or of a matched-filter window) is its residual against a baseline estimated
from the *other* epochs, divided by the standard error of that difference: the epochs' own errors
and the baseline's. Leaving the measured epochs out of their baseline makes the two independent, so
on Gaussian noise the S/N is N(0, 1) for any number of epochs, and an event never pulls its own
baseline towards itself. Two baselines:

* **season** (``detrend: none``): the median of the lightcurve's epochs within ``clip_sigma`` robust
  sigmas of a first median (the clipped sample), without the measured epochs;
* **biweight** (``detrend: biweight``): the biweight location of the epochs within a sliding time
  window centred on the measured epoch, as wotan's ``flatten(method="biweight")`` (``cval = 5`` times
  the median absolute deviation, iterated from the median to convergence, windows ``[t - W/2, t + W/2)``
  that do not cross gaps longer than ``W/2``), without the measured epochs. Near a segment's ends the
  window is truncated, as wotan's (:func:`window_bounds`).

The variance of a location estimate of ``n`` values is ``kappa(n) H`` where ``H`` is the variance of
their mean (``sum(sigma**2) / n**2``; for the median ``n / (sum(1 / sigma))**2``, the inverse square
of the mean density at the centre) and ``kappa`` the estimator's variance relative to the mean's on
Gaussian samples of that size (:func:`median_variance_factor`, :func:`biweight_variance_factor`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BIWEIGHT_CVAL", "median_variance_factor", "biweight_variance_factor", "median_without_windows",
           "sliding_biweight", "sliding_window_bounds", "windowed_biweight", "window_bounds", "gap_segments"]

#: Tuning constant of the biweight in units of the median absolute deviation (wotan's default).
BIWEIGHT_CVAL = 5.0
#: Iterations of the biweight stop when the location moves by less than this fraction of cval x MAD
#: (wotan stops at 1e-6 in the units of the flux, which users normalise to about 1).
_BIWEIGHT_TOLERANCE = 1e-10
_BIWEIGHT_MAX_ITERATIONS = 50
#: Elements of the (rows x window) matrices the sliding biweight holds at once.
_CHUNK_ELEMENTS = 1 << 21


def median_variance_factor(n) -> np.ndarray:
    """Return n Var(median) / sigma**2 for ``n`` Gaussian values (``pi / 2`` for large samples).

    Small samples follow ``pi / 2 - 0.7 / n`` for odd and ``pi / 2 - 2 / (n + 1.3)`` for even ``n``
    (the median of an even sample averages the middle pair, which lowers its variance): within 1 % of
    Monte-Carlo variances for n >= 4 (``python benchmarks/calibrate_statistics.py location``).

    Parameters
    ----------
    n : int or array_like
        Sample sizes.

    Returns
    -------
    numpy.ndarray
        The factors (1 for ``n`` <= 2, where the median is the mean).
    """
    n = np.asarray(n, dtype=float)
    odd = n % 2 == 1
    factor = math.pi / 2 - np.where(odd, 0.7 / np.maximum(n, 1.0), 2.0 / (n + 1.3))
    return np.where(n <= 2, 1.0, np.maximum(factor, 1.0))


#: n Var(biweight) / sigma**2 for n = 1 .. 12 Gaussian values, measured (400,000 samples each, 0.3 %): the
#: biweight of one or two values is their mean, of three close to their median; odd and even n alternate.
_BIWEIGHT_SMALL = np.array([1.0, 1.0, 1.404, 1.313, 1.371, 1.309, 1.336, 1.304, 1.317, 1.288, 1.300, 1.283])


def biweight_variance_factor(n) -> np.ndarray:
    """Return n Var(biweight location) / sigma**2 for ``n`` Gaussian values (cval 5).

    Measured values for n <= 12 (a window near a segment's end holds few epochs: the biweight of one
    or two is their mean), then ``1.185 + 2.4 / (n + 12.5)``: the biweight's asymptotic efficiency at
    ``cval = 5`` MADs is 0.844, and small samples lose a little more; within 1 % of Monte-Carlo
    variances for n >= 13 (``python benchmarks/calibrate_statistics.py location``).

    Parameters
    ----------
    n : int or array_like
        Sample sizes.

    Returns
    -------
    numpy.ndarray
        The factors.
    """
    n = np.asarray(n, dtype=float)
    formula = 1.185 + 2.4 / (np.maximum(n, 1.0) + 12.5)
    small = _BIWEIGHT_SMALL[np.clip(n, 1, _BIWEIGHT_SMALL.size).astype(int) - 1]
    return np.where(n <= _BIWEIGHT_SMALL.size, small, formula)


def median_without_windows(values: np.ndarray, kept: np.ndarray, lo: np.ndarray, hi: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Return the median of the kept values outside each window ``[lo, hi)``, and how many there are.

    Order statistics of one sort: the ``k``-th smallest of the values left is at sorted position
    ``p`` where ``p - #(removed ranks <= p) = k``, found by a fixed-point iteration per window.

    Parameters
    ----------
    values : numpy.ndarray
        One lightcurve's values (its good epochs).
    kept : numpy.ndarray of bool
        Values that make up the sample.
    lo, hi : numpy.ndarray of int
        Each window's first and one-past-last position.

    Returns
    -------
    tuple of numpy.ndarray
        Per window: the median (NaN if no kept value is left) and the number of values left.

    Examples
    --------
    >>> median_without_windows(np.array([1.0, 2.0, 3.0, 10.0, 20.0]), np.ones(5, bool),
    ...                        np.array([0, 3]), np.array([2, 5]))[0].tolist()
    [10.0, 2.0]
    """
    lo, hi = np.asarray(lo, dtype=np.intp), np.asarray(hi, dtype=np.intp)
    sample = np.sort(values[kept])
    n = sample.size
    # Rank of each kept value in the sorted sample (ties broken by position, as a stable sort does).
    rank = np.full(values.size, -1, dtype=np.intp)
    rank[np.flatnonzero(kept)[np.argsort(values[kept], kind="stable")]] = np.arange(n)
    width = int((hi - lo).max()) if lo.size else 0
    columns = lo[:, None] + np.arange(width)[None, :]
    inside = columns < hi[:, None]
    removed = np.where(inside, rank[np.minimum(columns, values.size - 1)], -1)
    removed = np.sort(np.where(removed >= 0, removed, np.iinfo(np.intp).max), axis=1)
    left = n - (removed < np.iinfo(np.intp).max).sum(axis=1)

    def kth(k: np.ndarray) -> np.ndarray:
        position = k.copy()
        for _ in range(width + 1):
            moved = k + (removed <= position[:, None]).sum(axis=1)
            if np.array_equal(moved, position):
                break
            position = moved
        return sample[np.clip(position, 0, max(n - 1, 0))] if n else np.full(k.size, np.nan)

    median = (kth((left - 1) // 2) + kth(left // 2)) / 2.0
    return np.where(left > 0, median, np.nan), left


def gap_segments(mjd: np.ndarray, gap: float) -> np.ndarray:
    """Return a segment number per epoch: a new segment starts after each gap longer than ``gap``."""
    if mjd.size == 0:
        return np.zeros(0, dtype=np.intp)
    return np.concatenate([[0], np.cumsum(np.diff(mjd) > gap)])


def window_bounds(mjd: np.ndarray, half_width: float, segment: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and one-past-last epoch of the window ``[t - h, t + h)`` around each epoch.

    ``h`` is ``half_width``; windows stop at their segment's ends (truncated, as wotan's). A window kept
    symmetric by shrinking it there would not lag a slope, but the last epochs' windows would then hold
    little but themselves: a flare at the end of a sector (the real TESS flare star's largest) would
    become its own trend, its tail unmeasured and a spurious dip found beside it. Truncated, they hold
    half a window of the star's baseline, which the biweight keeps; a slope lags by up to ``h / 2``
    there.

    Parameters
    ----------
    mjd : numpy.ndarray
        Sorted times.
    half_width : float
        Half the window (days).
    segment : numpy.ndarray, optional
        Segment number per epoch (:func:`gap_segments`): windows stop at the segment's ends.

    Returns
    -------
    tuple of numpy.ndarray
        ``lo`` and ``hi`` per epoch.
    """
    lo = np.searchsorted(mjd, mjd - half_width, side="left")
    hi = np.searchsorted(mjd, mjd + half_width, side="left")
    hi = np.maximum(hi, np.arange(mjd.size) + 1)  # the epoch itself, even for a zero width
    if segment is not None and segment.size:
        starts = np.searchsorted(segment, segment, side="left")
        stops = np.searchsorted(segment, segment, side="right")
        lo, hi = np.maximum(lo, starts), np.minimum(hi, stops)
    return lo, hi


def sliding_window_bounds(mjd: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Return each epoch's sliding window ``[t - window / 2, t + window / 2)``, not crossing gaps longer than half of it.

    The windows of :func:`sliding_biweight` (wotan's ``break_tolerance`` of half a window), as ``lo``, ``hi``
    per epoch (:func:`window_bounds`).
    """
    half = window / 2.0
    return window_bounds(mjd, half, gap_segments(mjd, half))


def sliding_biweight(mjd: np.ndarray, flux: np.ndarray, window: float, **options
                     ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Return the biweight location of the epochs in a sliding time window around each epoch.

    Windows are ``[t - window / 2, t + window / 2)`` and do not cross gaps longer than ``window / 2``
    (wotan's ``break_tolerance``); see :func:`windowed_biweight` for the options (epochs left out).

    Parameters
    ----------
    mjd, flux : numpy.ndarray
        Sorted times and fluxes of the epochs to use (finite).
    window : float
        Full width of the window (days).
    **options
        ``leave_lo``, ``leave_hi``, ``excluded``, ``sums``, ``rows``, ``cval`` of :func:`windowed_biweight`.

    Returns
    -------
    tuple
        As :func:`windowed_biweight`.
    """
    lo, hi = sliding_window_bounds(mjd, window)
    return windowed_biweight(flux, lo, hi, **options)


def windowed_biweight(flux: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                      leave_lo: np.ndarray | None = None, leave_hi: np.ndarray | None = None,
                      excluded: np.ndarray | None = None, sums: tuple[np.ndarray, ...] = (),
                      rows: np.ndarray | None = None, cval: float = BIWEIGHT_CVAL
                      ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Return the biweight location of the values in each window ``[lo, hi)``, leaving some out.

    Computed to convergence (to 1e-10 of ``cval`` MADs) for every window asked, each from its own
    values only: the windows of many lightcurves laid end to end give each lightcurve's values exactly.

    Parameters
    ----------
    flux : numpy.ndarray
        Values (finite).
    lo, hi : numpy.ndarray of int
        Each row's window.
    leave_lo, leave_hi : numpy.ndarray of int, optional
        Per row, the values ``[leave_lo, leave_hi)`` left out of its window (default: none).
    excluded : numpy.ndarray of bool, optional
        Values left out of every window (e.g. those of detected events).
    sums : tuple of numpy.ndarray
        Per-value quantities summed over the values each location was computed from.
    rows : numpy.ndarray of int, optional
        The rows to compute (default all); the others are NaN.
    cval : float
        Tuning constant in MADs.

    Returns
    -------
    tuple
        The location per row (NaN where no value is left), the number of values it is of, and one
        array per entry of ``sums``.
    """
    size = flux.size
    location = np.full(size, np.nan)
    count = np.zeros(size, dtype=np.intp)
    totals = [np.zeros(size) for _ in sums]
    wanted = np.arange(size) if rows is None else np.asarray(rows, dtype=np.intp)
    if not wanted.size:
        return location, count, totals
    use = np.ones(size, bool) if excluded is None else ~excluded
    for chunk, columns, valid in _window_chunks(lo, hi, wanted):
        valid &= use[columns]
        if leave_lo is not None:
            valid &= (columns < leave_lo[chunk, None]) | (columns >= leave_hi[chunk, None])
        values = np.where(valid, flux[columns], np.nan)
        counts = valid.sum(axis=1)
        location[chunk] = _biweight_rows(values, counts, cval)[0]
        count[chunk] = counts
        for total, per_value in zip(totals, sums):
            total[chunk] = _row_sums(np.where(valid, per_value[columns], 0.0))
    return location, count, totals


def _window_chunks(lo: np.ndarray, hi: np.ndarray, rows: np.ndarray):
    # (rows, columns, valid) of the windows of ``rows`` in chunks of at most _CHUNK_ELEMENTS elements.
    width = int((hi[rows] - lo[rows]).max()) if rows.size else 0
    per_chunk = max(1, _CHUNK_ELEMENTS // max(width, 1))
    last = lo.size - 1
    for start in range(0, rows.size, per_chunk):
        chunk = rows[start:start + per_chunk]
        columns = lo[chunk, None] + np.arange(width)[None, :]
        valid = columns < hi[chunk, None]
        yield chunk, np.minimum(columns, last), valid


def _row_sums(matrix: np.ndarray) -> np.ndarray:
    # Sum of each row from left to right: numpy's pairwise sum groups terms by the row's length, so a
    # row padded with zeros to another width would round differently (results must not depend on
    # which lightcurves share a batch).
    return np.cumsum(matrix, axis=1)[:, -1] if matrix.shape[1] else np.zeros(matrix.shape[0])


def _biweight_rows(values: np.ndarray, counts: np.ndarray, cval: float) -> tuple[np.ndarray, np.ndarray]:
    # The root of sum(psi) on each row (NaN-padded) nearest the median, with the MAD fixed: wotan's
    # location_iter finds it by weighted-mean steps; Newton steps (psi over its slope, the weighted mean
    # where the slope is flat) reach the same root in a few iterations instead of tens.
    centre = _row_medians(values, counts)
    mad = _row_medians(np.abs(values - centre[:, None]), counts)
    rows = np.flatnonzero((counts > 0) & (mad > 0))
    block, scale = values[rows], cval * mad[rows]
    location = centre[rows]
    for _ in range(_BIWEIGHT_MAX_ITERATIONS):
        if not rows.size:
            break
        distance = block - location[:, None]
        with np.errstate(invalid="ignore"):
            u = distance / scale[:, None]
            inside = np.abs(u) < 1.0
        u2 = np.where(inside, u * u, 1.0)
        weight = (1.0 - u2) ** 2
        psi = _row_sums(np.where(inside, distance, 0.0) * weight)
        slope = _row_sums((1.0 - u2) * (1.0 - 5.0 * u2))
        total = _row_sums(weight)
        newton = slope > 0.1 * total
        step = np.where(newton, psi / np.where(newton, slope, 1.0), psi / np.where(total > 0, total, 1.0))
        step = np.where(total > 0, step, 0.0)
        location += step
        moving = np.abs(step) > _BIWEIGHT_TOLERANCE * scale
        if not moving.all():
            centre[rows[~moving]] = location[~moving]
            rows, block, scale, location = rows[moving], block[moving], scale[moving], location[moving]
    centre[rows] = location
    return centre, mad


def _row_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    # Median of the first counts[i] non-NaN values of each row (NaN sorts last).
    ordered = np.sort(values, axis=1)
    rows = np.arange(values.shape[0])
    half = counts // 2
    last = max(values.shape[1] - 1, 0)
    upper = ordered[rows, np.clip(half, 0, last)]
    lower = ordered[rows, np.clip(half - 1, 0, last)]
    median = np.where(counts % 2 == 1, upper, (lower + upper) / 2.0)
    return np.where(counts > 0, median, np.nan)
