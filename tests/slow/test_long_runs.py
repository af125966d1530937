"""Long runs kept out of the default suite (`make test-slow`): tighter statistics, repeated kills."""

import math

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, score_lightcurve
from tests.factories import flat_lightcurve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ten_million_scores():
    params = AnalysisParameters(excess_scatter=False)
    return np.concatenate([score_lightcurve(flat_lightcurve(n=10_000, seed=50_000 + s), params).snr
                           for s in range(1000)])


@pytest.mark.parametrize("threshold", [3.0, 4.0, 4.5, 5.0])
def test_false_alarm_rate_over_ten_million_epochs(ten_million_scores, threshold):
    n = ten_million_scores.size
    exceed = int(np.sum(np.abs(ten_million_scores) >= threshold))
    p = math.erfc(threshold / math.sqrt(2))
    assert abs(exceed - n * p) < 3 * math.sqrt(n * p * (1 - p)), (exceed, n * p)


@pytest.mark.parametrize("repeat", range(5))
def test_kill_and_resume_repeatedly(tmp_path, new_database, repeat):
    from tests.e2e.test_kill_resume import test_sigkill_at_random_moments_then_resume_matches_uninterrupted_run

    test_sigkill_at_random_moments_then_resume_matches_uninterrupted_run(tmp_path, new_database())
