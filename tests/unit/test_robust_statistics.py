"""Robust statistics and the season baseline against independent references (numpy, the normal quantile).

Expectations never come from the code under test: the MAD-to-sigma factor is ``1 / Phi^-1(3/4)``
from the standard library's normal distribution, medians come from numpy.
"""

from statistics import NormalDist

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters, score_lightcurve
from virtualobserver.domain.segments import Segments
from virtualobserver.domain.statistics import robust_location_scale, robust_std
from tests.factories import flat_lightcurve, writable_columns

#: sigma / MAD for a Gaussian: 1 / Phi^-1(0.75) = 1.4826..., from the normal quantile function.
GAUSSIAN_MAD_FACTOR = 1.0 / NormalDist().inv_cdf(0.75)


def _numpy_robust_std(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values))) * GAUSSIAN_MAD_FACTOR)


def test_the_mad_factor_is_the_inverse_normal_quartile():
    # Hand check of the reference itself: Phi^-1(0.75) = 0.6744897501960817.
    assert GAUSSIAN_MAD_FACTOR == pytest.approx(1.482602218505602, rel=1e-12)


@pytest.mark.parametrize("n", [7, 50, 257, 1001])  # odd and even, both sides of the sorted/partition switch
def test_robust_std_equals_the_scaled_numpy_mad(n):
    rng = np.random.default_rng(n)
    values = rng.normal(30.0, 2.0, n)
    expected = _numpy_robust_std(values)
    assert robust_std(values) == pytest.approx(expected, rel=1e-12)
    centre, scale = robust_location_scale(values)
    assert centre == pytest.approx(float(np.median(values)), rel=1e-12)
    assert scale == pytest.approx(expected, rel=1e-12)
    location, spread = Segments([n]).robust_location_scale(values)
    assert spread[0] == pytest.approx(expected, rel=1e-12) and location[0] == pytest.approx(np.median(values))


def test_robust_std_is_sigma_on_a_large_gaussian_sample():
    # N = 200 000 draws of sigma = 3: the MAD estimator's relative standard error is
    # 1.167 / sqrt(2 N) = 0.18 %, so 1 % is > 5 standard errors; MAD alone (factor 1) would give 2.02.
    values = np.random.default_rng(1).normal(0.0, 3.0, 200_000)
    assert robust_std(values) == pytest.approx(3.0, rel=0.01)
    assert robust_location_scale(values)[1] == pytest.approx(3.0, rel=0.01)


def test_season_baseline_clips_a_flare_covering_a_fifth_of_the_epochs():
    # 1000 epochs of flux 100 +- 1, of which 200 in a flare at +50. The clipped median (epochs within
    # clip_sigma = 3 robust sigmas of the first median) is the median of the 800 quiet epochs: the
    # flare sits > 20 robust sigmas out. Without the clipped pass the baseline is the median of all
    # 1000 epochs, the 62.5 % quantile of the quiet ones: +0.32 sigma. The standard error of the
    # quiet median is 1.2533 / sqrt(800) = 0.044, so the two differ by ~7 standard errors; the test
    # allows 2 around the quiet median (the leave-one-out baselines move it by ~1/800 sigma).
    lc = flat_lightcurve(n=1000, flux=100.0, sigma=1.0, seed=3)
    columns = writable_columns(lc)
    columns["flux"][400:600] += 50.0
    lc.columns = columns
    quiet = np.r_[columns["flux"][:400], columns["flux"][600:]]
    standard_error = 1.2533 / np.sqrt(quiet.size)
    unclipped = float(np.median(columns["flux"]))
    assert unclipped - np.median(quiet) > 5 * standard_error  # the case tells clipping apart
    scores = score_lightcurve(lc, AnalysisParameters(clip_sigma=3.0, excess_scatter=False))
    assert abs(scores.baseline - np.median(quiet)) < 2 * standard_error
    assert scores.sample[400:600].sum() == 0 and scores.sample[:400].all()
    # The quiet epochs' S/N is then centred on 0 (mean of 800 N(0,1) values: standard error 0.035).
    quiet_snr = np.r_[scores.snr[:400], scores.snr[600:]]
    assert abs(np.mean(quiet_snr)) < 0.15
