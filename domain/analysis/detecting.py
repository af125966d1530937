"""Detections from scores: events found, merged and measured as the flare community measures them.

An event of one sign (brightening or dimming) is

* **seeded** by a good epoch whose best score (single epoch or any matched-filter width) reaches
  ``threshold``;
* **extended** over the contiguous run of good epochs whose single-epoch residual S/N has that sign
  and reaches ``extent_threshold`` (the excursion of the detrended residual); a matched-filter seed
  whose window holds no such epoch (a long, faint event) spans its window;
* **merged** with runs of the same sign at most ``merge_epochs`` good epochs away (fragments of one
  flare, as AltaiPony's ``minsep``);
* **confirmed**, if ``min_consecutive`` > 1, by that many consecutive epochs of single-epoch S/N at
  least ``consecutive_threshold`` within it (AltaiPony's ``N3`` and ``N1``);
* **measured** against a baseline without the event's epochs: its peak is the epoch of extreme
  residual flux; its amplitude ``f_peak / baseline - 1``; its equivalent duration
  ``sum((f_j / baseline_j - 1) dt_j)`` in seconds over its epochs, ``dt_j`` the time to the next
  good epoch (AltaiPony's ``equivalent_duration``; a step over a gap longer than four cadences
  counts one cadence), with error ``sqrt(sum((sigma_j / baseline_j dt_j)**2))``.

Every event is kept unless ``max_detections`` caps the list, in which case the weakest are dropped
and counted (``Scores.detections_dropped``).
"""

from __future__ import annotations

import numpy as np

from virtualobserver.domain.analysis.baselines import sliding_window_bounds, windowed_biweight
from virtualobserver.domain.analysis.scoring import Scores
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.lightcurve import Lightcurve

__all__ = ["find_detections", "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86400.0
#: A step to the next good epoch longer than this many cadences is a gap: it counts one cadence in the ED.
_GAP_CADENCES = 4.0


def find_detections(lightcurve: Lightcurve, scores: Scores, parameters, quality=None) -> list[Detection]:
    """Find, merge and measure the events of both signs in one scored lightcurve.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    scores : Scores
        Its scores (sets ``scores.detections_dropped``).
    parameters : AnalysisParameters
        Thresholds, direction, merging, cap and detrending.
    quality : QualityResult, optional
        If given, each detection records the worst value of every cut over its epochs.

    Returns
    -------
    list of Detection
        Strongest first (by |S/N|), at most ``max_detections``.
    """
    scores.detections_dropped = 0
    rows = np.flatnonzero(scores.good)
    if rows.size < parameters.min_good_epochs:
        return []
    mjd, flux = lightcurve.mjds[rows], lightcurve.flux[rows]
    snr = scores.snr[rows]
    best_all, width_all = scores.best
    best, widths = best_all[rows], width_all[rows]
    found: list[tuple[str, float, int, int, int]] = []
    for sign, kind in ((1.0, BRIGHTENING), (-1.0, DIMMING)):
        if parameters.direction not in ("both", kind):
            continue
        for first, last, seed in _events(mjd, sign * snr, sign * best, widths, parameters):
            if _confirmed(sign * snr[first:last + 1], parameters):
                found.append((kind, sign, first, last, seed))
    if not found:
        return []
    baseline = _event_baseline(mjd, flux, scores, rows, found, parameters)
    sigma = scores.sigma[rows]
    steps = _time_steps(mjd)
    detections = []
    for kind, sign, first, last, strongest in found:
        span = slice(first, last + 1)
        peak = first + int(np.argmax(sign * (flux[span] - baseline[span])))
        relative = flux[span] / baseline[span] - 1.0
        ed = float(np.sum(relative * steps[span])) * SECONDS_PER_DAY
        ed_err = float(np.sqrt(np.sum((sigma[span] / baseline[span] * steps[span]) ** 2))) * SECONDS_PER_DAY
        detections.append(Detection(
            kind=kind, peak_mjd=mjd[peak], start_mjd=mjd[first], end_mjd=mjd[last], snr=best[strongest],
            peak_flux=flux[peak], delta_mag=_delta_mag(flux[peak], baseline[peak]), num_epochs=last - first + 1,
            baseline_flux=baseline[peak], filter_width=widths[strongest], first_epoch=int(rows[first]),
            last_epoch=int(rows[last]),
            quality=quality.over(int(rows[first]), int(rows[last])) if quality is not None else None,
            peak_snr=snr[peak], amplitude=flux[peak] / baseline[peak] - 1.0, equivalent_duration=ed,
            equivalent_duration_err=ed_err,
        ))
    detections.sort(key=lambda d: -abs(d.snr))
    scores.detections_dropped = max(0, len(detections) - parameters.max_detections)
    return detections[: parameters.max_detections]


def _events(mjd: np.ndarray, snr: np.ndarray, best: np.ndarray, widths: np.ndarray, parameters
            ) -> list[tuple[int, int, int]]:
    """Return (first, last, strongest seed) good-epoch positions of the events of one sign (signed scores)."""
    threshold = parameters.threshold
    with np.errstate(invalid="ignore"):
        seeds = np.flatnonzero(best >= threshold)
        if not seeds.size:
            return []
        # Single-epoch seeds reach the threshold, hence the extent threshold: each is in a run.
        runs = _runs(snr >= min(parameters.extent_threshold, threshold))  # [first, stop) of each excursion
    run_of = np.full(mjd.size, -1)
    for number, (first, stop) in enumerate(runs):
        run_of[first:stop] = number
    peaks = np.array([np.max(snr[first:stop]) for first, stop in runs]) if runs else np.zeros(0)
    seed_of_run = np.full(len(runs), -1)
    pending = []  # matched-filter seeds without a single-epoch event in their window

    def assign(number: int, seed: int) -> None:
        if seed_of_run[number] < 0 or best[seed] > best[seed_of_run[number]]:
            seed_of_run[number] = seed

    def window(seed: int) -> tuple[int, int]:
        return (int(np.searchsorted(mjd, mjd[seed] - widths[seed] / 2.0, side="left")),
                int(np.searchsorted(mjd, mjd[seed] + widths[seed] / 2.0, side="right")))

    for seed in seeds.tolist():
        if widths[seed] == 0:
            assign(run_of[seed], seed)
            continue
        # A matched-filter seed belongs to the strongest single-epoch event in its window.
        lo, hi = window(seed)
        inside = np.unique(run_of[lo:hi])
        inside = inside[inside >= 0]
        if inside.size and peaks[inside].max() >= threshold:
            assign(int(inside[np.argmax(peaks[inside])]), seed)
        else:
            pending.append((lo, hi, seed))
    # Fragments of one event merged: runs at most merge_epochs good epochs apart.
    events = _merge([(first, stop, int(seed)) for (first, stop), seed in zip(runs, seed_of_run)], best,
                    parameters.merge_epochs)
    events = [event for event in events if event[2] >= 0]
    windows = []
    for lo, hi, seed in pending:
        # Within a window's width of an event (a flare's faint tail), the seed joins that event without
        # stretching it; alone (a long event too faint for single epochs), its window is the event.
        size = hi - lo
        near = [(max(first - hi, lo - stop), i) for i, (first, stop, _) in enumerate(events)
                if first - size < hi and lo < stop + size]
        if near:
            event = events[min(near)[1]]
            if best[seed] > best[event[2]]:
                event[2] = seed
        else:
            windows.append((lo, hi, seed))
    # Windows of one faint event overlap: merged, then trimmed to the epochs of the event's sign at its ends.
    long_events = []
    for first, stop, seed in _merge(sorted(windows), best, 0):
        inside = np.flatnonzero(snr[first:stop] > 0)
        if inside.size:
            long_events.append([first + int(inside[0]), first + int(inside[-1]) + 1, seed])
    merged = _merge(sorted([tuple(event) for event in events] + [tuple(e) for e in long_events]), best, 0)
    return [(first, stop - 1, seed) for first, stop, seed in merged]


def _confirmed(snr: np.ndarray, parameters) -> bool:
    """Return whether an event's signed single-epoch S/N hold ``min_consecutive`` epochs in a row at the threshold."""
    needed = parameters.min_consecutive
    if needed <= 1:
        return True
    with np.errstate(invalid="ignore"):
        runs = _runs(snr >= parameters.consecutive_threshold)
    return any(stop - first >= needed for first, stop in runs)


def _merge(intervals: list[tuple[int, int, int]], best: np.ndarray, reach: int) -> list[list[int]]:
    # Sorted [first, stop) intervals with their strongest seed (-1: none), merged where at most
    # ``reach`` epochs apart.
    merged: list[list[int]] = []
    for first, stop, seed in intervals:
        if merged and first - merged[-1][1] <= reach:
            last = merged[-1]
            last[1] = max(last[1], stop)
            if seed >= 0 and (last[2] < 0 or best[seed] > best[last[2]]):
                last[2] = seed
        else:
            merged.append([first, stop, seed])
    return merged


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _event_baseline(mjd, flux, scores: Scores, rows, found, parameters) -> np.ndarray:
    """Return the baseline flux of every good epoch with the epochs of all events left out."""
    in_event = np.zeros(rows.size, bool)
    for _, _, first, last, _ in found:
        in_event[first:last + 1] = True
    if parameters.detrend == "biweight":
        # Only epochs whose window holds an event's epoch change (the extent is measured on them,
        # so a flare's own tail must not raise its baseline); the others keep their scoring trend.
        lo, hi = sliding_window_bounds(mjd, parameters.detrend_window_days)
        events_before = np.concatenate([[0], np.cumsum(in_event)])
        near = events_before[hi] - events_before[lo] > 0
        baseline, _, _ = windowed_biweight(flux, lo, hi, excluded=in_event, rows=np.flatnonzero(near))
        baseline = np.where(near, baseline, scores.trend[rows])
    else:
        sample = scores.sample[rows] & ~in_event
        if not sample.any():
            sample = scores.sample[rows]
        baseline = np.full(rows.size, float(np.median(flux[sample])))
    known = np.isfinite(baseline)
    if not known.all():
        # An event longer than the window leaves no epoch to measure its baseline from: interpolate.
        if not known.any():
            return scores.trend[rows]
        baseline = np.interp(mjd, mjd[known], baseline[known])
    return baseline


def _time_steps(mjd: np.ndarray) -> np.ndarray:
    """Return each epoch's time to the next good epoch (days), a gap counting one median cadence."""
    if mjd.size < 2:
        return np.zeros(mjd.size)
    steps = np.diff(mjd)
    cadence = float(np.median(steps))
    steps = np.where(steps > _GAP_CADENCES * cadence, cadence, steps)
    return np.concatenate([steps, [cadence]])


def _delta_mag(flux: float, baseline: float) -> float:
    if flux > 0 and baseline > 0:
        return float(-2.5 * np.log10(flux / baseline))
    return float("nan")
