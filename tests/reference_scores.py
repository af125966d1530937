"""The finder's S/N written out the slow, obvious way: one epoch and one window at a time, with plain loops.

An independent reading of the definitions in ``domain/analysis/scoring.py`` and ``baselines.py``
(used by the tests to check the vectorised code): every baseline is ``numpy.median`` or a direct
transcription of wotan's ``location_iter`` over an explicit list of the other epochs.
"""

from __future__ import annotations

import numpy as np

from virtualobserver.domain.analysis.baselines import biweight_variance_factor, median_variance_factor
from virtualobserver.domain.analysis.calibration import excess_threshold

MAD = 1.482602218505602


def wotan_location(values: np.ndarray, cval: float = 5.0) -> float:
    """wotan's biweight ``location_iter``: Newton steps from the median, MAD fixed."""
    center = float(np.median(values))
    mad = float(np.median(np.abs(values - center)))
    if mad == 0:
        return center
    for _ in range(10_000):  # to convergence, far below the finder's tolerance
        distance = values - center
        u = distance / (cval * mad)
        weight = (1 - u**2) ** 2
        weight[np.abs(u) >= 1] = 0
        step = float(np.sum(distance * weight) / np.sum(weight))
        center += step
        if abs(step) <= 1e-12 * mad:
            break
    return center


class _Baselines:
    """Baseline of any set of left-out epochs, and its variance for given uncertainties."""

    def __init__(self, t, f, parameters):
        self.t, self.f, self.parameters = t, f, parameters
        med = np.median(f)
        spread = MAD * np.median(np.abs(f - med))
        kept = np.abs(f - med) <= parameters.clip_sigma * spread if np.isfinite(spread) and spread > 0 else None
        self.kept = kept if kept is not None and kept.sum() >= 3 else np.ones(f.size, bool)
        window = parameters.detrend_window_days
        gaps = np.concatenate([[0], np.cumsum(np.diff(t) > window / 2)])
        self.gaps = gaps

    def of(self, centre: int, left_out: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
        if self.parameters.detrend == "biweight":
            same = self.gaps == self.gaps[centre]
            here = self.t[centre]
            # [t - W/2, t + W/2) within the epoch's segment: truncated at the segment's ends, as wotan's.
            half = self.parameters.detrend_window_days / 2
            sample = (self.t >= here - half) & (self.t < here + half) & same & ~left_out
            n = int(sample.sum())
            if n == 0:
                return np.nan, np.nan
            value = wotan_location(self.f[sample])
            return value, float(biweight_variance_factor(n)) * float(np.sum(sigma[sample] ** 2)) / n**2
        sample = self.kept & ~left_out
        n = int(sample.sum())
        if n == 0:
            return np.nan, np.nan
        return float(np.median(self.f[sample])), float(median_variance_factor(n)) * n / float(
            np.sum(1 / sigma[sample])) ** 2


def reference_scores(lightcurve, parameters, good=None) -> tuple[np.ndarray, dict, float]:
    """Return (single-epoch S/N, {width: matched-filter S/N}, excess scatter) by the definitions."""
    good = lightcurve.good & (np.ones(lightcurve.mjds.size, bool) if good is None else good)
    rows = np.flatnonzero(good)
    t, f, e = lightcurve.mjds[rows], lightcurve.flux[rows], lightcurve.fluxerr[rows]
    n = rows.size
    snr = np.full(lightcurve.mjds.size, np.nan)
    filtered = {float(w): np.full(lightcurve.mjds.size, np.nan) for w in parameters.widths_days}
    if n < 2:
        return snr, filtered, 0.0
    baselines = _Baselines(t, f, parameters)

    def single(sigma):
        out = np.empty(n)
        for i in range(n):
            alone = np.zeros(n, bool)
            alone[i] = True
            b, variance = baselines.of(i, alone, sigma)
            out[i] = (f[i] - b) / np.sqrt(sigma[i] ** 2 + variance)
        return out

    scatter = 0.0
    if parameters.excess_scatter:
        plain = single(e)
        finite = plain[np.isfinite(plain)]
        g = MAD * np.median(np.abs(finite - np.median(finite))) if finite.size else np.nan
        if finite.size > 2 and g > float(excess_threshold(n, parameters.excess_scatter_sigma)):
            scatter = float(np.sqrt((g**2 - 1) * np.median(e**2)))
    sigma = np.sqrt(e**2 + scatter**2)
    snr[rows] = single(sigma)
    a = 1 / sigma**2
    for width in parameters.widths_days:
        values, sizes = np.empty(n), np.empty(n)
        for c in range(n):
            window = np.abs(t - t[c]) <= width / 2
            b, variance = baselines.of(c, window, sigma)
            total = a[window].sum()
            values[c] = np.sum(a[window] * (f[window] - b)) / np.sqrt(total + total**2 * variance)
            sizes[c] = window.sum()
        finite = values[np.isfinite(values)]
        if parameters.excess_scatter and finite.size >= 3:
            # Red noise: the windows' own scatter, where significant for ~n / (epochs per window) values.
            beta = MAD * np.median(np.abs(finite - np.median(finite)))
            if beta > float(excess_threshold(max(1.0, finite.size / sizes.mean()), parameters.excess_scatter_sigma)):
                values = values / beta
        filtered[float(width)][rows] = values
    return snr, filtered, scatter
