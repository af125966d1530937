"""Recovery of injected events: what the finder saw without the injection, and what the injection caused.

An injection is **recovered** only by a detection it caused: the finder's result on the un-injected
lightcurve is the reference, and a detection of the injected copy that a reference detection already
explains (same kind, overlapping, and not stronger by ``recovery_margin`` in |S/N|) does not count, so
real events and false alarms under an injection are never taken for its recovery. Each injection
records whether a reference detection overlapped it (``overlaps_real``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from virtualobserver.domain.detection import Detection
from virtualobserver.domain.events import InjectedEvent
from virtualobserver.domain.segments import Segments

__all__ = ["Reference", "reference_of", "references_many", "new_detection", "overlapping"]


@dataclass
class Reference:
    """What the finder made of one un-injected lightcurve, as injection and recovery need it.

    Attributes
    ----------
    good_mjds : numpy.ndarray
        Times of the epochs searched.
    baseline : float
        Typical baseline flux (the median of the trend).
    noise : float
        Typical single-epoch uncertainty of the S/N (the median of its denominators): an amplitude of
        ``A * noise`` at one epoch raises that epoch's S/N by ``A``.
    cadence : float
        Median step between searched epochs (days).
    trend : numpy.ndarray
        Baseline flux per epoch (all epochs; NaN where not searched): what an event multiplies.
    detections : list of Detection
        The finder's detections without any injection.
    half_exposures : numpy.ndarray, optional
        Half of each searched epoch's exposure (days): an event changes an epoch whose exposure
        overlaps its span.
    scores : Scores, optional
        The finder's scores of the un-injected lightcurve, which scoring an injected copy reuses.
    """

    good_mjds: np.ndarray
    baseline: float
    noise: float
    cadence: float
    trend: np.ndarray
    detections: list[Detection] = field(default_factory=list)
    half_exposures: np.ndarray | None = None
    scores: object = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        """Whether events can be injected and measured (two searched epochs, a positive baseline and noise)."""
        return self.good_mjds.size >= 2 and self.baseline > 0 and self.noise > 0

    def covers(self, start: float, end: float) -> bool:
        """Whether a searched epoch's exposure overlaps ``[start, end]`` (the event changes that epoch)."""
        half = self.half_exposures if self.half_exposures is not None else np.zeros(self.good_mjds.size)
        # The epochs are sorted and exposures short against the cadence: look at the first epoch ending
        # after the start, and its neighbours.
        at = int(np.searchsorted(self.good_mjds + half, start, side="left"))
        return bool(at < self.good_mjds.size and self.good_mjds[at] - half[at] <= end)

    @property
    def first(self) -> float:
        """Time of the first searched epoch."""
        return float(self.good_mjds[0])

    @property
    def last(self) -> float:
        """Time of the last searched epoch."""
        return float(self.good_mjds[-1])


def reference_of(mjds: np.ndarray, scores, detections: Sequence[Detection],
                 exptime: np.ndarray | None = None) -> Reference:
    """Return the :class:`Reference` of a lightcurve from the finder's scores and detections of it.

    Parameters
    ----------
    mjds : numpy.ndarray
        The lightcurve's times.
    exptime : numpy.ndarray, optional
        Exposure time of each epoch (seconds); instants if not given.
    scores : Scores
        The finder's scores of the un-injected lightcurve.
    detections : sequence of Detection
        Its detections.

    Returns
    -------
    Reference
        With the baseline, noise and cadence the finder measured.
    """
    good = scores.good
    times = mjds[good]
    scored = scores.uncertainty[good]
    scored = scored[np.isfinite(scored)]
    noise = float(np.median(scored)) if scored.size else float("nan")
    cadence = float(np.median(np.diff(times))) if times.size >= 2 else float("nan")
    trend = np.where(good, scores.trend, np.nan)
    if not np.isfinite(trend[good]).all():
        # An epoch without its own baseline (a lone epoch after a gap) takes the typical one.
        trend = np.where(good & ~np.isfinite(trend), scores.baseline, trend)
    half = None if exptime is None else np.asarray(exptime, dtype=float)[good] / 2.0 / 86400.0
    return Reference(good_mjds=times, baseline=float(scores.baseline), noise=noise, cadence=cadence,
                     trend=trend, detections=list(detections), half_exposures=half, scores=scores)


def references_many(lightcurves: Sequence, found: Sequence) -> list[Reference]:
    """Return the :class:`Reference` of many lightcurves at once: as :func:`reference_of` on each.

    Parameters
    ----------
    lightcurves : sequence of Lightcurve
        Loaded lightcurves.
    found : sequence of (Scores, list of Detection)
        The finder's result on each.

    Returns
    -------
    list of Reference
        One per lightcurve, in order.
    """
    if not lightcurves:
        return []
    good = np.concatenate([scores.good for scores, _ in found])
    uncertainty = np.concatenate([scores.uncertainty for scores, _ in found])
    segments = Segments([lc.mjds.size for lc in lightcurves])
    noises = segments.median(uncertainty, good & np.isfinite(uncertainty)).tolist()
    times = np.concatenate([lc.mjds for lc in lightcurves])[good]
    by_good = Segments(segments.counts(good))
    # Steps between searched epochs of the same lightcurve (the last of each is dropped).
    steps = np.diff(times) if times.size else times
    inside = np.ones(steps.size, bool)
    inside[by_good.stops[(by_good.stops > 0) & (by_good.stops <= steps.size)] - 1] = False
    cadences = Segments(np.maximum(by_good.lengths - 1, 0)).median(steps[inside]).tolist()
    references = []
    for lc, (scores, detections), noise, cadence, (first, last) in zip(lightcurves, found, noises, cadences,
                                                                      by_good.bounds):
        trend = np.where(scores.good, scores.trend, np.nan)
        lone = scores.good & ~np.isfinite(trend)
        if lone.any():  # an epoch without its own baseline (a lone epoch after a gap) takes the typical one
            trend = np.where(lone, scores.baseline, trend)
        half = np.asarray(lc.exptime, dtype=float)[scores.good] / 2.0 / 86400.0
        references.append(Reference(good_mjds=times[first:last], baseline=float(scores.baseline), noise=noise,
                                    cadence=cadence, trend=trend, detections=list(detections),
                                    half_exposures=half, scores=scores))
    return references


def overlapping(event: InjectedEvent, detections: Sequence[Detection], cadence: float) -> list[Detection]:
    """Return the detections whose span overlaps the event's span widened by one cadence."""
    low, high = event.start_mjd - cadence, event.end_mjd + cadence
    return [d for d in detections if d.start_mjd <= high and d.end_mjd >= low]


def new_detection(event: InjectedEvent, detections: Sequence[Detection], reference: Sequence[Detection],
                  cadence: float, margin: float) -> Detection | None:
    """Return the strongest detection of the injected copy that recovers ``event``, or None.

    A detection recovers the event when it has the event's direction, peaks within the event's span
    widened by one cadence (which admits the nearest epoch to an event shorter than the cadence), and
    was caused by the injection: no reference detection of the same kind overlaps it, or the one that
    does is weaker in |S/N| by at least ``margin``.

    Parameters
    ----------
    event : InjectedEvent
        The injected truth.
    detections : sequence of Detection
        Detections of the lightcurve with the event injected.
    reference : sequence of Detection
        Detections of the same lightcurve without it.
    cadence : float
        Median step between the lightcurve's epochs (days).
    margin : float
        How much stronger (|S/N|) than an overlapping reference detection a detection must be.

    Returns
    -------
    Detection or None
        The matching new detection of largest ``|snr|``.
    """
    low, high = event.start_mjd - cadence, event.end_mjd + cadence
    direction = event.direction
    candidates = [d for d in detections if d.kind == direction and low <= d.peak_mjd <= high]
    new = []
    for d in candidates:
        before = [r for r in reference if r.kind == d.kind and r.start_mjd <= d.end_mjd + cadence
                  and r.end_mjd >= d.start_mjd - cadence]
        if all(abs(d.snr) >= abs(r.snr) + margin for r in before):
            new.append(d)
    return max(new, key=lambda d: abs(d.snr), default=None)
