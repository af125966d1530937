"""Scores of a batch of lightcurves: single-epoch and matched-filter S/N, N(0, 1) on Gaussian noise.

Definitions (``r`` a residual, ``sigma`` an epoch's uncertainty, ``b`` a baseline of the *other*
epochs, see :mod:`domain.analysis.baselines`):

* **uncertainty** ``sigma_i**2 = err_i**2 + s**2``, where the excess scatter ``s`` is added only when
  the residuals' robust scatter exceeds the errors significantly (:mod:`domain.analysis.calibration`);
* **single-epoch S/N** ``(f_i - b_i) / sqrt(sigma_i**2 + V_i)``, ``b_i`` the baseline without epoch
  ``i`` and ``V_i`` its variance;
* **matched filter** of width ``w`` centred on epoch ``c``: over the good epochs ``j`` with
  ``|t_j - t_c| <= w / 2`` (the window), with ``a_j = 1 / sigma_j**2`` and ``b`` the baseline without
  the window's epochs, ``Z = sum(a_j (f_j - b)) / sqrt(sum(a_j) + sum(a_j)**2 V)``: the
  inverse-variance weighted mean excess of the window over its standard error, the optimal
  statistic for a box-shaped event of that width, and N(0, 1) per window on noise.

False alarms: at threshold ``T`` each epoch's single-epoch S/N exceeds ``|T|`` with probability
``erfc(T / sqrt(2))`` (both signs). Windows of width ``w`` overlap, so the ``N`` window statistics of
a lightcurve are correlated; they count as about ``span / w`` independent trials per width (plus
``N`` single-epoch trials), which bounds the false alarms per lightcurve:
``erfc(T / sqrt(2)) * (N + sum(span / w))``. ``benchmarks/validate_science.py`` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from virtualobserver.domain.analysis.baselines import (
    biweight_variance_factor,
    median_variance_factor,
    median_without_windows,
    sliding_window_bounds,
    windowed_biweight,
)
from virtualobserver.domain.analysis.calibration import excess_threshold
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.segments import Segments
from virtualobserver.domain.statistics import robust_location_scale

__all__ = ["Scores", "score_batch", "window_bounds_closed"]


@dataclass
class Scores:
    """Per-epoch scores of one lightcurve.

    Attributes
    ----------
    snr : numpy.ndarray
        Signed single-epoch S/N against the baseline of the other epochs (NaN for bad epochs).
    delta_mag : numpy.ndarray
        Magnitude difference from the baseline (negative = brighter).
    baseline : float
        Typical baseline flux (the median of ``trend`` over good epochs).
    scatter : float
        Excess scatter added in quadrature to the flux errors (0 where the data show none).
    good : numpy.ndarray
        Epochs that were scored.
    filtered : dict of float to numpy.ndarray
        Matched-filter S/N per width (days), centred on each epoch (NaN for bad epochs).
    trend : numpy.ndarray
        Baseline flux of each good epoch, without that epoch (NaN for bad epochs): the season's
        clipped median, or the sliding biweight.
    sigma : numpy.ndarray
        Uncertainty of each good epoch's flux (error and excess scatter), NaN for bad epochs.
    uncertainty : numpy.ndarray
        The single-epoch S/N's denominator: ``sigma`` and the baseline's own error in quadrature
        (NaN for bad epochs); a change of ``A * uncertainty`` at an epoch moves its S/N by ``A``.
    sample : numpy.ndarray
        Good epochs in the baseline's sample (not clipped as outliers; every good epoch for the biweight).
    detections_dropped : int
        Detections found but left out by ``max_detections`` (set by the finder).
    """

    snr: np.ndarray
    delta_mag: np.ndarray
    baseline: float
    scatter: float
    good: np.ndarray
    filtered: dict[float, np.ndarray] = field(default_factory=dict)
    trend: np.ndarray | None = None
    sigma: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    sample: np.ndarray | None = None
    detections_dropped: int = 0
    #: The sliding biweight's windows, kept to score an injected copy of the lightcurve faster.
    cache: dict | None = field(default=None, repr=False, compare=False)

    @property
    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Per epoch, the (signed) score of largest magnitude over single epoch and every width, and its width."""
        best, width = self.snr.copy(), np.zeros(self.snr.size)
        for w, values in self.filtered.items():
            better = np.abs(values) > np.abs(np.nan_to_num(best, nan=0.0))
            best[better], width[better] = values[better], w
        return best, width


def window_bounds_closed(mjd: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and one-past-last epoch of ``[t - width / 2, t + width / 2]`` around each epoch."""
    return (np.searchsorted(mjd, mjd - width / 2.0, side="left"),
            np.searchsorted(mjd, mjd + width / 2.0, side="right"))


def score_batch(lightcurves: Sequence[Lightcurve], parameters, goods: Sequence[np.ndarray] | None,
                previous: Sequence[tuple[Lightcurve, Scores] | None] | None = None
                ) -> tuple[list[Scores], Segments, np.ndarray, np.ndarray]:
    """Score a non-empty batch: per lightcurve its :class:`Scores`; and the batch's segments, good mask and S/N.

    Parameters
    ----------
    lightcurves : sequence of Lightcurve
        Loaded lightcurves.
    parameters : AnalysisParameters
        Detrending, clipping, excess scatter and matched-filter widths.
    goods : sequence of numpy.ndarray, optional
        Epochs to use in each lightcurve (e.g. from the quality cuts), besides its own good mask.
    previous : sequence of (Lightcurve, Scores) or None, optional
        Per lightcurve, another lightcurve of the same epochs and its scores (an injected copy's
        original): the sliding trend is recomputed only where the fluxes or errors differ. The scores
        are the same as without it.

    Returns
    -------
    tuple
        Scores per lightcurve, the batch's :class:`Segments`, good mask and single-epoch S/N laid end to end.
    """
    segments = Segments([lc.mjds.size for lc in lightcurves])
    flux = np.concatenate([lc.flux for lc in lightcurves]).astype(float, copy=False)
    fluxerr = np.concatenate([lc.fluxerr for lc in lightcurves]).astype(float, copy=False)
    mjd = np.concatenate([lc.mjds for lc in lightcurves]).astype(float, copy=False)
    good = np.concatenate([lc.good for lc in lightcurves])
    if goods is not None:
        good &= np.concatenate(goods)
    if parameters.detrend == "biweight":
        columns = _biweight_batch(segments, mjd, flux, fluxerr, good, parameters, previous)
    else:
        columns = _season_batch(segments, mjd, flux, fluxerr, good, parameters)
    snr, trend, sigma, uncertainty, sample, scatters, filtered, caches = columns
    delta_mag = np.full(flux.shape, np.nan)
    positive = good & (trend > 0) & (flux > 0)
    delta_mag[positive] = -2.5 * np.log10(flux[positive] / trend[positive])
    baselines = segments.median(trend, good & np.isfinite(trend)).tolist()  # a lone epoch after a gap has none
    scores = [Scores(snr=s, delta_mag=d, baseline=b, scatter=c, good=g, filtered=f, trend=t, sigma=e,
                     uncertainty=u, sample=k, cache=cache)
              for s, d, b, c, g, f, t, e, u, k, cache in zip(
                  segments.split(snr), segments.split(delta_mag), baselines, scatters, segments.split(good),
                  filtered, segments.split(trend), segments.split(sigma), segments.split(uncertainty),
                  segments.split(sample), caches)]
    return scores, segments, good, snr


def _season_batch(segments: Segments, mjd, flux, fluxerr, good, parameters):
    # Baselines: each lightcurve's clipped median, without the epoch (or window) measured.
    sample = _clipped_sample(segments, flux, good, parameters.clip_sigma)
    trend, n_base = segments.leave_one_out_median(flux, sample)
    trend = np.where(good, trend, np.nan)

    def baseline_variance(sigma):
        inverse = np.where(sample, 1.0 / sigma, 0.0)
        total = segments.spread(_sums(segments, inverse)) - inverse
        with np.errstate(divide="ignore", invalid="ignore"):
            return median_variance_factor(n_base) * n_base / total**2

    sigma, scatters, snr, uncertainty = _single_epoch(segments, flux, fluxerr, good, trend, baseline_variance,
                                                      parameters)
    filtered = _unscored_windows(segments, parameters.widths_days)
    if parameters.widths_days:
        counts = segments.counts(good)
        for i, (start, stop) in enumerate(segments.bounds):
            if counts[i] < 2:
                continue
            rows = np.flatnonzero(good[start:stop]) + start
            t, f, s, kept = mjd[rows], flux[rows], sigma[rows], sample[rows]
            inverse = np.where(kept, 1.0 / s, 0.0)
            running = np.concatenate([[0.0], np.cumsum(inverse)])
            for width in parameters.widths_days:
                lo, hi = window_bounds_closed(t, width)
                base, left = median_without_windows(f, kept, lo, hi)
                outside = running[-1] - (running[hi] - running[lo])
                with np.errstate(divide="ignore", invalid="ignore"):
                    variance = median_variance_factor(left) * left / outside**2
                filtered[i][float(width)] = _spread_rows(stop - start, rows - start, _red_noise_corrected(
                    _window_snr(f, s, lo, hi, base, variance), hi - lo, parameters))
    return snr, trend, sigma, uncertainty, sample, scatters, filtered, [None] * segments.count


def _biweight_batch(segments: Segments, mjd, flux, fluxerr, good, parameters, previous=None):
    # Baselines: a sliding biweight of each lightcurve's good epochs, without the epoch (or window)
    # measured. The good epochs of the whole batch are laid end to end and every window is computed
    # in one pass; each window holds epochs of its own lightcurve only. A lightcurve given with a
    # previous scoring of the same epochs (an injected copy and its original) recomputes only the
    # windows that hold an epoch whose flux or error differs: every other window is the same.
    window = parameters.detrend_window_days
    rows = np.flatnonzero(good)
    by_lightcurve = Segments(segments.counts(good))
    times, values, errors = mjd[rows], flux[rows], fluxerr[rows]
    lo, hi = _per_lightcurve(by_lightcurve, times, lambda t: sliding_window_bounds(t, window))
    reuse = _reusable(segments, by_lightcurve, good, values, errors, previous)
    single = np.arange(rows.size)
    base, n_base, err_squares = _windows(values, lo, hi, single, single + 1, errors, reuse, "single")
    trend, n_epoch, squares_epoch = (np.full(flux.shape, np.nan), np.zeros(flux.shape, np.intp),
                                     np.zeros(flux.shape))
    trend[rows], n_epoch[rows], squares_epoch[rows] = base, n_base, err_squares

    def baseline_variance(sigma):
        excess = sigma**2 - fluxerr**2  # the same for every epoch of a lightcurve
        with np.errstate(divide="ignore", invalid="ignore"):
            return biweight_variance_factor(n_epoch) * (squares_epoch + n_epoch * excess) / n_epoch**2

    sigma, scatters, snr, uncertainty = _single_epoch(segments, flux, fluxerr, good, trend, baseline_variance,
                                                      parameters)
    filtered = _unscored_windows(segments, parameters.widths_days)
    good_sigma = sigma[rows]
    excess = by_lightcurve.spread(np.asarray(scatters) ** 2)
    caches = [{"single": (base[a:b], n_base[a:b], err_squares[a:b])} for a, b in by_lightcurve.bounds]
    for width in parameters.widths_days:
        box_lo, box_hi = _per_lightcurve(by_lightcurve, times, lambda t, w=width: window_bounds_closed(t, w))
        box_base, left, squares = _windows(values, lo, hi, box_lo, box_hi, errors, reuse, float(width))
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = biweight_variance_factor(left) * (squares + left * excess) / left**2
        for i, ((start, stop), (first, last)) in enumerate(zip(segments.bounds, by_lightcurve.bounds)):
            caches[i][float(width)] = (box_base[first:last], left[first:last], squares[first:last])
            if last - first < 2:
                continue
            part = slice(first, last)
            filtered[i][float(width)] = _spread_rows(stop - start, rows[part] - start, _red_noise_corrected(
                _window_snr(values[part], good_sigma[part], box_lo[part] - first, box_hi[part] - first,
                            box_base[part], variance[part]), box_hi[part] - box_lo[part], parameters))
    return snr, trend, sigma, uncertainty, good.copy(), scatters, filtered, caches


def _reusable(segments: Segments, by_lightcurve: Segments, good, values, errors, previous):
    # Per lightcurve of the batch, (its first good position in the batch, the previous cache, the changed
    # good epochs) where a previous scoring of the same good epochs can be reused; None elsewhere.
    if previous is None:
        return None
    reuse = []
    for (start, stop), (first, last), before in zip(segments.bounds, by_lightcurve.bounds, previous):
        cache = None if before is None else getattr(before[1], "cache", None)
        if cache is None or not np.array_equal(before[1].good, good[start:stop]):
            reuse.append(None)
            continue
        original = before[0]
        kept = before[1].good
        changed = (values[first:last] != original.flux[kept]) | (errors[first:last] != original.fluxerr[kept])
        reuse.append((first, cache, changed))
    return reuse


def _windows(values, lo, hi, leave_lo, leave_hi, errors, reuse, key):
    # windowed_biweight of every row, or of only the rows whose window holds a changed epoch where a
    # previous result of the same lightcurve (``reuse``) gives the others.
    if reuse is None or all(r is None for r in reuse):
        location, count, (squares,) = windowed_biweight(values, lo, hi, leave_lo=leave_lo, leave_hi=leave_hi,
                                                        sums=(errors**2,))
        return location, count, squares
    location, count, squares = np.full(values.size, np.nan), np.zeros(values.size, np.intp), np.zeros(values.size)
    todo = np.ones(values.size, bool)
    for entry in reuse:
        if entry is None:
            continue
        first, cache, changed = entry
        last = first + changed.size
        before_location, before_count, before_squares = cache[key]
        touched = np.concatenate([[0], np.cumsum(changed)])
        hit = touched[hi[first:last] - first] - touched[lo[first:last] - first] > 0
        todo[first:last] = hit
        keep = slice(first, last)
        location[keep], count[keep], squares[keep] = before_location, before_count, before_squares
    rows = np.flatnonzero(todo)
    new_location, new_count, (new_squares,) = windowed_biweight(values, lo, hi, leave_lo=leave_lo, leave_hi=leave_hi,
                                                                sums=(errors**2,), rows=rows)
    location[rows], count[rows], squares[rows] = new_location[rows], new_count[rows], new_squares[rows]
    return location, count, squares


def _per_lightcurve(segments: Segments, times: np.ndarray, bounds) -> tuple[np.ndarray, np.ndarray]:
    # Window bounds computed within each lightcurve (``bounds(times) -> (lo, hi)``), as positions in the batch.
    lo, hi = np.zeros(times.size, np.intp), np.zeros(times.size, np.intp)
    for start, stop in segments.bounds:
        if stop > start:
            lo[start:stop], hi[start:stop] = bounds(times[start:stop])
            lo[start:stop] += start
            hi[start:stop] += start
    return lo, hi


def _single_epoch(segments: Segments, flux, fluxerr, good, trend, baseline_variance, parameters):
    # The excess scatter (where significant) and the single-epoch S/N against the leave-one-out baseline.
    residual = flux - trend
    sigma = np.where(good, fluxerr, np.nan)
    num_good = segments.counts(good)
    scatters = np.zeros(segments.count)
    if parameters.excess_scatter:
        with np.errstate(invalid="ignore", divide="ignore"):
            plain = residual / np.sqrt(sigma**2 + baseline_variance(sigma))
        usable = good & np.isfinite(plain)
        _, spread = segments.robust_location_scale(plain, usable)
        significant = (segments.counts(usable) > 2) & (spread > excess_threshold(num_good,
                                                                               parameters.excess_scatter_sigma))
        if significant.any():
            typical = segments.median(fluxerr**2, good)
            scatters = np.where(significant, np.sqrt(np.maximum(spread**2 - 1.0, 0.0) * typical), 0.0)
            sigma = np.where(good, np.sqrt(fluxerr**2 + segments.spread(scatters**2)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        uncertainty = np.where(good, np.sqrt(sigma**2 + baseline_variance(sigma)), np.nan)
        snr = residual / uncertainty
    return sigma, scatters.tolist(), snr, uncertainty


def _red_noise_corrected(values: np.ndarray, sizes: np.ndarray, parameters) -> np.ndarray:
    # Correlated noise (a star's residual variability, a spacecraft's jitter) adds up over a window
    # faster than white noise: the window S/N then scatters more than N(0, 1). Where its robust scatter
    # exceeds 1 significantly, the S/N is divided by it (the "beta" factor of Pont et al. 2006). The
    # windows overlap, so the series holds about N / (epochs per window) independent values: the test's
    # threshold is taken at that number (conservative: a moving sum's MAD varies less than that).
    if not parameters.excess_scatter:
        return values
    finite = values[np.isfinite(values)]
    if finite.size < 3:
        return values
    centre, spread = robust_location_scale(finite)
    independent = max(1.0, finite.size / max(float(np.mean(sizes)), 1.0))
    if spread > float(excess_threshold(independent, parameters.excess_scatter_sigma)):
        return values / spread
    return values


def _window_snr(flux, sigma, lo, hi, base, variance) -> np.ndarray:
    # Inverse-variance weighted excess of each window [lo, hi) over its baseline, in its standard errors.
    weights = 1.0 / sigma**2
    running_weight = np.concatenate([[0.0], np.cumsum(weights)])
    running_flux = np.concatenate([[0.0], np.cumsum(flux * weights)])
    total = running_weight[hi] - running_weight[lo]
    excess = running_flux[hi] - running_flux[lo] - base * total
    with np.errstate(invalid="ignore", divide="ignore"):
        return excess / np.sqrt(total + total**2 * variance)


def _unscored_windows(segments: Segments, widths) -> list[dict[float, np.ndarray]]:
    # Every lightcurve has every width, NaN until scored (too few good epochs leave it so).
    return [{float(w): np.full(length, np.nan) for w in widths} for length in segments.lengths.tolist()]


def _spread_rows(size: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(size, np.nan)
    out[rows] = values
    return out


def _sums(segments: Segments, values: np.ndarray) -> np.ndarray:
    # Each segment's sum from its own elements in order (a running sum over the batch would round
    # differently from one over the lightcurve alone: results must not depend on the batch).
    sums = np.zeros(segments.count)
    filled = segments.lengths > 0
    if filled.any():
        sums[filled] = np.add.reduceat(values, segments.starts[filled])
    return sums


def _clipped_sample(segments: Segments, flux, good, clip_sigma: float) -> np.ndarray:
    # Good epochs within clip_sigma robust sigmas of a first median (all good epochs where that leaves < 3).
    centre, spread = segments.robust_location_scale(flux, good)
    clipped = np.isfinite(spread) & (spread > 0)
    with np.errstate(invalid="ignore"):
        kept = good & (np.abs(flux - segments.spread(centre)) <= segments.spread(clip_sigma * spread))
    clipped &= segments.counts(kept) >= 3
    return np.where(segments.spread(clipped), kept, good)
