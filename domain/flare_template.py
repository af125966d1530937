"""The flare template of Davenport et al. (2014): its shape, its exact mean over an interval, its crossings."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["RISE_COEFFICIENTS", "DECAY_TERMS", "template", "template_mean", "crossings", "FWHM"]

#: Rise of the template, ``sum(c[k] x**k)`` for ``-1 < x <= 0`` (Davenport et al. 2014, ApJ 797, 122, eq. 1).
RISE_COEFFICIENTS = (1.00000, 1.94053, -0.175084, -2.24588, -1.12498)
#: Decay of the template, ``sum(weight * exp(-rate * x))`` for ``x > 0``, as (weight, rate) pairs (eq. 4).
DECAY_TERMS = ((0.689008, 1.60053), (0.302963, 0.278318))


def template(x: np.ndarray) -> np.ndarray:
    """Davenport et al. (2014) flare template, as AltaiPony's ``flare_model_davenport2014`` with unit amplitude.

    ``x = (t - t_peak) / t_half``. The template is 0 for ``x <= -1``, a quartic rise for
    ``-1 < x <= 0`` (1 at ``x = 0``, its maximum) and a sum of two exponentials for ``x > 0``
    (0.99197 just after the peak: the published fit is not continuous there, nor at
    ``x = -1``, where it jumps from 0 to 0.0053). Its full width at half maximum is
    :data:`FWHM` ``t_half``, not exactly one.

    Parameters
    ----------
    x : numpy.ndarray
        Time from the peak in units of ``t_half``.

    Returns
    -------
    numpy.ndarray
        The template, in units of its peak.
    """
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    rising, decaying = (x > -1.0) & (x <= 0.0), x > 0.0
    out[rising] = _rise(x[rising])
    out[decaying] = _decay(x[decaying])
    return out


def template_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of :func:`template` over ``[a, b]``, exactly (its antiderivative, piece by piece).

    Each piece's integral is written without differences of antiderivatives (divided
    differences of the powers of the rise, ``expm1`` for the decay), so an interval much
    shorter than ``t_half`` keeps full precision; where ``b == a`` it is ``template(a)``.

    Parameters
    ----------
    a, b : numpy.ndarray
        Ends of the intervals in units of ``t_half``, ``a <= b`` (broadcast together).

    Returns
    -------
    numpy.ndarray
        The mean of the template over each interval.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    shape = a.shape
    a, b = a.ravel(), b.ravel()
    integral = np.zeros_like(a)
    # Rise over [lo, hi] = [a, b] clipped to [-1, 0]: the mean of x**k is sum(lo**i hi**(k-i)) / (k + 1),
    # whose terms (both ends <= 0) all have one sign.
    rising = (a < 0.0) & (b > -1.0)
    lo, hi = np.clip(a[rising], -1.0, 0.0), np.clip(b[rising], -1.0, 0.0)
    power_sum, lo_power = np.ones_like(lo), np.ones_like(lo)
    rise = np.full_like(lo, RISE_COEFFICIENTS[0])
    for k, coefficient in enumerate(RISE_COEFFICIENTS[1:], start=1):
        lo_power = lo_power * lo
        power_sum = hi * power_sum + lo_power
        rise = rise + coefficient * power_sum / (k + 1)
    integral[rising] = (hi - lo) * rise
    # Decay over [lo, hi] = [a, b] clipped to [0, inf): weight e^(-rate lo) (1 - e^(-rate (hi - lo))) / rate.
    decaying = b > 0.0
    lo, hi = np.maximum(a[decaying], 0.0), b[decaying]
    decay = 0.0
    for weight, rate in DECAY_TERMS:
        decay = decay - weight / rate * np.exp(-rate * lo) * np.expm1(-rate * (hi - lo))
    integral[decaying] += decay
    length = b - a
    point = length <= 0
    mean = integral / np.where(point, 1.0, length)
    mean[point] = template(a[point])
    return mean.reshape(shape)


def crossings(level: float) -> tuple[float, float]:
    """Return where the template rises through ``level`` and where it decays through it.

    Parameters
    ----------
    level : float
        A fraction of the peak, in ``(0, 1)``.

    Returns
    -------
    tuple of float
        ``(x_rise, x_decay)`` in units of ``t_half``: the template exceeds ``level`` exactly
        on ``(x_rise, x_decay)`` (``x_rise = -1`` below the jump at the start, 0.0053;
        ``x_decay = 0`` above the one after the peak, 0.99197). Both branches are monotonic.

    Raises
    ------
    ValueError
        If ``level`` is not in ``(0, 1)``.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"a template crossing needs a level in (0, 1), got {level}")
    start, after_peak = _rise(-1.0), _decay(0.0)
    x_rise = -1.0 if level <= start else _bisect(lambda x: _rise(x) - level, -1.0, 0.0)
    if level >= after_peak:
        return x_rise, 0.0
    # The decay is below sum(weights) e^(-slowest rate x): it has crossed ``level`` by then.
    end = math.log(after_peak / level) / min(rate for _, rate in DECAY_TERMS)
    return x_rise, _bisect(lambda x: level - _decay(x), 0.0, end)


def _rise(x):
    total = 0.0
    for coefficient in reversed(RISE_COEFFICIENTS):
        total = total * x + coefficient
    return total


def _decay(x):
    return sum(weight * np.exp(-rate * x) for weight, rate in DECAY_TERMS)


def _bisect(increasing, low: float, high: float) -> float:
    # The root of an increasing function between low (negative there) and high (positive), to the last bit.
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return middle
        if increasing(middle) < 0:
            low = middle
        else:
            high = middle


_HALF_RISE, _HALF_DECAY = crossings(0.5)
#: Full width at half maximum of the template in units of its ``t_half``: 0.91288 (half maximum at
#: x = -0.27093 and at x = 0.64195).
FWHM = _HALF_DECAY - _HALF_RISE
