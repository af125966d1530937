"""Photometry of one season of a mission file as uniform lightcurve columns, cadences without a time kept and flagged."""

from __future__ import annotations

import numpy as np

from virtualobserver.adapters.surveys.spoc_format import NAN_FLAG

__all__ = ["photometry", "fill_missing_times"]

_MAGERR_FACTOR = 2.5 / np.log(10.0)


def photometry(mjd, cadenceno, flux, fluxerr, quality, mask: int, exptime: float,
               zero_point: float) -> dict[str, np.ndarray]:
    """Return the uniform lightcurve columns of one season (a sector, quarter or campaign).

    A cadence without a time stamp (NaN TIME, e.g. during a safe mode) is
    kept and flagged with :data:`~adapters.surveys.spoc_format.NAN_FLAG`; its
    ``mjd`` is filled in from the cadence number (see :func:`fill_missing_times`)
    so that the lightcurve stays sorted and convertible to astropy ``Time``.

    Parameters
    ----------
    mjd : array_like
        MJD (TDB) per cadence, NaN where the spacecraft gave no time.
    cadenceno : array_like
        Cadence numbers.
    flux, fluxerr : array_like
        Flux and error in e-/s.
    quality : array_like
        QUALITY (SAP_QUALITY) per cadence.
    mask : int
        Quality bits that make a cadence bad.
    exptime : float
        Seconds per cadence.
    zero_point : float
        Magnitude of 1 e-/s: ``mag = zero_point - 2.5 log10(flux)``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``mjd``, ``flux``, ``fluxerr``, ``mag``, ``magerr``, ``flag``, ``exptime``.
    """
    mjd = np.asarray(mjd, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    fluxerr = np.asarray(fluxerr, dtype=np.float64)
    flag = np.asarray(quality, dtype=np.int64) & mask
    flag = np.where(np.isfinite(mjd) & np.isfinite(flux), flag, flag | NAN_FLAG)
    positive = flux > 0
    safe = np.where(positive, flux, 1.0)
    mag = np.where(positive, zero_point - 2.5 * np.log10(safe), np.nan)
    magerr = np.where(positive, _MAGERR_FACTOR * fluxerr / safe, np.nan)
    return {"mjd": fill_missing_times(mjd, cadenceno, exptime / 86400.0), "flux": flux, "fluxerr": fluxerr,
            "mag": mag, "magerr": magerr, "flag": flag, "exptime": np.full(mjd.size, float(exptime))}


def fill_missing_times(mjd, cadenceno, cadence_days: float) -> np.ndarray:
    """Give cadences without a time the time their cadence number implies.

    Cadences are evenly spaced by one cadence number each (SPOC and Kepler
    alike, across the months of a Kepler quarter too), so a missing
    time between two known ones is interpolated linearly in cadence number
    (which also follows the slow drift of the barycentric correction), and
    one before the first or after the last known time is extrapolated by
    the cadence. Those cadences are flagged, so the filled times only keep
    the lightcurve in order.

    Parameters
    ----------
    mjd : array_like
        Times, NaN where missing.
    cadenceno : array_like
        Cadence numbers.
    cadence_days : float
        Cadence in days; when not finite, missing times stay NaN.

    Returns
    -------
    numpy.ndarray
        A copy of ``mjd`` with the missing times filled where possible.

    Examples
    --------
    >>> fill_missing_times([np.nan, 10.0, np.nan, 10.2], [0, 1, 2, 3], 0.1).round(6).tolist()
    [9.9, 10.0, 10.1, 10.2]
    """
    mjd = np.array(mjd, dtype=np.float64)
    missing = ~np.isfinite(mjd)
    known = np.flatnonzero(~missing)
    if not missing.any() or known.size == 0 or not np.isfinite(cadence_days):
        return mjd
    cadenceno = np.asarray(cadenceno, dtype=np.int64)
    order = known[np.argsort(cadenceno[known], kind="stable")]
    known_cadences = cadenceno[order]
    wanted = cadenceno[missing]
    known_times = mjd[order]
    filled = np.interp(wanted, known_cadences, known_times)
    before, after = wanted < known_cadences[0], wanted > known_cadences[-1]
    filled[before] = known_times[0] + (wanted[before] - known_cadences[0]) * cadence_days
    filled[after] = known_times[-1] + (wanted[after] - known_cadences[-1]) * cadence_days
    mjd[missing] = filled
    return mjd
