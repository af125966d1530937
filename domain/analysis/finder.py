"""Finder: per-epoch S/N against a robust baseline and threshold detections of both signs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.detection import BRIGHTENING, DIMMING, Detection
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.statistics import robust_location_scale

__all__ = ["AnalysisParameters", "Scores", "score_lightcurve", "find_detections", "find_events"]


class AnalysisParameters(Parameters):
    """Parameters of the analysis step (lightcurves -> scores and detections)."""

    SPECS = {
        "threshold": Param(5.0, float, "|S/N| an epoch must reach to seed a detection.",
                           minimum=0.5, maximum=1000.0),
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
    }


@dataclass
class Scores:
    """Per-epoch scores of one lightcurve.

    Attributes
    ----------
    snr : numpy.ndarray
        Signed S/N of each epoch against the baseline (NaN for bad epochs).
    delta_mag : numpy.ndarray
        Magnitude difference from the baseline (negative = brighter).
    baseline : float
        Robust baseline flux (median of good epochs).
    scatter : float
        Excess scatter added in quadrature to the flux errors.
    good : numpy.ndarray
        Epochs that were scored.
    """

    snr: np.ndarray
    delta_mag: np.ndarray
    baseline: float
    scatter: float
    good: np.ndarray


def score_lightcurve(lightcurve: Lightcurve, parameters: AnalysisParameters) -> Scores:
    """Compute per-epoch S/N and delta-mag against a robust baseline.

    The baseline is the median flux of good epochs, which a short event
    cannot drag far. The uncertainty of each epoch is its flux error, plus,
    if ``excess_scatter``, the robust scatter the errors do not explain.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    parameters : AnalysisParameters
        Analysis parameters.

    Returns
    -------
    Scores
        Scores of every epoch (NaN where not good).
    """
    flux, fluxerr, good = lightcurve.flux, lightcurve.fluxerr, lightcurve.good
    baseline, spread = robust_location_scale(flux[good])
    scatter = 0.0
    if parameters.excess_scatter and good.sum() > 2:
        typical_err = float(np.median(fluxerr[good]))
        scatter = float(np.sqrt(max(spread**2 - typical_err**2, 0.0)))
    sigma = np.sqrt(fluxerr**2 + scatter**2)
    snr = np.full(flux.shape, np.nan)
    delta_mag = np.full(flux.shape, np.nan)
    snr[good] = (flux[good] - baseline) / sigma[good]
    if baseline > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            delta_mag[good] = -2.5 * np.log10(flux[good] / baseline)
    return Scores(snr=snr, delta_mag=delta_mag, baseline=baseline, scatter=scatter, good=good)


def find_detections(lightcurve: Lightcurve, scores: Scores, parameters: AnalysisParameters) -> list[Detection]:
    """Group epochs above threshold into contiguous events of each sign.

    An event is seeded by a good epoch with ``|S/N| >= threshold`` and extends
    over neighbouring good epochs (in time order, skipping bad ones) whose S/N
    has the same sign and ``|S/N| >= extent_threshold``.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    scores : Scores
        From :func:`score_lightcurve`.
    parameters : AnalysisParameters
        Threshold, extent threshold, direction, maximum number.

    Returns
    -------
    list of Detection
        Strongest first, at most ``max_detections``.
    """
    idx = np.flatnonzero(scores.good)
    if idx.size < parameters.min_good_epochs:
        return []
    snr = scores.snr[idx]
    mjd = lightcurve.mjds[idx]
    signs = []
    if parameters.direction in ("both", BRIGHTENING):
        signs.append((1.0, BRIGHTENING))
    if parameters.direction in ("both", DIMMING):
        signs.append((-1.0, DIMMING))
    detections = []
    for sign, kind in signs:
        signed = sign * snr
        seeds = signed >= parameters.threshold
        if not seeds.any():
            continue
        in_extent = signed >= min(parameters.extent_threshold, parameters.threshold)
        # Runs of consecutive epochs within the extent; keep runs that contain a seed.
        edges = np.diff(np.concatenate([[0], in_extent.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for start, end in zip(starts, ends):
            if not seeds[start:end].any():
                continue
            peak = start + int(np.argmax(signed[start:end]))
            epoch = idx[peak]
            detections.append(Detection(
                kind=kind,
                peak_mjd=mjd[peak],
                start_mjd=mjd[start],
                end_mjd=mjd[end - 1],
                snr=snr[peak],
                peak_flux=lightcurve.flux[epoch],
                delta_mag=scores.delta_mag[epoch],
                num_epochs=end - start,
                baseline_flux=scores.baseline,
            ))
    detections.sort(key=lambda d: -abs(d.snr))
    return detections[: parameters.max_detections]


def find_events(lightcurve: Lightcurve, parameters: AnalysisParameters) -> tuple[Scores, list[Detection]]:
    """Score a lightcurve and return its scores and detections.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve.
    parameters : AnalysisParameters
        Analysis parameters.

    Returns
    -------
    tuple
        (:class:`Scores`, list of :class:`Detection`).
    """
    scores = score_lightcurve(lightcurve, parameters)
    return scores, find_detections(lightcurve, scores, parameters)
