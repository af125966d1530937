"""Finder: per-epoch and matched-filter S/N against a robust baseline; detections of both signs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from domain.detection import BRIGHTENING, DIMMING, Detection
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.segments import Segments
from domain.statistics import robust_location_scale

__all__ = ["AnalysisParameters", "Scores", "score_lightcurve", "score_many", "find_detections", "find_events",
           "find_events_many", "robust_baseline", "matched_filter"]


class AnalysisParameters(Parameters):
    """Parameters of the analysis step (lightcurves -> scores and detections)."""

    SPECS = {
        "threshold": Param(5.0, float, "|S/N| an epoch (or a matched-filter window) must reach to seed a "
                           "detection.", minimum=0.5, maximum=1000.0),
        "extent_threshold": Param(2.0, float, "|S/N| of neighbouring epochs that extends an event "
                                  "(the sideband threshold).", minimum=0.0, maximum=1000.0),
        "direction": Param("both", str, "Which events to look for.",
                           choices=("both", BRIGHTENING, DIMMING)),
        "max_detections": Param(10, int, "Most detections kept per lightcurve (strongest first).",
                                minimum=1, maximum=10**6),
        "min_good_epochs": Param(5, int, "Lightcurves with fewer good epochs are not searched.",
                                 minimum=2, maximum=10**6),
        "excess_scatter": Param(True, bool, "Add scatter beyond the quoted errors (measured robustly) "
                                "to the per-epoch uncertainty."),
        "widths_days": Param([], list, "Widths (days) of the matched (box) filter for events longer than one "
                             "epoch; empty = single-epoch search only. Each width adds trials: the "
                             "false-alarm rate per epoch grows accordingly.", item_kind=float),
        "save_epoch_scores": Param(True, bool, "Keep every epoch's scores, quality flag and cut values on disk "
                                   "(one HDF5 file per source), to judge detections later.", science=False),
        "clip_sigma": Param(3.0, float, "Epochs further than this many robust sigmas from the median are left "
                            "out of the baseline, so an event does not bias it.", minimum=1.0, maximum=100.0),
    }


@dataclass
class Scores:
    """Per-epoch scores of one lightcurve.

    Attributes
    ----------
    snr : numpy.ndarray
        Signed single-epoch S/N against the baseline (NaN for bad epochs).
    delta_mag : numpy.ndarray
        Magnitude difference from the baseline (negative = brighter).
    baseline : float
        Robust baseline flux.
    scatter : float
        Excess scatter added in quadrature to the flux errors.
    good : numpy.ndarray
        Epochs that were scored.
    filtered : dict of float to numpy.ndarray
        Matched-filter S/N per width (days), centred on each epoch (NaN for bad epochs).
    """

    snr: np.ndarray
    delta_mag: np.ndarray
    baseline: float
    scatter: float
    good: np.ndarray
    filtered: dict[float, np.ndarray] = field(default_factory=dict)

    @property
    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Per epoch, the (signed) score of largest magnitude over single epoch and every width, and its width."""
        best, width = self.snr.copy(), np.zeros(self.snr.size)
        for w, values in self.filtered.items():
            better = np.abs(values) > np.abs(np.nan_to_num(best, nan=0.0))
            best[better], width[better] = values[better], w
        return best, width


def robust_baseline(flux: np.ndarray, clip_sigma: float) -> tuple[float, float]:
    """Return (baseline, robust spread) of ``flux``: a median, recomputed without outliers.

    Parameters
    ----------
    flux : numpy.ndarray
        Fluxes of good epochs.
    clip_sigma : float
        Epochs further than this many robust sigmas are excluded from the second pass.

    Returns
    -------
    tuple of float
        Baseline flux and robust standard deviation (of the clipped sample).
    """
    centre, spread = robust_location_scale(flux)
    if np.isfinite(spread) and spread > 0:
        kept = flux[np.abs(flux - centre) <= clip_sigma * spread]
        if kept.size >= 3:
            centre, spread = robust_location_scale(kept)
    return centre, spread


def matched_filter(mjd: np.ndarray, residual: np.ndarray, sigma: np.ndarray, width: float) -> np.ndarray:
    """Return the S/N of a box of ``width`` days centred on each epoch (inverse-variance weighted).

    For epochs j inside the window, S/N = sum(r_j / s_j^2) / sqrt(sum(1 / s_j^2)), which is
    N(0, 1) on pure noise and the optimal statistic for a box-shaped event of that width.

    Parameters
    ----------
    mjd : numpy.ndarray
        Sorted times of the good epochs.
    residual, sigma : numpy.ndarray
        Flux minus baseline, and the per-epoch uncertainty.
    width : float
        Box width in days.

    Returns
    -------
    numpy.ndarray
        S/N per epoch.
    """
    weights = 1.0 / sigma**2
    signal = np.concatenate([[0.0], np.cumsum(residual * weights)])
    norm = np.concatenate([[0.0], np.cumsum(weights)])
    lo = np.searchsorted(mjd, mjd - width / 2.0, side="left")
    hi = np.searchsorted(mjd, mjd + width / 2.0, side="right")
    return (signal[hi] - signal[lo]) / np.sqrt(norm[hi] - norm[lo])


def score_lightcurve(lightcurve: Lightcurve, parameters: AnalysisParameters,
                     good: np.ndarray | None = None) -> Scores:
    """Compute per-epoch S/N, delta-mag and matched-filter S/N against a robust baseline.

    The baseline is a median of good epochs recomputed without outliers beyond
    ``clip_sigma``, so that an event does not bias it. The uncertainty of each
    epoch is its flux error plus, if ``excess_scatter``, the robust scatter the
    errors do not explain.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    parameters : AnalysisParameters
        Analysis parameters.
    good : numpy.ndarray, optional
        Epochs to use (e.g. from the QualityChecker); default ``lightcurve.good``.

    Returns
    -------
    Scores
        Scores of every epoch (NaN where not good).
    """
    return score_many([lightcurve], parameters, None if good is None else [good])[0]


def score_many(lightcurves: Sequence[Lightcurve], parameters: AnalysisParameters,
               goods: Sequence[np.ndarray] | None = None) -> list[Scores]:
    """Score many lightcurves: the same as :func:`score_lightcurve` on each, one numpy call per step for all.

    Parameters
    ----------
    lightcurves : sequence of Lightcurve
        Loaded lightcurves.
    parameters : AnalysisParameters
        Analysis parameters.
    goods : sequence of numpy.ndarray, optional
        Epochs to use in each lightcurve; default each lightcurve's ``good``.

    Returns
    -------
    list of Scores
        One per lightcurve, in order.
    """
    return _score_batch(lightcurves, parameters, goods)[0] if lightcurves else []


def _score_batch(lightcurves: Sequence[Lightcurve], parameters: AnalysisParameters,
                 goods: Sequence[np.ndarray] | None) -> tuple[list[Scores], Segments, np.ndarray, np.ndarray]:
    # score_many of a non-empty batch, with the batch's segments, good mask and S/N laid end to end.
    segments = Segments([lc.mjds.size for lc in lightcurves])
    flux = np.concatenate([lc.flux for lc in lightcurves]).astype(float, copy=False)
    fluxerr = np.concatenate([lc.fluxerr for lc in lightcurves]).astype(float, copy=False)
    good = np.concatenate([lc.good for lc in lightcurves])
    if goods is not None:
        good &= np.concatenate(goods)
    baselines, spreads = _robust_baselines(segments, flux, good, parameters.clip_sigma)
    num_good = segments.counts(good).tolist()
    typical_errs = segments.median(fluxerr, good).tolist()
    scatters = []
    for spread, typical_err, count in zip(spreads.tolist(), typical_errs, num_good):
        scatter = 0.0
        if parameters.excess_scatter and count > 2:
            # Python floats, as the scores of one lightcurve were always computed (bit for bit the same:
            # math.sqrt and numpy.sqrt are both the correctly rounded square root).
            scatter = math.sqrt(max(spread**2 - typical_err**2, 0.0))
        scatters.append(scatter)
    sigma = np.sqrt(fluxerr**2 + segments.spread([s**2 for s in scatters]))
    baseline = segments.spread(baselines)
    snr = np.full(flux.shape, np.nan)
    delta_mag = np.full(flux.shape, np.nan)
    snr[good] = (flux[good] - baseline[good]) / sigma[good]
    positive = good & (baseline > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_mag[positive] = -2.5 * np.log10(flux[positive] / baseline[positive])
    filtered = [{} for _ in lightcurves]
    if parameters.widths_days:
        # The matched filter's running sums stay per lightcurve: sums over a batch would round differently.
        for i, (lightcurve, (start, stop)) in enumerate(zip(lightcurves, segments.bounds)):
            lc_good = good[start:stop]
            if not num_good[i]:
                continue
            lc_flux, lc_sigma = flux[start:stop][lc_good], sigma[start:stop][lc_good]
            for width in parameters.widths_days:
                values = np.full(stop - start, np.nan)
                values[lc_good] = matched_filter(lightcurve.mjds[lc_good], lc_flux - baselines[i], lc_sigma, width)
                filtered[i][float(width)] = values
    scores = [Scores(snr=s, delta_mag=d, baseline=b, scatter=c, good=g, filtered=f)
              for s, d, b, c, g, f in zip(segments.split(snr), segments.split(delta_mag), baselines.tolist(),
                                          scatters, segments.split(good), filtered)]
    return scores, segments, good, snr


def _robust_baselines(segments: Segments, flux: np.ndarray, good: np.ndarray,
                      clip_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    # robust_baseline of each segment's good epochs.
    centre, spread = segments.robust_location_scale(flux, good)
    clipped = np.isfinite(spread) & (spread > 0)
    if clipped.any():
        with np.errstate(invalid="ignore"):
            kept = good & (np.abs(flux - segments.spread(centre)) <= segments.spread(clip_sigma * spread))
        clipped &= segments.counts(kept) >= 3
        if clipped.any():
            centre2, spread2 = segments.robust_location_scale(flux, kept)
            centre, spread = np.where(clipped, centre2, centre), np.where(clipped, spread2, spread)
    return centre, spread


def find_detections(lightcurve: Lightcurve, scores: Scores, parameters: AnalysisParameters,
                    quality=None) -> list[Detection]:
    """Group epochs above threshold into contiguous events of each sign.

    An event is seeded by a good epoch whose best score (single epoch or any
    matched-filter width) reaches ``threshold``; it extends over neighbouring
    good epochs (in time order, skipping bad ones) whose single-epoch S/N has the
    same sign and reaches ``extent_threshold`` (the sideband), and always over the
    window of the matched filter that found it.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    scores : Scores
        From :func:`score_lightcurve`.
    parameters : AnalysisParameters
        Threshold, extent threshold, direction, maximum number.
    quality : QualityResult, optional
        If given, each detection records the worst value of every cut over its epochs.

    Returns
    -------
    list of Detection
        Strongest first, at most ``max_detections``.
    """
    idx = np.flatnonzero(scores.good)
    if idx.size < parameters.min_good_epochs:
        return []
    snr, mjd = scores.snr[idx], lightcurve.mjds[idx]
    best_all, width_all = scores.best
    best, widths = best_all[idx], width_all[idx]
    signs = [(s, k) for s, k in ((1.0, BRIGHTENING), (-1.0, DIMMING)) if parameters.direction in ("both", k)]
    detections = []
    for sign, kind in signs:
        seeds = sign * best >= parameters.threshold
        if not seeds.any():
            continue
        in_extent = (sign * snr >= min(parameters.extent_threshold, parameters.threshold)) | seeds
        for seed in np.flatnonzero(seeds):
            if widths[seed] > 0:  # the matched filter's window belongs to the event
                window = np.abs(mjd - mjd[seed]) <= widths[seed] / 2.0
                in_extent |= window & (sign * np.nan_to_num(snr) > 0)
        edges = np.diff(np.concatenate([[0], in_extent.astype(np.int8), [0]]))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if not seeds[start:end].any():
                continue
            strength = np.where(seeds[start:end], sign * best[start:end], -np.inf)
            peak = start + int(np.argmax(strength))
            epoch = idx[peak]
            detections.append(Detection(
                kind=kind, peak_mjd=mjd[peak], start_mjd=mjd[start], end_mjd=mjd[end - 1],
                snr=best[peak], peak_flux=lightcurve.flux[epoch], delta_mag=scores.delta_mag[epoch],
                num_epochs=end - start, baseline_flux=scores.baseline, filter_width=widths[peak],
                first_epoch=int(idx[start]), last_epoch=int(idx[end - 1]),
                quality=quality.over(int(idx[start]), int(idx[end - 1])) if quality is not None else None,
            ))
    detections.sort(key=lambda d: -abs(d.snr))
    return detections[: parameters.max_detections]


def find_events(lightcurve: Lightcurve, parameters: AnalysisParameters,
                quality=None) -> tuple[Scores, list[Detection]]:
    """Score a lightcurve and return its scores and detections.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    parameters : AnalysisParameters
        Analysis parameters.
    quality : QualityResult, optional
        Result of the QualityChecker; its good mask selects the epochs searched.

    Returns
    -------
    tuple
        (:class:`Scores`, list of :class:`Detection`).
    """
    return find_events_many([lightcurve], parameters, None if quality is None else [quality])[0]


def find_events_many(lightcurves: Sequence[Lightcurve], parameters: AnalysisParameters,
                     qualities: Sequence | None = None) -> list[tuple[Scores, list[Detection]]]:
    """Score many lightcurves and find their detections: the same as :func:`find_events` on each.

    Only lightcurves with enough good epochs and an epoch whose score reaches the threshold
    (single epoch or any matched-filter width) are searched one by one; no other can hold a
    detection.

    Parameters
    ----------
    lightcurves : sequence of Lightcurve
        Loaded lightcurves.
    parameters : AnalysisParameters
        Analysis parameters.
    qualities : sequence of QualityResult, optional
        Results of the QualityChecker, one per lightcurve; their good masks select the epochs searched.

    Returns
    -------
    list of tuple
        (:class:`Scores`, list of :class:`Detection`) per lightcurve, in order.
    """
    if not lightcurves:
        return []
    goods = None if qualities is None else [q.good for q in qualities]
    all_scores, segments, good, snr = _score_batch(lightcurves, parameters, goods)
    with np.errstate(invalid="ignore"):
        strong = np.abs(snr) >= parameters.threshold
        for width in map(float, parameters.widths_days):
            values = np.concatenate([s.filtered.get(width, np.full(s.snr.size, np.nan)) for s in all_scores])
            strong |= np.abs(values) >= parameters.threshold
    candidates = (segments.counts(good) >= parameters.min_good_epochs) & segments.any(good & strong)
    return [(scores, find_detections(lc, scores, parameters, None if qualities is None else qualities[i])
             if candidates[i] else [])
            for i, (lc, scores) in enumerate(zip(lightcurves, all_scores))]
