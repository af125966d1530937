"""TESS photometry of one sector as uniform lightcurve columns (the shared SPOC photometry at the TESS zero point)."""

from __future__ import annotations

import numpy as np

from virtualobserver.adapters.surveys.spoc_photometry import fill_missing_times
from virtualobserver.adapters.surveys.spoc_photometry import photometry as spoc_photometry
from virtualobserver.adapters.surveys.tess_format import TESS_ZERO_POINT

__all__ = ["photometry", "fill_missing_times"]


def photometry(mjd, cadenceno, flux, fluxerr, quality, mask: int, exptime: float) -> dict[str, np.ndarray]:
    """Return the uniform lightcurve columns of one sector, magnitudes at the TESS zero point.

    Parameters
    ----------
    mjd, cadenceno, flux, fluxerr, quality, mask, exptime
        As for :func:`adapters.surveys.spoc_photometry.photometry`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``mjd``, ``flux``, ``fluxerr``, ``mag``, ``magerr``, ``flag``, ``exptime``.
    """
    return spoc_photometry(mjd, cadenceno, flux, fluxerr, quality, mask, exptime, TESS_ZERO_POINT)
