"""Finder: false-alarm rate on Gaussian noise and recovery of injected events."""

import math

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, find_events, score_lightcurve
from domain.detection import BRIGHTENING, DIMMING
from tests.factories import flat_lightcurve, writable_columns


@pytest.fixture(scope="module")
def noise_scores():
    # 1000 lightcurves x 1000 epochs = 10^6 epochs of pure Gaussian noise with correctly quoted errors.
    params = AnalysisParameters(excess_scatter=False)
    return np.concatenate([score_lightcurve(flat_lightcurve(n=1000, seed=seed), params).snr
                           for seed in range(1000)])


@pytest.mark.parametrize("threshold", [3.0, 4.0, 5.0])
def test_false_alarm_rate_matches_gaussian_tail(noise_scores, threshold):
    exceed, epochs = int(np.sum(np.abs(noise_scores) >= threshold)), noise_scores.size
    assert epochs >= 10**6
    p = math.erfc(threshold / math.sqrt(2))  # two-sided tail
    expected = epochs * p
    standard_error = math.sqrt(epochs * p * (1 - p))
    assert abs(exceed - expected) < 3 * standard_error, (exceed, expected, standard_error)


def test_no_detections_at_high_threshold_on_noise():
    params = AnalysisParameters(threshold=6.0)
    assert all(not find_events(flat_lightcurve(n=500, seed=s), params)[1] for s in range(20))


def inject(lc, start, values):
    columns = writable_columns(lc)
    columns["flux"][start:start + len(values)] += values
    lc.columns = columns  # recomputes the summary and the good-epoch mask
    return lc


def test_brightening_event_peak_and_extent():
    lc = inject(flat_lightcurve(n=300, seed=1), 100, np.array([6.0, 8.0, 20.0, 9.0, 6.0]))
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0, extent_threshold=2.5))
    assert len(detections) == 1
    d = detections[0]
    assert d.kind == BRIGHTENING and d.peak_mjd == lc.mjds[102]
    assert (d.start_mjd, d.end_mjd) == (lc.mjds[100], lc.mjds[104]) and d.num_epochs == 5
    assert d.snr == pytest.approx(20.0, abs=3.0)
    assert d.delta_mag == pytest.approx(-2.5 * np.log10(120 / 100), abs=0.03)


def test_dimming_event_and_direction_filter():
    lc = inject(flat_lightcurve(n=300, seed=2), 50, np.array([-12.0, -15.0]))
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert [d.kind for d in detections] == [DIMMING] and detections[0].snr < -10
    _, none = find_events(lc, AnalysisParameters(threshold=5.0, direction=BRIGHTENING))
    assert none == []


def test_flagged_epochs_are_not_searched():
    lc = inject(flat_lightcurve(n=300, seed=3), 10, np.array([50.0]))
    columns = writable_columns(lc)
    columns["flag"][10] = 32768
    lc.columns = columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert detections == []


def test_max_detections_keeps_strongest():
    lc = flat_lightcurve(n=300, seed=4)
    columns = writable_columns(lc)
    for i, amp in zip(range(20, 280, 20), range(10, 140, 10)):
        columns["flux"][i] += amp
    lc.columns = columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0, max_detections=3))
    assert [round(d.snr, -1) for d in detections] == pytest.approx([130, 120, 110], abs=10)


def test_robust_baseline_not_dragged_by_event():
    lc = inject(flat_lightcurve(n=200, seed=5), 0, np.full(30, 20.0))  # a long event, 15% of epochs
    scores = score_lightcurve(lc, AnalysisParameters())
    assert scores.baseline == pytest.approx(100.0, abs=0.6)


@pytest.mark.parametrize("threshold", [3.0, 4.0, 5.0])
def test_single_epoch_detections_on_noise_match_the_gaussian_tail(threshold):
    # Detections (not only epochs) over 10^6 epochs. With extent_threshold = T an event needs
    # neighbouring epochs beyond T to merge, which happens for ~2 p_one_sided^2 of epochs:
    # ~4 of ~2700 at T = 3, far below one standard error, so the count follows the per-epoch tail.
    params = AnalysisParameters(threshold=threshold, extent_threshold=threshold, excess_scatter=False,
                                max_detections=10**6)
    detections = [d for seed in range(1000)
                  for d in find_events(flat_lightcurve(n=1000, seed=seed), params)[1]]
    p = math.erfc(threshold / math.sqrt(2))
    expected, se = 1e6 * p, math.sqrt(1e6 * p * (1 - p))
    assert abs(len(detections) - expected) < 3 * se, (len(detections), expected, se)


def test_matched_filter_is_unit_normal_on_noise():
    params = AnalysisParameters(excess_scatter=False, widths_days=[10.0])
    values = np.concatenate([score_lightcurve(flat_lightcurve(n=1000, seed=s), params).filtered[10.0]
                             for s in range(50)])
    # Windows overlap, so values are correlated: check moments loosely (derived for 5000 independent windows).
    assert abs(values.mean()) < 4 / math.sqrt(5000) + 0.02 and abs(values.std() - 1) < 0.05


def test_matched_filter_finds_a_long_faint_event_single_epochs_miss():
    lc = inject(flat_lightcurve(n=400, seed=7), 200, np.full(16, 1.8))  # 1.8 sigma per epoch, 16 epochs
    single = AnalysisParameters(threshold=5.0, excess_scatter=False)
    assert find_events(lc, single)[1] == []
    filtered = single.replace(widths_days=[4.0, 16.0])
    detections = find_events(lc, filtered)[1]
    assert len(detections) == 1
    d = detections[0]
    assert d.filter_width == 16.0 and d.snr > 5.0 and lc.mjds[200] <= d.peak_mjd <= lc.mjds[215]
    assert d.start_mjd <= lc.mjds[203] and d.end_mjd >= lc.mjds[212]
    assert (d.first_epoch, d.last_epoch) == (int(np.searchsorted(lc.mjds, d.start_mjd)),
                                             int(np.searchsorted(lc.mjds, d.end_mjd)))
