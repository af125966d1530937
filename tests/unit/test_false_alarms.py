"""False alarms on Gaussian noise against the Gaussian tail, at the default settings and the alternatives.

Every lightcurve here is pure Gaussian noise with right (unequal) errors, so a correct S/N is N(0, 1)
per epoch and per matched-filter window. Power, stated per test through ``assert_tail``'s
``min_expected``: the defaults are tested over 6.4 million epochs per lightcurve length, which
expects 405 epochs beyond |S/N| = 4 and 17,280 beyond 3; a rate 20 % off is then 4.0 and 26 binomial
standard errors away, and fails the 3-standard-error tolerance (at T = 4 with 84 % probability).
The tail at 5 sigma (and a factor 1.5 there) needs 10^8 epochs: ``make test-slow``.
"""

import numpy as np
import pytest

from virtualobserver.domain.analysis.detecting import find_detections
from virtualobserver.domain.analysis.finder import AnalysisParameters, score_many
from tests.noise import assert_tail, noise_lightcurves, two_sided_tail

#: Lightcurve lengths the issue names (about a season of ZTF in one filter up to a TESS orbit).
LENGTHS = (20, 33, 100, 1000)
_DEFAULT_EPOCHS = 6_400_000
_CHUNK = 1_000_000


def _scores(n: int, epochs: int, parameters: AnalysisParameters, seed: int, keep=None):
    """Return the single-epoch S/N of ``epochs`` noise epochs in lightcurves of ``n`` (and, if asked, the scores)."""
    rng = np.random.default_rng(seed)
    values, kept = [], []
    for start in range(0, epochs, _CHUNK):
        lightcurves = noise_lightcurves(n, min(_CHUNK, epochs - start) // n, rng)
        scores = score_many(lightcurves, parameters)
        values.extend(s.snr for s in scores)
        if keep is not None:
            kept.extend(zip(lightcurves, scores))
    snr = np.concatenate(values)
    scored = np.isfinite(snr)
    assert scored.all()  # every epoch is good and scored (a sliding window truncated at the ends, as wotan's)
    return (snr, kept) if keep is not None else snr


@pytest.fixture(scope="module", params=LENGTHS, ids=[f"n={n}" for n in LENGTHS])
def default_scores(request):
    n = request.param
    defaults = AnalysisParameters()
    assert defaults.excess_scatter and defaults.detrend == "none"  # what "the defaults" are
    return n, _scores(n, _DEFAULT_EPOCHS, defaults, seed=1000 + n)


@pytest.mark.parametrize("threshold", [3.0, 4.0])
def test_default_false_alarms_per_epoch_follow_the_gaussian_tail(default_scores, threshold):
    n, snr = default_scores
    assert_tail(int(np.sum(np.abs(snr) >= threshold)), snr.size, threshold, min_expected=400)


def test_default_false_alarms_are_symmetric_in_sign(default_scores):
    # Brightenings and dimmings beyond 3 sigma each expect 8,640: 3 standard errors of their
    # difference (2 x 93) is 4 % of either, so a 10 % asymmetry fails.
    _, snr = default_scores
    up, down = int(np.sum(snr >= 3.0)), int(np.sum(snr <= -3.0))
    assert min(up, down) > 5000 and abs(up - down) < 3 * np.sqrt(up + down)


@pytest.mark.parametrize("n", [33, 1000])
@pytest.mark.parametrize("alternative", [
    {"excess_scatter": False},
    {"detrend": "biweight", "detrend_window_days": 30.0},  # 30 epochs per window
    {"detrend": "biweight", "detrend_window_days": 30.0, "excess_scatter": False},
], ids=["excess-off", "biweight", "biweight-excess-off"])
def test_alternative_settings_false_alarms_per_epoch_follow_the_gaussian_tail(n, alternative):
    # 1.6 million epochs: 4,320 expected beyond 3 sigma (4,060 at n = 33, whose two detrended ends are
    # not scored), where a rate 20 % off is 13 standard errors away; beyond 4 sigma about 100 are
    # expected, where 20 % off is 2 standard errors (a coarse check; every length is checked at T = 3
    # by the defaults and here at 33 and 1000; `make test-slow` runs all four lengths).
    snr = _scores(n, 1_600_000, AnalysisParameters(**alternative), seed=2000 + n)
    assert_tail(int(np.sum(np.abs(snr) >= 3.0)), snr.size, 3.0, min_expected=4000)
    assert_tail(int(np.sum(np.abs(snr) >= 4.0)), snr.size, 4.0, min_expected=90)


@pytest.mark.parametrize("detrend", ["none", "biweight"])
@pytest.mark.parametrize("width", [4.0, 16.0])
def test_matched_filter_false_alarms_per_window_follow_the_gaussian_tail(width, detrend):
    # Windows of one lightcurve overlap and are correlated; windows whose centres are further apart
    # than the width share no epoch, so those are counted: 1,000 lightcurves x 1,000 epochs give
    # ~59,000 (width 16) to ~200,000 (width 4) disjoint windows, 159 to 540 expected beyond 3 sigma
    # (a rate 20 % off is 2.5 to 4.6 standard errors away).
    parameters = AnalysisParameters(widths_days=[width], detrend=detrend, detrend_window_days=4 * width)
    values = []
    rng = np.random.default_rng(int(width) + (7 if detrend == "none" else 0))
    for _ in range(4):
        for scores in score_many(noise_lightcurves(1000, 250, rng), parameters):
            values.append(scores.filtered[width][:: int(width) + 1])
    z = np.concatenate(values)
    assert np.isfinite(z).all()  # every window has a baseline (the biweight's truncated at the ends)
    assert abs(np.std(z) - 1.0) < 0.02  # 59,000 values: the standard deviation to 0.3 %
    assert_tail(int(np.sum(np.abs(z) >= 3.0)), z.size, 3.0, min_expected=150)


def test_detections_on_noise_are_one_per_false_alarm_epoch():
    # Events (not epochs) at the defaults with T = 4 over 6.4 million epochs of 1000-epoch lightcurves:
    # each epoch beyond 4 sigma seeds one event; two merge only if within a few epochs of each other
    # (~8 x 6e-5 of the time), so the count follows the per-epoch tail (405 expected, 20 % off = 4 se).
    parameters = AnalysisParameters(threshold=4.0)
    _, kept = _scores(1000, _DEFAULT_EPOCHS, parameters, seed=3000, keep=True)
    events = sum(len(find_detections(lc, scores, parameters)) for lc, scores in kept
                 if np.nanmax(np.abs(scores.snr)) >= 4.0)
    assert_tail(events, _DEFAULT_EPOCHS, 4.0, min_expected=400)
    assert two_sided_tail(4.0) * _DEFAULT_EPOCHS > 400
