"""Reduction of an epoch table to uniform lightcurves split by filter and season."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from domain.errors import DataError
from domain.lightcurve import LIGHTCURVE_COLUMNS, OPTIONAL_COLUMNS, Lightcurve
from domain.parameters import Param, Parameters

__all__ = ["ReductionParameters", "mag_to_flux", "split_seasons", "reduce_photometry"]

_LN10_OVER_2P5 = np.log(10.0) / 2.5


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
    mjd = np.asarray(columns["mjd"], dtype=float)
    order = np.argsort(mjd, kind="stable")
    table = {name: np.asarray(columns[name])[order] for name in columns}
    if "flux" not in table:
        table["flux"], table["fluxerr"] = mag_to_flux(table["mag"], table["magerr"], parameters.zero_point)
    filters = table["filter"].astype(str)
    # Epochs with no time cannot be placed in a season: mark them bad, keep nothing undefined.
    table["flag"] = np.where(np.isfinite(table["mjd"]), table["flag"], 1 << 30)
    lightcurves = []
    for band in sorted(set(filters.tolist())):
        in_band = filters == band
        band_mjd = table["mjd"][in_band]
        finite = np.isfinite(band_mjd)
        seasons = np.full(band_mjd.size, -1)
        seasons[finite] = split_seasons(band_mjd[finite], parameters.season_gap_days)
        for season in np.unique(seasons[finite]):
            rows = seasons == season
            if rows.sum() < parameters.min_epochs:
                continue
            lc_columns = {
                name: table[name][in_band][rows]
                for name in LIGHTCURVE_COLUMNS + OPTIONAL_COLUMNS if name in table
            }
            lightcurves.append(Lightcurve(survey, band, int(season), lc_columns, source_name=source_name))
    return lightcurves
