"""Finder: the analysis parameters, and the search of lightcurves for events of both signs.

Scoring (single-epoch and matched-filter S/N, N(0, 1) on noise) is in :mod:`domain.analysis.scoring`,
the baselines it measures against in :mod:`domain.analysis.baselines`, and the events found from the
scores, merged and measured, in :mod:`domain.analysis.detecting`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from virtualobserver.domain.analysis.detecting import find_detections
from virtualobserver.domain.analysis.scoring import Scores, score_batch
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.errors import ConfigError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters

__all__ = ["AnalysisParameters", "Scores", "score_lightcurve", "score_many", "find_detections", "find_events",
           "find_events_many"]


class AnalysisParameters(Parameters):
    """Parameters of the analysis step (lightcurves -> scores and detections)."""

    SPECS = {
        "threshold": Param(5.0, float, "|S/N| an epoch (or a matched-filter window) must reach to seed a "
                           "detection.", minimum=0.5, maximum=1000.0),
        "extent_threshold": Param(2.0, float, "|S/N| of neighbouring epochs that extends an event "
                                  "(the sideband threshold).", minimum=0.0, maximum=1000.0),
        "direction": Param("both", str, "Which events to look for.",
                           choices=("both", BRIGHTENING, DIMMING)),
        "min_consecutive": Param(1, int, "An event is kept only if it holds this many consecutive good epochs "
                                 "whose single-epoch S/N (in its direction) reaches consecutive_threshold: "
                                 "AltaiPony's N3 (3 in its default, with N1 = 3), which long-cadence flare "
                                 "searches use against one-cadence outliers; 1 keeps every event.",
                                 minimum=1, maximum=1000),
        "consecutive_threshold": Param(3.0, float, "Single-epoch |S/N| the min_consecutive epochs must reach "
                                       "(AltaiPony's N1).", minimum=0.0, maximum=1000.0),
        "max_detections": Param(1000, int, "Most detections kept per lightcurve (strongest first); the ones "
                                "left out are counted in the source's summary (detections_dropped).",
                                minimum=1, maximum=10**6),
        "min_good_epochs": Param(10, int, "Lightcurves with fewer good epochs are not searched (below about ten "
                                 "epochs a baseline cannot be told from an event).", minimum=3, maximum=10**6),
        "excess_scatter": Param(True, bool, "Add scatter beyond the quoted errors to the per-epoch uncertainty "
                                "where the data show it (see excess_scatter_sigma)."),
        "excess_scatter_sigma": Param(3.0, float, "Significance (in standard deviations of its estimate under pure "
                                      "noise) the robust scatter of the residuals must exceed the errors by before "
                                      "the excess is added; calibrated per number of epochs, so that on noise with "
                                      "right errors the S/N stays N(0, 1).", minimum=0.0, maximum=100.0),
        "detrend": Param("none", str, "Trend removed before the search: 'none' (one robust baseline per "
                         "lightcurve, the season's clipped median) or 'biweight' (a sliding time-window biweight "
                         "location, as wotan's, for rotating or drifting stars).", choices=("none", "biweight")),
        "detrend_window_days": Param(0.5, float, "Full width (days) of the biweight's sliding window; at least "
                                     "3 x the longest of widths_days, so an event is not eaten by its own trend.",
                                     minimum=1e-4, maximum=1e5),
        "merge_epochs": Param(2, int, "Runs of one sign separated by at most this many good epochs are one "
                              "event (fragments of a flare merged, as AltaiPony's minsep).", minimum=0,
                              maximum=10**6),
        "widths_days": Param([], list, "Widths (days) of the matched (box) filter for events longer than one "
                             "epoch; empty = single-epoch search only. Each width adds trials: the "
                             "false-alarm rate per epoch grows accordingly.", item_kind=float),
        "save_epoch_scores": Param(True, bool, "Keep every epoch's scores, quality flag and cut values on disk "
                                   "(one HDF5 file per source), to judge detections later.", science=False),
        "clip_sigma": Param(3.0, float, "Epochs further than this many robust sigmas from the median are left "
                            "out of the baseline, so an event does not bias it.", minimum=1.0, maximum=100.0),
    }


    def check(self, *, source: str | None, prefix: str) -> None:
        """Refuse widths that are not positive and a biweight window shorter than 3 x the longest width."""
        def key(name: str) -> str:
            return f"{prefix}.{name}" if prefix else name

        widths = self.widths_days
        if any(not w > 0 for w in widths):
            raise ConfigError(f"widths must be positive, got {widths}", key=key("widths_days"), source=source)
        window = self.detrend_window_days
        if self.detrend == "biweight" and widths and window < 3.0 * max(widths):
            # An event as long as the trend's window would be taken for trend (wotan's rule of thumb).
            raise ConfigError(f"{window} days is less than 3 x the longest matched-filter width {max(widths)}; "
                              f"widen the window or drop the width", source=source, key=key("detrend_window_days"))


def score_lightcurve(lightcurve: Lightcurve, parameters: AnalysisParameters,
                     good: np.ndarray | None = None) -> Scores:
    """Compute the single-epoch and matched-filter S/N of a lightcurve (see :mod:`domain.analysis.scoring`).

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
    return score_batch(lightcurves, parameters, goods)[0] if lightcurves else []


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
                     qualities: Sequence | None = None,
                     previous: Sequence[tuple[Lightcurve, Scores] | None] | None = None
                     ) -> list[tuple[Scores, list[Detection]]]:
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
    previous : sequence of (Lightcurve, Scores) or None, optional
        Per lightcurve, the original it is an injected copy of and the original's scores: only what the
        injection changed is recomputed (see :func:`domain.analysis.scoring.score_batch`).

    Returns
    -------
    list of tuple
        (:class:`Scores`, list of :class:`Detection`) per lightcurve, in order.
    """
    if not lightcurves:
        return []
    goods = None if qualities is None else [q.good for q in qualities]
    all_scores, segments, good, snr = score_batch(lightcurves, parameters, goods, previous)
    with np.errstate(invalid="ignore"):
        strong = np.abs(snr) >= parameters.threshold
        for width in map(float, parameters.widths_days):
            values = np.concatenate([s.filtered.get(width, np.full(s.snr.size, np.nan)) for s in all_scores])
            strong |= np.abs(values) >= parameters.threshold
    candidates = (segments.counts(good) >= parameters.min_good_epochs) & segments.any(good & strong)
    return [(scores, find_detections(lc, scores, parameters, None if qualities is None else qualities[i])
             if candidates[i] else [])
            for i, (lc, scores) in enumerate(zip(lightcurves, all_scores))]
