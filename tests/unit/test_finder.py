"""Finder: false-alarm rate on Gaussian noise and recovery of injected events."""

import math

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, find_events, score_lightcurve
from domain.detection import BRIGHTENING, DIMMING
from tests.factories import flat_lightcurve


@pytest.mark.parametrize("threshold", [3.0, 4.0])
def test_false_alarm_rate_matches_gaussian_tail(threshold):
    # 200 lightcurves x 1000 epochs of pure Gaussian noise with correctly quoted errors.
    params = AnalysisParameters(threshold=threshold, excess_scatter=False)
    exceed, epochs = 0, 0
    for seed in range(200):
        scores = score_lightcurve(flat_lightcurve(n=1000, seed=seed), params)
        exceed += int(np.sum(np.abs(scores.snr) >= threshold))
        epochs += scores.snr.size
    p = math.erfc(threshold / math.sqrt(2))  # two-sided tail
    expected = epochs * p
    standard_error = math.sqrt(epochs * p * (1 - p))
    assert abs(exceed - expected) < 3 * standard_error, (exceed, expected, standard_error)


def test_no_detections_at_high_threshold_on_noise():
    params = AnalysisParameters(threshold=6.0)
    assert all(not find_events(flat_lightcurve(n=500, seed=s), params)[1] for s in range(20))


def inject(lc, start, values):
    lc.columns["flux"][start:start + len(values)] += values
    lc.columns = lc.columns  # recompute summary
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
    lc.columns["flag"][10] = 32768
    lc.columns = lc.columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert detections == []


def test_max_detections_keeps_strongest():
    lc = flat_lightcurve(n=300, seed=4)
    for i, amp in zip(range(20, 280, 20), range(10, 140, 10)):
        lc.columns["flux"][i] += amp
    lc.columns = lc.columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0, max_detections=3))
    assert [round(d.snr, -1) for d in detections] == pytest.approx([130, 120, 110], abs=10)


def test_robust_baseline_not_dragged_by_event():
    lc = inject(flat_lightcurve(n=200, seed=5), 0, np.full(30, 20.0))  # a long event, 15% of epochs
    scores = score_lightcurve(lc, AnalysisParameters())
    assert scores.baseline == pytest.approx(100.0, abs=0.6)
