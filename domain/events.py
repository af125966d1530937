"""Event models for the Simulator: multiplicative flux factors of flares, bumps, dips and microlensing.

Every model is a factor on the flux (1 = no change) with a peak time, an amplitude (or, for
microlensing, an impact parameter) and a ``width`` in days whose meaning depends on the kind, as
:data:`WIDTH_MEANINGS` states; sampled at an instant, or averaged over each epoch's exposure, as a
survey's photometry is. The shapes themselves are in :mod:`domain.event_shapes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from virtualobserver.domain import event_shapes, flare_template
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.event_shapes import OCCULTATION_INGRESS_FRACTION, box, flare, gaussian, occultation, paczynski
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.vocabulary import DIMMING_KINDS, EVENT_KINDS

__all__ = ["EVENT_KINDS", "DIMMING_KINDS", "WIDTH_MEANINGS", "EDGE_FRACTION", "FLARE_SPAN",
           "OCCULTATION_INGRESS_FRACTION", "SECONDS_PER_DAY", "flare", "gaussian", "box", "occultation", "paczynski",
           "event_factor", "InjectedEvent"]

#: What ``width`` (days) means for each kind: the one place that says it (the configuration reference quotes it).
WIDTH_MEANINGS = ("t_half for flare (the time unit of the Davenport et al. 2014 template, which the paper calls its "
                  "full width at half maximum; the template's own is 0.913 t_half, and AltaiPony's 'dur' is 2 t_half), "
                  "sigma for gaussian_bump and gaussian_dip, full duration for box_bump, box_dip and occultation "
                  "(first to last contact), tE (Einstein radius crossing time) for microlensing.")
#: An event spans the times where the model deviates from 1 by more than this fraction of its peak deviation.
EDGE_FRACTION = 0.01
#: Where the flare template rises above and falls below ``EDGE_FRACTION`` of its peak, in units of
#: ``t_half`` from the peak: (-0.91151, 12.2559).
FLARE_SPAN = flare_template.crossings(EDGE_FRACTION)
#: Exposure times are in seconds, event times in days.
SECONDS_PER_DAY = 86400.0

_SHAPES = {"flare": flare, "gaussian_bump": gaussian, "gaussian_dip": gaussian, "box_bump": box, "box_dip": box,
           "occultation": occultation, "microlensing": paczynski}
_EXPOSURE_MEANS = {"flare": event_shapes.flare_mean, "gaussian_bump": event_shapes.gaussian_mean,
                   "gaussian_dip": event_shapes.gaussian_mean, "box_bump": event_shapes.box_mean,
                   "box_dip": event_shapes.box_mean, "occultation": event_shapes.occultation_mean,
                   "microlensing": event_shapes.paczynski_mean}


def event_factor(kind: str, mjd: np.ndarray, *, peak_mjd, width, amplitude=None, u0=None,
                 exptime=None) -> np.ndarray:
    """Return the flux factor of an event of ``kind`` at ``mjd`` (1 = no change), or its mean over each exposure.

    With ``exptime``, the factor of an epoch is its mean over ``[t - exptime / 2, t + exptime / 2]``
    (``mjd`` taken as mid-exposure), as the survey integrates it: exact for the flare
    (polynomial and exponentials), the boxes (overlap fraction), the occultation (piecewise
    linear) and the Gaussians (erf); for microlensing, Gauss-Legendre quadrature in
    ``asinh((t - t0) / (u0 tE))`` with as many nodes as the exposure spans in that variable
    (relative error below 1e-13). See the ``*_mean`` functions of :mod:`domain.event_shapes`.

    Parameters
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude, width, u0 : float or numpy.ndarray
        The event's parameters (see :class:`InjectedEvent`; ``u0`` for microlensing only, whose
        amplitude follows from it), or one value per time, to evaluate many events of a kind at once.
    exptime : float or numpy.ndarray, optional
        Exposure time in seconds, one for all or one per time. None, 0 or NaN (unknown) give
        the factor at the instant ``mjd``, bit for bit.

    Returns
    -------
    numpy.ndarray
        Flux factor at each time.

    Raises
    ------
    ValueError
        If an exposure time is negative or infinite.
    """
    main = u0 if kind == "microlensing" else amplitude
    if exptime is None:
        return _SHAPES[kind](mjd, peak_mjd, main, width)
    exptime = np.asarray(exptime, dtype=float)
    if np.any(exptime < 0) or np.any(np.isinf(exptime)):
        raise ValueError("exposure times must be non-negative and finite (NaN for unknown)")
    mjd, peak_mjd, main, width, exptime = np.broadcast_arrays(
        *(np.asarray(value, dtype=float) for value in (mjd, peak_mjd, main, width)), exptime)
    exposed = exptime > 0  # NaN compares False: unknown is instantaneous
    if exposed.all():
        return _EXPOSURE_MEANS[kind](mjd - peak_mjd, exptime / (2.0 * SECONDS_PER_DAY), main, width)
    # The shapes and means work element by element, so each part is what it would be on its own.
    factor = np.empty(mjd.shape)
    instant = ~exposed
    factor[instant] = _SHAPES[kind](mjd[instant], peak_mjd[instant], main[instant], width[instant])
    if exposed.any():
        factor[exposed] = _EXPOSURE_MEANS[kind](mjd[exposed] - peak_mjd[exposed],
                                                exptime[exposed] / (2.0 * SECONDS_PER_DAY), main[exposed],
                                                width[exposed])
    return factor


def _magnification(u: float) -> float:
    return (u * u + 2.0) / (u * math.sqrt(u * u + 4.0))


def _half_extents(kind: str, amplitude: float, width: float, u0: float | None) -> tuple[float, float]:
    """Return how far before and after the peak the model deviates by more than ``EDGE_FRACTION`` of its peak."""
    edge = EDGE_FRACTION
    if kind == "flare":
        return -FLARE_SPAN[0] * width, FLARE_SPAN[1] * width
    if kind in ("gaussian_bump", "gaussian_dip"):
        half = width * math.sqrt(2 * math.log(1 / edge))
    elif kind in ("box_bump", "box_dip"):
        half = width / 2.0
    elif kind == "occultation":
        half = width / 2.0 - edge * OCCULTATION_INGRESS_FRACTION * width
    else:  # microlensing: invert A(u) = a, u² = 2a / sqrt(a² - 1) - 2, at the edge magnification a
        a = 1.0 + edge * amplitude
        u_edge2 = 2.0 * a / math.sqrt(a * a - 1.0) - 2.0
        half = width * math.sqrt(max(u_edge2 - u0 * u0, 0.0))
    return half, half


@dataclass(frozen=True, kw_only=True)
class InjectedEvent:
    """The truth of one simulated event.

    Invariants: ``amplitude = factor(peak_mjd) - 1`` is positive for brightening
    kinds and in ``[-1, 0)`` for dips; for microlensing it follows from ``u0``;
    ``[start_mjd, end_mjd]`` is where the model deviates from 1 by more than
    ``EDGE_FRACTION`` of ``|amplitude|``. Build it with :meth:`create`, which
    derives those fields.

    Parameters
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    peak_mjd : float
        Time of the peak (mid-event for boxes and occultations).
    amplitude : float
        Fractional flux change at the peak (negative for dips).
    snr_amplitude : float or None
        ``amplitude`` in units of the lightcurve's noise (signed like ``amplitude``).
    width : float
        Width in days: ``t_half`` (flare), sigma (Gaussian), full duration (box, occultation),
        tE (microlensing), as :data:`WIDTH_MEANINGS` says.
    u0 : float or None
        Impact parameter (microlensing only).
    start_mjd, end_mjd : float
        Span of the event.
    cadence : float
        Median step between good epochs of the lightcurve it was drawn for (days);
        the tolerance of :meth:`domain.simulator.Simulator.match`.
    """

    kind: str
    peak_mjd: float
    amplitude: float
    width: float
    start_mjd: float
    end_mjd: float
    snr_amplitude: float | None = None
    u0: float | None = None
    cadence: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r} (known: {', '.join(EVENT_KINDS)})")
        if not self.width > 0:
            raise ValueError(f"{self.kind}: width must be positive, got {self.width}")
        if self.kind in DIMMING_KINDS and not -1.0 <= self.amplitude < 0:
            raise ValueError(f"{self.kind}: amplitude must be in [-1, 0), got {self.amplitude}")
        if self.kind not in DIMMING_KINDS and not self.amplitude > 0:
            raise ValueError(f"{self.kind}: amplitude must be positive, got {self.amplitude}")
        if self.kind == "microlensing" and not (self.u0 is not None and self.u0 > 0):
            raise ValueError(f"microlensing needs a positive u0, got {self.u0}")

    @classmethod
    def create(cls, kind: str, peak_mjd: float, width: float, amplitude: float | None = None, *,
               u0: float | None = None, snr_amplitude: float | None = None,
               cadence: float = 0.0) -> "InjectedEvent":
        """Build an event, deriving its span (and, for microlensing, its amplitude).

        Parameters
        ----------
        kind : str
            One of :data:`EVENT_KINDS`.
        peak_mjd : float
            Time of the peak.
        width : float
            Width or timescale in days.
        amplitude : float, optional
            Fractional flux change at the peak; ignored for microlensing, where it is ``A(u0) - 1``.
        u0 : float, optional
            Impact parameter (microlensing only).
        snr_amplitude : float, optional
            Amplitude in noise units, for the record.
        cadence : float
            Median epoch spacing of the target lightcurve (days).

        Returns
        -------
        InjectedEvent
            The validated event.

        Raises
        ------
        ValueError
            If the kind is unknown or a value is out of its range.
        """
        if kind == "microlensing":
            if u0 is None or not u0 > 0:
                raise ValueError(f"microlensing needs a positive u0, got {u0}")
            amplitude = _magnification(float(u0)) - 1.0
        else:
            u0 = None
        if amplitude is None:
            raise ValueError(f"{kind}: amplitude is required")
        if kind in EVENT_KINDS and width > 0:
            before, after = _half_extents(kind, float(amplitude), float(width), u0)
        else:  # let __post_init__ report the error
            before = after = 0.0
        return cls(kind=kind, peak_mjd=float(peak_mjd), amplitude=float(amplitude), width=float(width),
                   start_mjd=float(peak_mjd) - before, end_mjd=float(peak_mjd) + after,
                   snr_amplitude=None if snr_amplitude is None else float(snr_amplitude),
                   u0=None if u0 is None else float(u0), cadence=float(cadence))

    @property
    def direction(self) -> str:
        """Sign of the flux change as the finder names it: ``"brightening"`` or ``"dimming"``."""
        return DIMMING if self.kind in DIMMING_KINDS else BRIGHTENING

    def factor(self, mjd: np.ndarray, exptime: float | np.ndarray | None = None) -> np.ndarray:
        """Return the multiplicative flux factor of the event at ``mjd`` (1 = no change).

        Parameters
        ----------
        mjd : numpy.ndarray
            Times (MJD), mid-exposure.
        exptime : float or numpy.ndarray, optional
            Exposure times in seconds (one for all or one per time): the factor is then its mean
            over each exposure, as :func:`event_factor` computes it. None, 0 or NaN: at the instant.

        Returns
        -------
        numpy.ndarray
            Flux factor at each time.
        """
        return event_factor(self.kind, mjd, peak_mjd=self.peak_mjd, width=self.width, amplitude=self.amplitude,
                            u0=self.u0, exptime=exptime)

    def as_dict(self) -> dict[str, Any]:
        """Return every field, for storage as JSON; ``InjectedEvent(**d)`` rebuilds the event.

        Returns
        -------
        dict
            Field names to floats, strings or None.
        """
        # Every field is a float, a string or None: a flat dict equals asdict's deep copy, at a fraction of its cost.
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def to_injection(self, sequence: int, detection: Detection | None = None) -> Injection:
        """Return the persistable record of this event and its outcome.

        Parameters
        ----------
        sequence : int
            Index of the injection among those of its lightcurve.
        detection : Detection, optional
            The detection that recovered it (the caller marks it ``is_simulated``).

        Returns
        -------
        Injection
            With ``recovered`` set and the full event in ``params``.
        """
        injection = Injection(
            kind=self.kind, peak_mjd=self.peak_mjd, start_mjd=self.start_mjd, end_mjd=self.end_mjd,
            amplitude=self.amplitude, snr_amplitude=float("nan") if self.snr_amplitude is None
            else self.snr_amplitude, width=self.width, u0=self.u0, params=self.as_dict(),
            recovered=detection is not None, sequence=sequence,
        )
        injection.detection = detection
        return injection


#: Names of the fields of InjectedEvent, in order (``fields`` walks the class on every call).
_FIELD_NAMES = tuple(f.name for f in fields(InjectedEvent))
