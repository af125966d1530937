"""Calibration of the excess-scatter test: when does the scatter of the residuals exceed the errors?

The finder adds a scatter the quoted errors do not explain only where the data show it: where the
robust standard deviation ``g`` of the residuals in units of their errors (1.4826 x MAD of the
single-epoch S/N computed with the errors alone) exceeds what pure noise with right errors gives,
at a chosen significance. Under that null hypothesis ``g`` depends only on the number of good epochs
``n``; for small ``n`` its distribution is skewed and biased low (the MAD of few values), so its
upper quantiles were measured by Monte Carlo on the finder's own statistic
(``python benchmarks/calibrate_statistics.py gate``) and are tabulated here; for large ``n`` they
follow ``1 + z * 1.1664 / sqrt(n)`` (the MAD's asymptotic efficiency on Gaussian data, 36.75 %).

Adding the excess only where it is significant keeps the S/N N(0, 1) on noise with right errors (an
estimate ``sqrt(max(g**2 - 1, 0))`` would be positive on noise and deflate every S/N); the price is
that an excess smaller than the test can see is not corrected: about ``3 * 1.17 / sqrt(n)`` of the
errors at 3 sigma (20 % at n = 300, 60 % at n = 33).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GATE_SIGNIFICANCES", "excess_threshold", "MAD_SD_FACTOR"]

#: Standard deviation of 1.4826 x MAD on n Gaussian values, times sqrt(n), for large n.
MAD_SD_FACTOR = 1.1664
#: Significances (one-sided Gaussian sigmas) of the tabulated quantiles.
GATE_SIGNIFICANCES = (1.0, 2.0, 3.0, 4.0, 5.0)
#: Numbers of good epochs of the table (above the last one the asymptotic form is used).
_GATE_SIZES = (10, 14, 20, 28, 40, 56, 80, 113, 160, 226, 320, 452, 640)
#: (quantile of g - 1) * sqrt(n) / MAD_SD_FACTOR at each size (rows) and significance (columns), measured
#: by ``python benchmarks/calibrate_statistics.py gate`` over 200,000 pure-noise lightcurves per size up to
#: n = 113 and 100,000 above (1-3 sigma; 4 and 5 sigma extrapolated linearly).
#: Small samples sit well above the asymptotic values (1, 2, 3, 4, 5): the MAD of few values is skewed.
_GATE_TABLE = np.array([
    [1.082, 2.515, 4.165, 5.814, 7.464],  # n = 10
    [1.084, 2.456, 4.051, 5.646, 7.241],  # n = 14
    [1.080, 2.359, 3.840, 5.320, 6.801],  # n = 20
    [1.066, 2.283, 3.662, 5.042, 6.421],  # n = 28
    [1.056, 2.240, 3.520, 4.799, 6.078],  # n = 40
    [1.050, 2.191, 3.456, 4.722, 5.988],  # n = 56
    [1.043, 2.168, 3.366, 4.564, 5.762],  # n = 80
    [1.034, 2.119, 3.248, 4.377, 5.506],  # n = 113
    [1.019, 2.097, 3.183, 4.269, 5.354],  # n = 160 (100,000 lightcurves each from here)
    [1.021, 2.086, 3.191, 4.296, 5.401],  # n = 226
    [1.025, 2.083, 3.172, 4.262, 5.352],  # n = 320
    [1.022, 2.062, 3.162, 4.263, 5.363],  # n = 452
    [1.009, 2.040, 3.055, 4.070, 5.085],  # n = 640
])


def excess_threshold(num_good, significance: float) -> np.ndarray:
    """Return the value of ``g`` that pure noise exceeds with the one-sided Gaussian tail of ``significance``.

    Parameters
    ----------
    num_good : int or array_like
        Numbers of good epochs.
    significance : float
        In Gaussian sigmas (one-sided); between the tabulated ones the threshold is interpolated
        linearly, beyond them extrapolated from the last two.

    Returns
    -------
    numpy.ndarray
        Thresholds of ``g``, one per number of epochs.
    """
    n = np.maximum(np.asarray(num_good, dtype=float), 1.0)  # below the table: its first row
    levels = np.array(GATE_SIGNIFICANCES)
    # Per tabulated size, the normalised excess at this significance (linear in the significance).
    column = np.array([_interpolate(levels, row, significance) for row in _GATE_TABLE])
    sizes = np.log(np.array(_GATE_SIZES, dtype=float))
    scaled = np.interp(np.log(n), sizes, column, left=column[0])
    # Beyond the table the statistic tends to a Gaussian (z * MAD_SD_FACTOR / sqrt(n)); its skewness,
    # what the table holds above z, fades as 1 / sqrt(n).
    largest = float(_GATE_SIZES[-1])
    beyond = significance + (column[-1] - significance) * np.sqrt(largest / np.maximum(n, largest))
    scaled = np.where(n > largest, beyond, scaled)
    return 1.0 + scaled * MAD_SD_FACTOR / np.sqrt(n)


def _interpolate(x: np.ndarray, y: np.ndarray, at: float) -> float:
    if at <= x[0] or at >= x[-1]:
        i = 0 if at <= x[0] else len(x) - 2
        return float(y[i] + (y[i + 1] - y[i]) * (at - x[i]) / (x[i + 1] - x[i]))
    return float(np.interp(at, x, y))


def _check() -> None:
    # The table's shape matches its axes (kept as a function so a bad edit fails at import, not mid-run).
    if _GATE_TABLE.shape != (len(_GATE_SIZES), len(GATE_SIGNIFICANCES)) or not math.isfinite(_GATE_TABLE.sum()):
        raise ValueError("calibration table does not match its axes")


_check()
