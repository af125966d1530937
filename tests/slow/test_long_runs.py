"""Long runs kept out of the default suite (`make test-slow`): tighter statistics, repeated kills."""

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters
from tests.noise import assert_tail
from tests.unit.test_false_alarms import _scores

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("n", [33, 1000])
def test_five_sigma_false_alarms_at_the_defaults(n):
    # 1.2 x 10^8 epochs at the default settings expect 69 beyond |S/N| = 5: a rate 1.5 x too high
    # (or too low) is 4.1 (3.4) binomial standard errors away, so it fails the 3-se tolerance with
    # probability 0.87 (0.67); the old finder's 0.49 x at the defaults is 4.6 se away.
    snr = _scores(n, 120_000_000, AnalysisParameters(), seed=50_000 + n)
    assert_tail(int(np.sum(np.abs(snr) >= 5.0)), snr.size, 5.0, min_expected=60)
    assert_tail(int(np.sum(np.abs(snr) >= 4.0)), snr.size, 4.0, min_expected=7000)


@pytest.mark.parametrize("n", [20, 100])
@pytest.mark.parametrize("alternative", [
    {"excess_scatter": False},
    {"detrend": "biweight", "detrend_window_days": 30.0},
    {"detrend": "biweight", "detrend_window_days": 30.0, "excess_scatter": False},
], ids=["excess-off", "biweight", "biweight-excess-off"])
def test_alternative_settings_at_the_other_lengths(n, alternative):
    # The lengths the default suite leaves to the defaults, at the same 1.6 million epochs and power.
    snr = _scores(n, 1_600_000, AnalysisParameters(**alternative), seed=2000 + n)
    assert_tail(int(np.sum(np.abs(snr) >= 3.0)), snr.size, 3.0, min_expected=3800)
    assert_tail(int(np.sum(np.abs(snr) >= 4.0)), snr.size, 4.0, min_expected=90)


@pytest.mark.parametrize("repeat", range(5))
def test_kill_and_resume_repeatedly(tmp_path, new_database, repeat):
    from tests.e2e.test_kill_resume import test_sigkill_at_random_moments_then_resume_matches_uninterrupted_run

    test_sigkill_at_random_moments_then_resume_matches_uninterrupted_run(tmp_path, new_database())
