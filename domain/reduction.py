"""Reduction of an epoch table to uniform lightcurves split by filter and season."""

from __future__ import annotations

import math
from typing import Iterator, Mapping

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import LIGHTCURVE_COLUMNS, OPTIONAL_COLUMNS, Lightcurve
from virtualobserver.domain.parameters import Param, Parameters

__all__ = ["ReductionParameters", "mag_to_flux", "split_seasons", "reduce_photometry"]

_LN10_OVER_2P5 = np.log(10.0) / 2.5
_LIGHTCURVE_NAMES = LIGHTCURVE_COLUMNS + OPTIONAL_COLUMNS
_REQUIRED_NAMES = frozenset(LIGHTCURVE_COLUMNS)
_NUMERIC_KINDS = frozenset("biuf")


class ReductionParameters(Parameters):
    """Parameters of the reduction step (raw data -> lightcurves)."""

    SPECS = {
        "season_gap_days": Param(90.0, float, "A gap longer than this (days) starts a new season.",
                                 minimum=0.01, maximum=1e5),
        "zero_point": Param(25.0, float, "Magnitude zero point of the flux scale: flux = 10**(-0.4 (mag - zp)).",
                            minimum=-10.0, maximum=50.0),
        "min_epochs": Param(3, int, "Seasons with fewer epochs (flagged or not) are not kept as lightcurves.",
                            minimum=1, maximum=10**6),
    }


def mag_to_flux(mag: np.ndarray, magerr: np.ndarray, zero_point: float) -> tuple[np.ndarray, np.ndarray]:
    """Convert magnitudes to flux on a zero-point scale, propagating errors to first order.

    Parameters
    ----------
    mag, magerr : numpy.ndarray
        Magnitudes and their one-sigma uncertainties.
    zero_point : float
        Magnitude of unit flux.

    Returns
    -------
    tuple of numpy.ndarray
        Flux and flux error.

    Examples
    --------
    >>> mag_to_flux(np.array([25.0]), np.array([0.1]), 25.0)[0].tolist()
    [1.0]
    """
    mag = np.asarray(mag, dtype=float)
    flux = 10.0 ** (-0.4 * (mag - zero_point))
    return flux, flux * _LN10_OVER_2P5 * np.asarray(magerr, dtype=float)


def split_seasons(mjd: np.ndarray, gap_days: float) -> np.ndarray:
    """Return a season index per epoch: a new season starts after each gap > ``gap_days``.

    Parameters
    ----------
    mjd : numpy.ndarray
        Epoch times, sorted.
    gap_days : float
        Minimum gap separating seasons.

    Returns
    -------
    numpy.ndarray
        Integer season index from 0, per epoch.
    """
    if mjd.size == 0:
        return np.zeros(0, dtype=int)
    return np.concatenate([[0], np.cumsum(np.diff(mjd) > gap_days)])


def reduce_photometry(
    columns: Mapping[str, np.ndarray],
    parameters: ReductionParameters,
    *,
    survey: str,
    source_name: str | None = None,
) -> list[Lightcurve]:
    """Split a uniform epoch table by filter and season into lightcurves.

    Parameters
    ----------
    columns : mapping
        ``mjd``, ``mag``, ``magerr``, ``filter``, ``flag``, ``exptime``, and
        optionally ``flux``/``fluxerr`` (otherwise computed from magnitudes)
        and the per-epoch quality columns of :data:`OPTIONAL_COLUMNS`.
    parameters : ReductionParameters
        Season gap, zero point, minimum epochs.
    survey : str
        Survey name stored on each lightcurve.
    source_name : str, optional
        For messages.

    Returns
    -------
    list of Lightcurve
        Ordered by filter then season; flagged epochs are kept and marked.

    Raises
    ------
    DataError
        If a required column is missing.
    """
    required = ("mjd", "mag", "magerr", "filter", "flag", "exptime")
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{survey} data of {source_name!r}: missing columns {missing}")
    # Each read of a parameter goes through Parameters.__getattr__; the dictionary of all of them is cheaper.
    settings = parameters.as_dict()
    mjd = np.asarray(columns["mjd"], dtype=float)
    table = {name: np.asarray(columns[name]) for name in columns}
    # Sorted, one-dimensional columns of one length (the usual table) are used as they are: a stable
    # sort would leave them in place. Anything else is gathered as before, which also raises (or
    # truncates) on ragged columns exactly as the gather always did.
    uniform = mjd.ndim == 1 and len({a.shape for a in table.values()}) == 1
    if not (uniform and _is_sorted(mjd)):
        order = np.argsort(mjd, kind="stable")
        table = {name: a[order] for name, a in table.items()}
    if "flux" not in table:
        # Contiguous input as the gathered copies were: the flux is computed by the same loops, bit for bit.
        table["flux"], table["fluxerr"] = mag_to_flux(np.ascontiguousarray(table["mag"]),
                                                      np.ascontiguousarray(table["magerr"]), settings["zero_point"])
    filters = table["filter"].astype(str)
    times = table["mjd"]
    finite = _finite_times(times)
    # Epochs with no time cannot be placed in a season: mark them bad, keep nothing undefined. With
    # every time finite and numeric flags this would change no value, so it is skipped.
    flag = table["flag"]
    if flag.dtype.kind not in "biuf":
        flag = table["flag"] = _integer_flags(flag, survey, source_name)
    if finite is not None or flag.shape != times.shape:
        table["flag"] = np.where(np.isfinite(times) if finite is None else finite, flag, 1 << 30)
    names = [name for name in _LIGHTCURVE_NAMES if name in table]
    # Columns the lightcurve would check and convert anyway are converted here, once, into its own arrays.
    # (Times wider than float64 could tie there yet not in their own type, which the lightcurve would re-sort.)
    # Uniform columns stay one-dimensional and of one length through the gather and the flux; a table
    # that was not (ragged columns the gather truncated) takes the checked path, to the same lightcurves.
    trusted = (uniform and times.dtype.kind == "f" and times.dtype.itemsize <= 8
               and table.keys() >= _REQUIRED_NAMES and {table[name].dtype.kind for name in names} <= _NUMERIC_KINDS)
    gap_days, min_epochs = settings["season_gap_days"], settings["min_epochs"]
    lightcurves = []
    for band, positions in _bands(filters):
        band_times = times if positions is None else times[positions]
        if finite is None:
            lo, hi = 0, band_times.size
        else:
            # Sorted times put -inf first and +inf, NaN last: the finite ones are one run.
            kept = np.flatnonzero(finite if positions is None else finite[positions])
            if kept.size == 0:
                continue
            lo, hi = int(kept[0]), int(kept[-1]) + 1
        for season, (start, stop) in enumerate(_season_bounds(band_times[lo:hi], gap_days)):
            if stop - start < min_epochs:
                continue
            rows = slice(lo + start, lo + stop) if positions is None else positions[lo + start:lo + stop]
            if trusted:
                # A slice is a view of the caller's array and is copied; a gather is already a copy.
                whole = positions is None and stop - start == times.size
                lightcurves.append(Lightcurve._adopt(survey, band, season, {
                    name: (table[name] if whole else table[name][rows]).astype(
                        np.int64 if name == "flag" else np.float64, copy=positions is None)
                    for name in names
                }, source_name=source_name))
            else:
                lightcurves.append(Lightcurve(survey, band, season, {name: table[name][rows] for name in names},
                                              source_name=source_name))
    return lightcurves


def _is_sorted(mjd: np.ndarray) -> bool:
    """Whether a stable sort would keep ``mjd`` in place (a NaN, which sorts last, fails the test)."""
    return mjd.size < 2 or np.count_nonzero(np.greater_equal(mjd[1:], mjd[:-1])) == mjd.size - 1


def _finite_times(times: np.ndarray) -> np.ndarray | None:
    """Return the mask of finite times (sorted), or None if all are finite."""
    if times.dtype.kind in "biu":
        return None
    if times.dtype.kind == "f" and times.ndim == 1 and (
            times.size == 0 or (math.isfinite(times[0]) and math.isfinite(times[-1]))):
        # Sorted: a non-finite time would be at an end (-inf first; +inf and NaN last).
        return None
    finite = np.isfinite(times)
    return None if finite.all() else finite


def _bands(filters: np.ndarray) -> Iterator[tuple[str, np.ndarray | None]]:
    """Yield ``(band, positions)`` in sorted band order; positions None means every epoch."""
    if filters.ndim == 1 and filters.size and filters.tobytes() == filters[:1].tobytes() * filters.size:
        # One filter (the usual case). Equal bytes mean equal strings: same width, zero-padded.
        yield filters[:1].tolist()[0], None
        return
    for band in sorted(set(filters.tolist())):
        yield band, np.flatnonzero(filters == band)


def _season_bounds(mjd: np.ndarray, gap_days: float) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` of each season of finite, sorted times, as :func:`split_seasons` numbers them."""
    if mjd.size == 0:
        return []
    # What np.diff computes (it compares booleans rather than subtracting them), without its overhead.
    steps = np.diff(mjd) if mjd.dtype.kind == "b" else mjd[1:] - mjd[:-1]
    gaps = steps > gap_days
    if not np.count_nonzero(gaps):
        return [(0, mjd.size)]
    edges = (gaps.nonzero()[0] + 1).tolist()
    return list(zip([0] + edges, edges + [mjd.size]))


def _integer_flags(flag: np.ndarray, survey: str, source_name: str | None) -> np.ndarray:
    """Return quality flags read as integers (text such as "4" from a CSV is), or raise naming a bad value."""
    try:
        return flag.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        bad = next(v for v in flag.ravel().tolist() if not _is_integer_text(v))
        raise DataError(f"{survey} data of {source_name!r}: column 'flag' holds {bad!r}, "
                        "not an integer quality flag") from None


def _is_integer_text(value) -> bool:
    try:
        np.int64(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True
