"""Event models for the Simulator: multiplicative flux factors of flares, bumps, dips and microlensing."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from domain.detection import BRIGHTENING, DIMMING, Detection
from domain.injection import Injection

__all__ = ["EVENT_KINDS", "DIMMING_KINDS", "EDGE_FRACTION", "FLARE_RISE_FRACTION", "OCCULTATION_INGRESS_FRACTION",
           "flare", "gaussian", "box", "occultation", "paczynski", "event_factor", "InjectedEvent"]

#: Every event model the Simulator can inject.
EVENT_KINDS = ("flare", "gaussian_bump", "gaussian_dip", "box_bump", "box_dip", "occultation", "microlensing")
#: Models that make the source fainter; all others brighten it.
DIMMING_KINDS = frozenset({"gaussian_dip", "box_dip", "occultation"})
#: An event spans the times where the model deviates from 1 by more than this fraction of its peak deviation.
EDGE_FRACTION = 0.01
#: Rise e-folding time of a flare as a fraction of its decay time (its ``width``).
FLARE_RISE_FRACTION = 0.1
#: Duration of each of ingress and egress of an occultation as a fraction of its total duration.
OCCULTATION_INGRESS_FRACTION = 0.2


def _dt(mjd: np.ndarray, peak_mjd: float | np.ndarray) -> np.ndarray:
    # The shapes also take one parameter per time (arrays as long as mjd): many events at once.
    return np.asarray(mjd, dtype=float) - np.asarray(peak_mjd, dtype=float)


def flare(mjd: np.ndarray, peak_mjd: float, amplitude: float, width: float) -> np.ndarray:
    """Fast-rise exponential-decay (FRED) flare.

    Parameters
    ----------
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude : float
        Time of the peak and fractional flux change there (positive).
    width : float
        Decay e-folding time in days; the rise e-folds ``FLARE_RISE_FRACTION`` times faster.

    Returns
    -------
    numpy.ndarray
        Flux factor, ``1 + amplitude`` at the peak and 1 far from it.
    """
    dt = _dt(mjd, peak_mjd)
    # Both exponents are clipped to <= 0 so that neither branch of np.where overflows.
    rise = np.exp(np.minimum(dt, 0.0) / (FLARE_RISE_FRACTION * width))
    decay = np.exp(-np.maximum(dt, 0.0) / width)
    return 1.0 + amplitude * np.where(dt < 0, rise, decay)


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
    return 1.0 + amplitude * (np.abs(_dt(mjd, peak_mjd)) <= width / 2.0)


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
    ingress = OCCULTATION_INGRESS_FRACTION * width
    depth = np.clip((width / 2.0 - np.abs(_dt(mjd, peak_mjd))) / ingress, 0.0, 1.0)
    return 1.0 + amplitude * depth


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


_SHAPES = {"flare": flare, "gaussian_bump": gaussian, "gaussian_dip": gaussian,
           "box_bump": box, "box_dip": box, "occultation": occultation}


def event_factor(kind: str, mjd: np.ndarray, *, peak_mjd, width, amplitude=None, u0=None) -> np.ndarray:
    """Return the flux factor of an event of ``kind`` at ``mjd`` (1 = no change).

    Parameters
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    mjd : numpy.ndarray
        Times (MJD).
    peak_mjd, amplitude, width, u0 : float or numpy.ndarray
        The event's parameters (see :class:`InjectedEvent`; ``u0`` for microlensing only, whose
        amplitude follows from it), or one value per time, to evaluate many events of a kind at once.

    Returns
    -------
    numpy.ndarray
        Flux factor at each time.
    """
    if kind == "microlensing":
        return paczynski(mjd, peak_mjd, u0, width)
    return _SHAPES[kind](mjd, peak_mjd, amplitude, width)


def _magnification(u: float) -> float:
    return (u * u + 2.0) / (u * math.sqrt(u * u + 4.0))


def _half_extents(kind: str, amplitude: float, width: float, u0: float | None) -> tuple[float, float]:
    """Return how far before and after the peak the model deviates by more than ``EDGE_FRACTION`` of its peak."""
    edge = EDGE_FRACTION
    if kind == "flare":
        return FLARE_RISE_FRACTION * width * math.log(1 / edge), width * math.log(1 / edge)
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
        Width in days: decay time (flare), sigma (Gaussian), duration (box, occultation), tE (microlensing).
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

    def factor(self, mjd: np.ndarray) -> np.ndarray:
        """Return the multiplicative flux factor of the event at ``mjd`` (1 = no change).

        Parameters
        ----------
        mjd : numpy.ndarray
            Times (MJD).

        Returns
        -------
        numpy.ndarray
            Flux factor at each time.
        """
        return event_factor(self.kind, mjd, peak_mjd=self.peak_mjd, width=self.width, amplitude=self.amplitude,
                            u0=self.u0)

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
