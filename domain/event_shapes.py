"""Shapes of the simulated events: their flux factor at an instant, and its exact mean over an exposure."""

from __future__ import annotations

import math

import numpy as np

from virtualobserver.domain import flare_template

__all__ = ["OCCULTATION_INGRESS_FRACTION", "flare", "gaussian", "box", "occultation", "paczynski", "flare_mean",
           "gaussian_mean", "box_mean", "occultation_mean", "paczynski_mean", "erf"]

#: Duration of each of ingress and egress of an occultation as a fraction of its total duration.
OCCULTATION_INGRESS_FRACTION = 0.2


def _dt(mjd: np.ndarray, peak_mjd: float | np.ndarray) -> np.ndarray:
    # The shapes also take one parameter per time (arrays as long as mjd): many events at once.
    return np.asarray(mjd, dtype=float) - np.asarray(peak_mjd, dtype=float)


def flare(mjd: np.ndarray, peak_mjd: float, amplitude: float, width: float) -> np.ndarray:
    """Empirical flare of Davenport et al. (2014, ApJ 797, 122), as AltaiPony's ``flare_model_davenport2014``.

    ``1 + amplitude * template(x)`` with ``x = (t - peak_mjd) / width``: zero for ``x <= -1``,
    ``1 + 1.94053 x - 0.175084 x² - 2.24588 x³ - 1.12498 x⁴`` for ``-1 < x <= 0`` and
    ``0.689008 exp(-1.60053 x) + 0.302963 exp(-0.278318 x)`` for ``x > 0``
    (:func:`domain.flare_template.template`).

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude : float
        Time of the peak and fractional flux change there (positive).
    width : float
        ``t_half`` in days, the template's unit of time, which the paper calls the full width
        at half maximum (the template's own FWHM is :data:`domain.flare_template.FWHM`, 0.913
        of it). AltaiPony's model takes a duration ``dur`` and uses ``t_half = dur / 2``; this
        one takes ``t_half`` itself.

    Returns
    -------
    numpy.ndarray
        Flux factor, ``1 + amplitude`` at the peak (the template's maximum) and 1 far from it.
    """
    return 1.0 + amplitude * flare_template.template(_dt(mjd, peak_mjd) / width)


def gaussian(mjd: np.ndarray, peak_mjd: float, amplitude: float, width: float) -> np.ndarray:
    """Gaussian bump (``amplitude > 0``) or dip (``amplitude < 0``).

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude : float
        Time of the extremum and fractional flux change there.
    width : float
        Standard deviation in days.

    Returns
    -------
    numpy.ndarray
        Flux factor.
    """
    return 1.0 + amplitude * np.exp(-0.5 * (_dt(mjd, peak_mjd) / width) ** 2)


def box(mjd: np.ndarray, peak_mjd: float, amplitude: float, width: float) -> np.ndarray:
    """Box-shaped bump or dip: a constant change for ``width`` days centred on ``peak_mjd`` (edges included).

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude : float
        Centre of the box and fractional flux change inside it.
    width : float
        Full duration in days.

    Returns
    -------
    numpy.ndarray
        Flux factor.
    """
    return 1.0 + amplitude * _box_depth(_dt(mjd, peak_mjd), width)


def _box_depth(dt, width):
    return (np.abs(dt) <= width / 2.0).astype(float)


def occultation(mjd: np.ndarray, peak_mjd: float, amplitude: float, width: float) -> np.ndarray:
    """Occultation-like trapezoidal dip: linear ingress and egress around a flat bottom.

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude : float
        Mid-occultation time and fractional flux change at the bottom (negative; -1 is total).
    width : float
        Full duration (first to last contact) in days; ingress and egress each take
        ``OCCULTATION_INGRESS_FRACTION * width``.

    Returns
    -------
    numpy.ndarray
        Flux factor.
    """
    return 1.0 + amplitude * _trapezoid(_dt(mjd, peak_mjd), width)


def _trapezoid(dt, width):
    # The occultation's depth in units of its amplitude: 0 outside, 1 on the flat bottom.
    return np.clip((width / 2.0 - np.abs(dt)) / (OCCULTATION_INGRESS_FRACTION * width), 0.0, 1.0)


def paczynski(mjd: np.ndarray, peak_mjd: float, u0: float, width: float) -> np.ndarray:
    """Point-source point-lens (Paczyński) magnification.

    ``A(u) = (u² + 2) / (u sqrt(u² + 4))`` with ``u = sqrt(u0² + ((t - t0) / tE)²)``.

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, u0 : float
        Time of closest approach ``t0`` and impact parameter in Einstein radii (positive).
    width : float
        Einstein crossing time ``tE`` in days.

    Returns
    -------
    numpy.ndarray
        Magnification (flux factor), ``A(u0)`` at ``t0``.
    """
    u = np.hypot(u0, _dt(mjd, peak_mjd) / width)
    return (u**2 + 2.0) / (u * np.sqrt(u**2 + 4.0))


# -- means over an exposure ----------------------------------------------------------------------------------
# Each takes the time from the peak ``dt`` and half the exposure ``half`` (days, positive) and the shape's
# parameters, all of one shape (or scalars), and returns the mean of the factor over [dt - half, dt + half].

def flare_mean(dt, half, amplitude, width):
    """Mean of :func:`flare` over ``[dt - half, dt + half]``, exactly: the template's antiderivative, piece by piece.

    Parameters
    ----------
    dt, half : numpy.ndarray
        Times from the peak and half the exposure times (days; ``half > 0``).
    amplitude, width : float or numpy.ndarray
        As for :func:`flare`, one for all or one per time.

    Returns
    -------
    numpy.ndarray
        The mean flux factor over each exposure.
    """
    return 1.0 + amplitude * flare_template.template_mean((dt - half) / width, (dt + half) / width)


def gaussian_mean(dt, half, amplitude, width):
    """Mean of :func:`gaussian` over ``[dt - half, dt + half]``, exactly: a difference of erf.

    Where the half-exposure is below 0.01 sigma, the difference of two nearly equal erf would
    lose digits: there it is the mean's Taylor series in the half-exposure (error below 3e-15).

    Parameters
    ----------
    dt, half : numpy.ndarray
        Times from the peak and half the exposure times (days; ``half > 0``).
    amplitude, width : float or numpy.ndarray
        As for :func:`gaussian`, one for all or one per time.

    Returns
    -------
    numpy.ndarray
        The mean flux factor over each exposure.
    """
    shape, (dt, half, amplitude, width) = _flat(dt, half, amplitude, width)
    u, eta = dt / width, half / width
    u2, eta2 = u * u, eta * eta
    # The mean of g = exp(-v²/2) over [u - eta, u + eta] is sum_k g^(2k)(u) eta^2k / (2k + 1)!, with
    # g^(2k) = He_2k(u) g; to k = 2 its error is below 15 eta^6 / 7!, 3e-15 at the limit.
    mean = np.exp(-0.5 * u2) * (1.0 + (u2 - 1.0) * eta2 / 6.0 + (u2 * u2 - 6.0 * u2 + 3.0) * eta2 * eta2 / 120.0)
    wide = (eta >= _GAUSSIAN_TAYLOR_LIMIT) & (np.abs(u) - eta < 40.0)  # beyond 40 sigma both are 0
    low, high = (u[wide] - eta[wide]) / math.sqrt(2.0), (u[wide] + eta[wide]) / math.sqrt(2.0)
    # erf is accurate to 2e-15 absolute, so this mean to 2e-15 / eta (2e-13 at the limit).
    mean[wide] = math.sqrt(math.pi) / 2.0 * (erf(high) - erf(low)) / (high - low)
    return (1.0 + amplitude * mean).reshape(shape)


#: Half-exposures (in sigma) below which the Gaussian's mean is its Taylor series rather than a difference of erf.
_GAUSSIAN_TAYLOR_LIMIT = 0.01


def erf(x: np.ndarray) -> np.ndarray:
    """Error function, vectorised, to 2e-15 absolute (numpy has none; ``math.erf`` takes one number).

    For ``|x| < 2.5``, ``(2 / sqrt(pi)) exp(-x²) sum (2x²)^n x / (2n + 1)!!``, a series of
    positive terms (40 reach 1e-16 at 2.5); beyond, ``1 - erfc`` with the continued fraction
    ``erfc(x) = exp(-x²) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))``, 40 deep.

    Parameters
    ----------
    x : numpy.ndarray
        Arguments.

    Returns
    -------
    numpy.ndarray
        ``erf(x)``.
    """
    x = np.asarray(x, dtype=float)
    z = np.abs(x)
    out = np.empty_like(z)
    near = z < 2.5
    s = z[near]
    term, total = s.copy(), s.copy()
    for n in range(40):
        term = term * (2.0 * s * s) / (2 * n + 3)
        total += term
    out[near] = 2.0 / math.sqrt(math.pi) * np.exp(-s * s) * total
    s = z[~near]
    fraction = np.zeros_like(s)
    for k in range(40, 0, -1):
        fraction = (k / 2.0) / (s + fraction)
    out[~near] = 1.0 - np.exp(-s * s) / math.sqrt(math.pi) / (s + fraction)
    return np.copysign(out, x)


def box_mean(dt, half, amplitude, width):
    """Mean of :func:`box` over ``[dt - half, dt + half]``, exactly: the fraction of the exposure inside the box.

    Parameters
    ----------
    dt, half : numpy.ndarray
        Times from the peak and half the exposure times (days; ``half > 0``).
    amplitude, width : float or numpy.ndarray
        As for :func:`box`, one for all or one per time.

    Returns
    -------
    numpy.ndarray
        The mean flux factor over each exposure.
    """
    low, high = dt - half, dt + half
    inside = np.maximum(np.minimum(high, width / 2.0) - np.maximum(low, -width / 2.0), 0.0)
    return 1.0 + amplitude * _per_length(inside, high - low, dt, width, _box_depth)


def occultation_mean(dt, half, amplitude, width):
    """Mean of :func:`occultation` over ``[dt - half, dt + half]``, exactly.

    The shape is linear on each of ingress, bottom and egress: each part's integral is its
    length inside the exposure times its value at the middle of that length.

    Parameters
    ----------
    dt, half : numpy.ndarray
        Times from the peak and half the exposure times (days; ``half > 0``).
    amplitude, width : float or numpy.ndarray
        As for :func:`occultation`, one for all or one per time.

    Returns
    -------
    numpy.ndarray
        The mean flux factor over each exposure.
    """
    # No difference of antiderivatives, so no loss of digits for short exposures.
    low, high = dt - half, dt + half
    ingress = OCCULTATION_INGRESS_FRACTION * width
    edges = (-width / 2.0, ingress - width / 2.0, width / 2.0 - ingress, width / 2.0)
    integral = 0.0
    for start, end in zip(edges[:-1], edges[1:]):
        a, b = np.clip(low, start, end), np.clip(high, start, end)
        integral = integral + (b - a) * _trapezoid((a + b) / 2.0, width)
    return 1.0 + amplitude * _per_length(integral, high - low, dt, width, _trapezoid)


def _per_length(integral, length, dt, width, instant):
    # integral / length; where the exposure is below the resolution of the times (length 0), the value at dt.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 0, integral / np.where(length > 0, length, 1.0), instant(dt, width))


def paczynski_mean(dt, half, u0, width):
    """Mean of :func:`paczynski` over ``[dt - half, dt + half]``, by Gauss-Legendre quadrature.

    The rule runs in ``s = asinh((t - t0) / (u0 tE))``, in which the magnification's sharp peak
    (width ``u0 tE``) is smooth, with 4 to 256 nodes as the exposure spans more of ``s``; the
    relative error is below 1e-13 (tested against composite quadrature in ``t``).

    Parameters
    ----------
    dt, half : numpy.ndarray
        Times from the peak and half the exposure times (days; ``half > 0``).
    u0, width : float or numpy.ndarray
        As for :func:`paczynski`, one for all or one per time.

    Returns
    -------
    numpy.ndarray
        The mean flux factor over each exposure.
    """
    # With tau = u0 sinh(s), A dtau = (u² + 2) / sqrt(u² + 4) ds (u = u0 cosh s): the 1/u peak of width u0 tE
    # becomes smooth, analytic in the strip |Im s| < pi/2, so Gauss-Legendre in s converges geometrically, the
    # faster the shorter the exposure is in s. The mean is the ratio of the rule's integrals of A dtau and of
    # dtau, which needs no difference of the ends.
    shape, (dt, half, u0, width) = _flat(dt, half, u0, width)
    tau, eta = dt / width, half / width
    s_low, s_high = np.arcsinh((tau - eta) / u0), np.arcsinh((tau + eta) / u0)
    middle, reach = (s_low + s_high) / 2.0, (s_high - s_low) / 2.0
    mean = np.empty_like(middle)
    rule = np.searchsorted(_MICROLENSING_REACH, reach)  # index into _MICROLENSING_NODES
    for index in np.unique(rule).tolist():
        nodes, weights = _legendre(_MICROLENSING_NODES[index])
        at = np.flatnonzero(rule == index)
        for chunk in np.array_split(at, -(-at.size * nodes.size // _QUADRATURE_BLOCK)):
            u = u0[chunk, None] * np.cosh(middle[chunk, None] + reach[chunk, None] * nodes)
            mean[chunk] = ((u * u + 2.0) / np.sqrt(u * u + 4.0)) @ weights / (u @ weights)
    return mean.reshape(shape)


#: Gauss-Legendre rules for microlensing: _MICROLENSING_NODES[i] nodes where half the exposure in s is at most
#: _MICROLENSING_REACH[i] (relative error below 1e-13 for u0 in [1e-4, 10] and exposures up to 1e9 u0 tE).
_MICROLENSING_NODES = (4, 8, 16, 32, 64, 128, 256)
_MICROLENSING_REACH = (0.05, 0.4, 0.9, 2.0, 6.0, 16.0)
#: Most nodes evaluated at once (memory of the quadrature's temporaries).
_QUADRATURE_BLOCK = 1 << 20
_LEGENDRE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _flat(*values):
    # The common shape of the values, and each as a flat array of that many elements.
    arrays = np.broadcast_arrays(*(np.asarray(value, dtype=float) for value in values))
    return arrays[0].shape, [array.ravel() for array in arrays]


def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _LEGENDRE:
        _LEGENDRE[n] = np.polynomial.legendre.leggauss(n)
    return _LEGENDRE[n]
