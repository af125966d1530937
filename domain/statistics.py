"""Robust statistics used by reduction and analysis."""

from __future__ import annotations

import numpy as np

__all__ = ["MAD_TO_SIGMA", "robust_std", "robust_location_scale"]

# For Gaussian data, sigma = 1.4826 * MAD.
MAD_TO_SIGMA = 1.482602218505602


def robust_std(values: np.ndarray) -> float:
    """Return the MAD-based standard deviation of finite values (NaN if none).

    Parameters
    ----------
    values : numpy.ndarray
        Sample.

    Returns
    -------
    float
        ``1.4826 * median(|x - median(x)|)``.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def robust_location_scale(values: np.ndarray) -> tuple[float, float]:
    """Return (median, robust standard deviation) of finite values.

    Parameters
    ----------
    values : numpy.ndarray
        Sample.

    Returns
    -------
    tuple of float
        Median and MAD-based standard deviation; NaNs for an empty sample.
    """
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    return float(np.median(finite)), robust_std(finite)
