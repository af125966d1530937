"""Finder: events found, merged and measured (peak, extent, amplitude, equivalent duration), detrending.

The false-alarm statistics are in test_false_alarms.py; these tests plant events of known shape.
"""

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events, score_lightcurve
from virtualobserver.domain.detection import BRIGHTENING, DIMMING
from virtualobserver.domain.errors import ConfigError
from virtualobserver.domain.lightcurve import Lightcurve
from tests.factories import flat_lightcurve, writable_columns

DAY = 86400.0


def inject(lc, start, values):
    columns = writable_columns(lc)
    columns["flux"][start:start + len(values)] += values
    lc.columns = columns  # recomputes the summary and the good-epoch mask
    return lc


def test_no_detections_at_high_threshold_on_noise_and_a_planted_spike_is_found():
    # 10,000 noise epochs at T = 6 expect 10^4 x erfc(6 / sqrt 2) = 2e-5 false alarms: none. The
    # positive control (the same lightcurves with one 10-sigma epoch each) keeps the test from passing
    # on a finder that finds nothing: each spike scores z + 10 > 6 unless z < -4 (P = 3e-5 per
    # lightcurve), so all 20 are found, peaking at the spike's epoch.
    params = AnalysisParameters(threshold=6.0)
    assert all(not find_events(flat_lightcurve(n=500, seed=s), params)[1] for s in range(20))
    for s in range(20):
        lc = inject(flat_lightcurve(n=500, seed=s), 250, [10.0])
        detections = find_events(lc, params)[1]
        assert [(d.kind, d.peak_mjd) for d in detections] == [(BRIGHTENING, lc.mjds[250])], s


def test_brightening_event_peak_extent_and_measures():
    bump = np.array([6.0, 8.0, 20.0, 9.0, 6.0])  # on a baseline of 100 with errors of 1, one epoch a day
    lc = inject(flat_lightcurve(n=300, seed=1), 100, bump)
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0, extent_threshold=2.5))
    assert len(detections) == 1
    d = detections[0]
    assert d.kind == BRIGHTENING and d.peak_mjd == lc.mjds[102] and d.peak_flux == lc.flux[102]
    assert (d.start_mjd, d.end_mjd) == (lc.mjds[100], lc.mjds[104]) and d.num_epochs == 5
    assert (d.first_epoch, d.last_epoch) == (100, 104) and d.duration == 4.0
    assert d.snr == pytest.approx(20.0, abs=3.0) and d.peak_snr == d.snr
    assert d.baseline_flux == pytest.approx(100.0, abs=0.3)  # the median of the other epochs
    assert d.amplitude == pytest.approx(lc.flux[102] / d.baseline_flux - 1)
    assert d.delta_mag == pytest.approx(-2.5 * np.log10(lc.flux[102] / d.baseline_flux))
    # Equivalent duration: the fractional excess times each epoch's step to the next (1 day), in seconds;
    # its error propagates the 1 % errors: sqrt(5) x 0.01 x 1 day.
    expected = np.sum(lc.flux[100:105] / d.baseline_flux - 1) * DAY
    assert d.equivalent_duration == pytest.approx(expected, rel=1e-9)
    assert d.equivalent_duration == pytest.approx(bump.sum() / 100 * DAY, rel=0.1)
    assert d.equivalent_duration_err == pytest.approx(np.sqrt(5) * 0.01 * DAY, rel=0.01)


def test_dimming_event_measures_and_direction_filter():
    lc = inject(flat_lightcurve(n=300, seed=2), 50, np.array([-12.0, -15.0]))
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert [d.kind for d in detections] == [DIMMING] and detections[0].snr < -10
    d = detections[0]
    assert d.peak_mjd == lc.mjds[50 + int(np.argmin(lc.flux[50:52]))]
    assert -0.17 < d.amplitude < -0.13 and d.equivalent_duration < 0  # depth 13-17 %, negative area
    _, none = find_events(lc, AnalysisParameters(threshold=5.0, direction=BRIGHTENING))
    assert none == []


def test_flagged_epochs_are_not_searched():
    lc = inject(flat_lightcurve(n=300, seed=3), 10, np.array([50.0]))
    columns = writable_columns(lc)
    columns["flag"][10] = 32768
    lc.columns = columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert detections == []


def test_every_event_is_kept_and_a_cap_is_counted():
    lc = flat_lightcurve(n=300, seed=4)
    columns = writable_columns(lc)
    for i, amp in zip(range(20, 280, 20), range(10, 140, 10)):
        columns["flux"][i] += amp
    lc.columns = columns
    scores, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    assert len(detections) == 13 and scores.detections_dropped == 0
    scores, capped = find_events(lc, AnalysisParameters(threshold=5.0, max_detections=3))
    assert [round(d.snr, -1) for d in capped] == pytest.approx([130, 120, 110], abs=10)
    assert scores.detections_dropped == 10


def test_fragments_of_one_event_merge_and_separate_events_do_not():
    lc = flat_lightcurve(n=300, seed=8)
    columns = writable_columns(lc)
    columns["flux"][95:115] = columns["flux"][190:215] = 100.0  # quiet around the events
    columns["flux"][100:103] += 12.0  # a run, one quiet epoch, then another run: one event
    columns["flux"][103] = 100.0
    columns["flux"][104:106] += 8.0
    columns["flux"][200:202] += 12.0  # and an event 5 quiet epochs from the next: two events
    columns["flux"][202:207] = 100.0
    columns["flux"][207:209] += 12.0
    lc.columns = columns
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0))
    spans = sorted((d.first_epoch, d.last_epoch) for d in detections)
    assert spans == [(100, 105), (200, 201), (207, 208)]


def _fast_cadence_flare(seed: int, noise: float = 1.0) -> Lightcurve:
    # Two days at a 2-minute cadence; a flare (rise 2 cadences, decay e-folding over 8) at epoch 700.
    rng = np.random.default_rng(seed)
    n = 1440
    mjd = 59000.0 + np.arange(n) * 2 / 1440
    shape = np.zeros(n)
    dt = np.arange(n) - 700
    shape[dt >= 0] = np.exp(-dt[dt >= 0] / 8.0)
    shape[(dt < 0) & (dt >= -2)] = [0.3, 0.7]
    flux = 100.0 + 40.0 * shape + rng.normal(0, noise, n)
    return Lightcurve("test", "TESS", 0, {
        "mjd": mjd, "flux": flux, "fluxerr": np.full(n, noise), "mag": np.full(n, 15.0),
        "magerr": np.full(n, 0.01), "flag": np.zeros(n, int), "exptime": np.full(n, 120.0)}, time_scale="tdb")


def test_a_flare_found_by_the_matched_filter_is_measured_at_its_own_epochs():
    # The box of 0.05 d spans 36 cadences; the flare's peak is its brightest epoch (not the best box's
    # centre) and its extent is its own excursion (not the box).
    lc = _fast_cadence_flare(seed=9)
    params = AnalysisParameters(widths_days=[0.01, 0.05])
    _, detections = find_events(lc, params)
    assert len(detections) == 1
    d = detections[0]
    assert d.peak_mjd == lc.mjds[700] and d.peak_flux == lc.flux[700]
    assert 698 <= d.first_epoch <= 700 and 710 <= d.last_epoch <= 725 and d.num_epochs < 30
    assert d.snr > d.peak_snr > 30  # the windows add the decay's epochs
    truth = 40.0 * (1 / (1 - np.exp(-1 / 8.0)) + 1.0) / 100 * (2 / 1440) * DAY  # the flare's whole area
    assert d.equivalent_duration == pytest.approx(truth, rel=0.1)


def test_a_long_faint_event_only_windows_see_spans_its_window():
    lc = inject(flat_lightcurve(n=400, seed=7), 200, np.full(16, 1.8))  # 1.8 sigma per epoch, 16 epochs
    single = AnalysisParameters(threshold=5.0, excess_scatter=False)
    assert find_events(lc, single)[1] == []
    detections = find_events(lc, single.replace(widths_days=[4.0, 16.0]))[1]
    assert len(detections) == 1
    d = detections[0]
    assert d.filter_width == 16.0 and d.snr > 5.0 and lc.mjds[200] <= d.peak_mjd <= lc.mjds[215]
    assert d.start_mjd <= lc.mjds[203] and d.end_mjd >= lc.mjds[212]
    assert lc.flux[d.first_epoch] > 100.0 and lc.flux[d.last_epoch] > 100.0  # trimmed to the excess


def test_baseline_and_amplitude_not_dragged_by_a_long_event():
    lc = inject(flat_lightcurve(n=200, seed=5), 0, np.full(30, 20.0))  # a long event, 15% of epochs
    scores, detections = find_events(lc, AnalysisParameters())
    assert scores.baseline == pytest.approx(100.0, abs=0.6)
    assert len(detections) == 1 and detections[0].amplitude == pytest.approx(0.2, abs=0.03)
    assert detections[0].num_epochs == 30


def _spotted_star(seed: int) -> Lightcurve:
    # A rotating, spotted star at Kepler's long cadence: 3 % modulation with a 1.5-day period, noise
    # 0.1 %, and one 7 % flare (one epoch, then half of it) at epoch 1000.
    rng = np.random.default_rng(seed)
    n = 3000
    mjd = 55000.0 + np.arange(n) * 0.0204
    flux = 1e5 * (1 + 0.03 * np.sin(2 * np.pi * mjd / 1.5)) + rng.normal(0, 100.0, n)
    flux[1000] += 7000.0
    flux[1001] += 3500.0
    return Lightcurve("kepler", "Kepler", 0, {
        "mjd": mjd, "flux": flux, "fluxerr": np.full(n, 100.0), "mag": np.full(n, 13.0),
        "magerr": np.full(n, 0.001), "flag": np.zeros(n, int), "exptime": np.full(n, 1765.5)}, time_scale="tdb")


def test_detrending_finds_a_flare_on_a_spotted_star_and_nothing_on_its_rotation():
    lc = _spotted_star(seed=11)
    # One baseline per lightcurve: the modulation becomes "excess scatter" and swallows the flare.
    plain_scores, plain = find_events(lc, AnalysisParameters())
    assert plain_scores.scatter > 1000 and not any(d.first_epoch <= 1000 <= d.last_epoch for d in plain)
    # A sliding biweight (window 0.3 d, a fifth of the period) follows the spots: the flare alone.
    params = AnalysisParameters(detrend="biweight", detrend_window_days=0.3, widths_days=[0.06])
    scores, detections = find_events(lc, params)
    # Within half a window of the lightcurve's ends the window is truncated (as wotan's) and lags the
    # modulation's slope (here up to 9 sigma: 3 % in 1.5 days against 0.1 % noise), which may make an
    # event there; everywhere else the flare alone is found.
    ends = (lc.mjds[0] + 0.15, lc.mjds[-1] - 0.15)
    inside = [d for d in detections if ends[0] <= d.peak_mjd <= ends[1]]
    assert [(d.kind, d.peak_mjd) for d in inside] == [(BRIGHTENING, lc.mjds[1000])]
    assert len(detections) - len(inside) <= 2
    # Against the star's flux at the flare, which is at a maximum of the modulation: a constant over a
    # symmetric window misses the curvature there by 1 - sinc(pi W / P) of the modulation's amplitude
    # (0.065 x 3 % = 0.19 % of the flux), which the amplitude takes on.
    star = 1 + 0.03 * np.sin(2 * np.pi * lc.mjds[1000] / 1.5)
    curvature = 0.03 * (1 - np.sinc(0.3 / 1.5)) / star
    assert detections[0].amplitude == pytest.approx(0.07 / star + curvature, abs=0.0015)
    # The trend leaves the noise (1) and the curvature it misses (up to 1.9 sigma at the extrema), not
    # the modulation (21 sigma rms for one baseline).
    residual = (lc.flux - scores.trend) / 100.0
    assert np.nanstd(np.delete(residual, [1000, 1001])) < 2.0
    assert np.nanstd((lc.flux - plain_scores.trend) / 100.0) > 20.0


def test_detrending_window_must_be_three_times_the_longest_width():
    with pytest.raises(ConfigError, match="3 x the longest"):
        AnalysisParameters(detrend="biweight", detrend_window_days=0.1, widths_days=[0.05])
    AnalysisParameters(detrend="none", detrend_window_days=0.1, widths_days=[0.05])  # no trend, no rule


def test_scores_carry_the_trend_each_epoch_was_measured_against():
    lc = flat_lightcurve(n=50, seed=12)
    scores = score_lightcurve(lc, AnalysisParameters())
    for i in (0, 17, 49):
        assert scores.trend[i] == np.median(np.delete(lc.flux, i))  # no epoch is its own baseline


def test_a_flare_at_a_lightcurves_end_is_measured_whole_with_no_dip_beside_it():
    # The real TESS flare star's largest flare ends its sector: a window shrunk to stay symmetric there
    # held little but the flare, so its tail became trend and a box beside it a spurious dip. Synthetic
    # equivalent: 2-min cadence, noise 1 %, a flare of 2.4x decaying in the last 16 epochs.
    lc = flat_lightcurve(n=2000, flux=250.0, sigma=2.5, seed=21)
    columns = writable_columns(lc)
    columns["mjd"] = 1325.0 + np.arange(2000) * (2.0 / 1440.0)
    flare = 350.0 * np.exp(-np.arange(16) / 4.0)
    columns["flux"][-16:] += flare
    lc.columns = columns
    params = AnalysisParameters(detrend="biweight", detrend_window_days=0.3, widths_days=[0.01, 0.05],
                                threshold=5.0)
    _, detections = find_events(lc, params)
    assert [d.kind for d in detections] == [BRIGHTENING]
    (flare_event,) = detections
    assert flare_event.end_mjd == lc.mjds[-1] and flare_event.peak_mjd == lc.mjds[-16]
    expected = float(np.sum(flare / 250.0)) * 120.0  # seconds, one cadence per epoch
    assert flare_event.equivalent_duration == pytest.approx(expected, rel=0.03)


def test_min_consecutive_keeps_only_events_with_that_many_epochs_in_a_row_at_the_threshold():
    lc = inject(flat_lightcurve(n=400, seed=22), 100, np.array([12.0]))  # a one-epoch outlier
    lc = inject(lc, 250, np.array([9.0, 7.0, 5.0, 3.5]))  # a four-epoch flare, all above 3 sigma
    default = find_events(lc, AnalysisParameters())[1]
    assert sorted(d.first_epoch for d in default) == [100, 250]  # the default keeps every event
    confirmed = find_events(lc, AnalysisParameters(min_consecutive=3))[1]
    assert [d.first_epoch for d in confirmed] == [250]
    assert not find_events(lc, AnalysisParameters(min_consecutive=3, consecutive_threshold=6.0))[1]
