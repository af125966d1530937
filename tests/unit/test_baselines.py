"""Baselines: leave-out medians, the sliding biweight against wotan, and the location variance factors."""

from pathlib import Path

import numpy as np
import pytest

from virtualobserver.domain.analysis.baselines import (
    _biweight_rows,
    biweight_variance_factor,
    gap_segments,
    median_variance_factor,
    median_without_windows,
    sliding_biweight,
    window_bounds,
)
from virtualobserver.domain.segments import Segments
from tests.reference_scores import wotan_location

WOTAN = Path(__file__).parents[1] / "data" / "wotan_biweight_reference.npz"


@pytest.mark.parametrize("seed", range(30))
def test_leave_one_out_median_equals_numpy_median_of_the_others(seed):
    rng = np.random.default_rng(seed)
    segments = Segments(rng.integers(0, 25, size=rng.integers(1, 8)))
    values = np.round(rng.normal(size=segments.size), 1 if seed % 3 == 0 else 12)  # ties too
    mask = rng.random(segments.size) < 0.8
    medians, counts = segments.leave_one_out_median(values, mask)
    for start, stop in segments.bounds:
        for i in range(start, stop):
            others = [values[j] for j in range(start, stop) if mask[j] and j != i]
            assert counts[i] == len(others)
            assert (np.isnan(medians[i]) and not others) or medians[i] == np.median(others)


@pytest.mark.parametrize("seed", range(30))
def test_median_without_windows_equals_numpy_median_of_the_rest(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    values, kept = rng.normal(size=n), rng.random(n) < 0.85
    lo = rng.integers(0, n, size=12)
    hi = np.minimum(n, lo + rng.integers(1, 8, size=12))
    medians, left = median_without_windows(values, kept, lo, hi)
    for i in range(12):
        rest = kept.copy()
        rest[lo[i]:hi[i]] = False
        assert left[i] == rest.sum()
        assert (np.isnan(medians[i]) and not rest.any()) or medians[i] == np.median(values[rest])


def test_sliding_biweight_matches_wotan_everywhere():
    # wotan 2.1's flatten(method="biweight") trends of a synthetic lightcurve with a gap, made in a side
    # environment by benchmarks/reference/make_references.py. Our windows are wotan's ([t - W/2, t + W/2),
    # broken at gaps longer than W/2, truncated at a segment's ends): equal to wotan's convergence (1e-6 MAD)
    # at every epoch, the ends included.
    reference = np.load(WOTAN)
    time, flux = reference["time"], reference["flux"]
    scale = np.median(np.abs(flux - np.median(flux)))
    for window, trend in zip(reference["windows"], reference["trends"]):
        ours, _, _ = sliding_biweight(time, flux, float(window))
        assert np.max(np.abs(ours - trend)) < 1e-5 * scale


def test_windows_are_truncated_at_the_ends_so_a_flare_there_is_not_its_own_trend():
    time = np.arange(200) * 0.01
    lo, hi = window_bounds(time, 0.25, gap_segments(time, 0.25))
    assert (lo[:25] == 0).all() and (hi[:5] == 25 + np.arange(5)).all()  # [t - W/2, t + W/2), cut at the start
    assert (hi[-25:] == 200).all() and (lo[-5:] == 170 + np.arange(5)).all()  # and at the end
    # A flare in the last 10 epochs (a tenth of a window) is rejected by the biweight of the truncated
    # window of its own epochs: their trend stays the star's. (A window shrunk to stay symmetric would
    # hold little but the flare there and follow it.)
    rng = np.random.default_rng(4)
    flux = 100.0 + rng.normal(0.0, 1.0, 200)
    flux[-10:] += 200.0 * np.exp(-np.arange(10) / 3.0)
    trend, _, _ = sliding_biweight(time, flux, 0.5)
    assert np.abs(trend[-10:] - 100.0).max() < 1.0


def test_biweight_rows_equal_wotans_location_iteration():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(50, 40))
    values[:, :3] += 20  # outliers the biweight rejects
    counts = rng.integers(5, 41, size=50)
    padded = np.where(np.arange(40)[None, :] < counts[:, None], values, np.nan)
    centre, _ = _biweight_rows(padded, counts, 5.0)
    for row in range(50):
        assert centre[row] == pytest.approx(wotan_location(values[row, :counts[row]]), abs=1e-9)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 10, 20, 21, 33, 100])
def test_location_variance_factors_match_monte_carlo(n):
    # 200,000 samples measure n Var to 0.3 %: the factors are good to 1.5 % (median) and 2 % (biweight).
    rng = np.random.default_rng(n)
    samples = rng.standard_normal((200_000, n))
    median = n * np.median(samples, axis=1).var()
    assert median == pytest.approx(float(median_variance_factor(n)), rel=0.015 if n > 2 else 0.005)
    biweight = n * _biweight_rows(samples, np.full(200_000, n), 5.0)[0].var()
    assert biweight == pytest.approx(float(biweight_variance_factor(n)), rel=0.02)
