"""The excess-scatter test: on noise with right errors it fires at its nominal rate; on wrong errors it fires."""

import math

import numpy as np
import pytest

from virtualobserver.domain.analysis.calibration import excess_threshold
from virtualobserver.domain.analysis.finder import AnalysisParameters, score_many
from tests.noise import noise_lightcurves


@pytest.mark.parametrize("n", [20, 100, 400])
def test_excess_scatter_is_added_to_pure_noise_at_the_nominal_rate(n):
    # At significance 2 the test should fire on 2.28 % of pure-noise lightcurves (its one-sided tail).
    # 20,000 lightcurves expect 455: a rate 20 % off is 4.3 binomial standard errors away. (At the
    # default, 3 sigma, it fires on 0.135 %: too rare to count here, but the same table.)
    count = 20_000
    scores = score_many(noise_lightcurves(n, count, np.random.default_rng(n)),
                        AnalysisParameters(excess_scatter_sigma=2.0))
    fired = sum(s.scatter > 0 for s in scores)
    p = 0.5 * math.erfc(2.0 / math.sqrt(2))
    assert abs(fired - count * p) < 3 * math.sqrt(count * p * (1 - p)), (fired, count * p)


def test_asymptotic_thresholds_would_fire_too_often_on_short_lightcurves():
    # The table exists because the MAD of few values is skewed: at n = 20 the Gaussian approximation's
    # 3-sigma threshold sits well below the measured one.
    assert float(excess_threshold(20, 3.0)) > 1 + 3 * 1.1664 / math.sqrt(20) + 0.1
    assert float(excess_threshold(10**6, 3.0)) == pytest.approx(1 + 3 * 1.1664 / 1000, rel=1e-4)


def test_underestimated_errors_are_found_and_corrected():
    # Errors quoted at half the true scatter: g is about 2 +- 0.23 against a threshold of 1.38 at
    # n = 100, so the test fires on all but ~0.4 % of lightcurves, and the S/N is N(0, 1) again (its
    # standard deviation within 3 % over 2,000 lightcurves).
    lightcurves = noise_lightcurves(100, 2000, np.random.default_rng(5))
    halved = [lc.with_photometry(lc.flux, lc.fluxerr / 2, lc.mag, lc.magerr) for lc in lightcurves]
    scores = score_many(halved, AnalysisParameters())
    assert sum(s.scatter > 0 for s in scores) > 0.99 * len(scores)
    assert np.std(np.concatenate([s.snr for s in scores])) == pytest.approx(1.0, abs=0.03)
    plain = score_many(halved, AnalysisParameters(excess_scatter=False))
    assert np.std(np.concatenate([s.snr for s in plain])) == pytest.approx(2.0, rel=0.05)
