"""Focused cases for ``domain/analysis/*.py`` written against the mutants that survived ``make test-mutation``.

Each test names what it pins down; the expected values are worked out by hand, with numpy, or with the
plain-loop definitions of ``tests/reference_scores.py`` (wotan's biweight, ``numpy.median``), never
from the code under test. The survivors they kill are listed in ``tests/mutation/analysis.md``.
"""

import warnings

import numpy as np
import pytest

from virtualobserver.domain.analysis import calibration, scoring
from virtualobserver.domain.analysis.analysis import Analysis, HistogramParameters, SCANNED, _range
from virtualobserver.domain.analysis.baselines import median_without_windows, sliding_biweight, windowed_biweight
from virtualobserver.domain.analysis.finder import AnalysisParameters, score_lightcurve
from virtualobserver.domain.analysis.scoring import _red_noise_corrected, _window_snr, score_batch
from virtualobserver.domain.source import Source
from tests.factories import flat_lightcurve, writable_columns
from tests.reference_scores import reference_scores, wotan_location


def test_the_calibration_tables_check_passes_on_the_table_and_refuses_a_bad_one(monkeypatch):
    calibration._check()  # the real table: 13 sizes x 5 significances, all finite
    table = calibration._GATE_TABLE.copy()
    table[3, 2] = np.nan
    monkeypatch.setattr(calibration, "_GATE_TABLE", table)
    with pytest.raises(ValueError, match="does not match"):
        calibration._check()
    monkeypatch.setattr(calibration, "_GATE_TABLE", calibration._GATE_TABLE[:, :4])
    with pytest.raises(ValueError, match="does not match"):
        calibration._check()


def test_a_histogram_range_parameter_is_a_list_of_floats_with_its_default_and_description():
    spec = _range([1.0, 2.0, 0.5], "of something")
    assert (spec.default, spec.kind, spec.item_kind) == ([1.0, 2.0, 0.5], list, float)
    assert spec.description == "Bins of of something: [start, stop, step]."


def test_sliding_biweight_passes_its_options_on():
    # Epochs 0.1 d apart, window 1 d: the epoch at 2.0 has the window [1.5, 2.5), epochs 15..24.
    # Excluding epoch 20 (and an outlier at 18) leaves the biweight of the others: wotan's definition.
    rng = np.random.default_rng(1)
    mjd = np.arange(60) * 0.1
    flux = 10.0 + rng.normal(0.0, 1.0, 60)
    excluded = np.zeros(60, bool)
    excluded[[18, 20]] = True
    location, count, (squares,) = sliding_biweight(mjd, flux, 1.0, excluded=excluded, sums=(flux**2,), rows=[20])
    window = [j for j in range(15, 25) if j not in (18, 20)]
    assert count[20] == 8 and np.isnan(location[:20]).all()
    assert location[20] == pytest.approx(wotan_location(flux[window]), abs=1e-9)
    assert squares[20] == pytest.approx(np.sum(flux[window] ** 2))


def test_score_lightcurve_scores_only_the_epochs_it_is_given():
    lc = flat_lightcurve(n=40, seed=3)
    good = np.ones(40, bool)
    good[[5, 6, 30]] = False
    scores = score_lightcurve(lc, AnalysisParameters(), good)
    assert scores.good.tolist() == good.tolist()
    assert np.isnan(scores.snr[[5, 6, 30]]).all() and np.isfinite(np.delete(scores.snr, [5, 6, 30])).all()
    snr, _, _ = reference_scores(lc, AnalysisParameters(), good)  # the definitions over those 37 epochs
    assert np.allclose(scores.snr, snr, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_analysing_a_source_fills_the_histograms_it_is_given():
    lc = flat_lightcurve(n=30, seed=4)
    columns = writable_columns(lc)
    columns["flag"][[2, 3]] = 1  # two bad epochs: 28 scanned
    lc.columns = columns
    analysis = Analysis(AnalysisParameters(), histograms=HistogramParameters())
    histograms = analysis.new_histograms()
    source = Source("s", 10.0, 20.0)
    source.id = 1
    analysis.analyse_source(source, [lc], "test", "v1", histograms)
    assert histograms[SCANNED].total("epochs") == 28
    assert histograms["cut_chi"].total("epochs") == 30  # every epoch counts in a cut's histogram
    # One lightcurve at a time: analyse_lightcurve's result, filled in again, doubles the counts.
    result = analysis.analyse_lightcurve(lc)
    assert int(result.quality.good.sum()) == 28
    analysis.fill(histograms, result)
    assert histograms[SCANNED].total("epochs") == 56 and histograms["cut_chi"].total("epochs") == 60


def test_median_without_windows_of_no_kept_value_and_of_no_window():
    values = np.array([3.0, 1.0, 2.0])
    medians, left = median_without_windows(values, np.zeros(3, bool), np.array([0, 1]), np.array([1, 3]))
    assert np.isnan(medians).all() and left.tolist() == [0, 0]  # nothing in the sample: no median
    medians, left = median_without_windows(values, np.ones(3, bool), np.zeros(0, np.intp), np.zeros(0, np.intp))
    assert medians.shape == left.shape == (0,)


def _red_noise_gate(n: float) -> float:
    # The excess-scatter gate at 3 sigma below the table's first size (10): its first row, 4.165 standard
    # deviations of 1.1664 / sqrt(n) (calibration.py's table, by hand).
    return 1.0 + 4.165 * 1.1664 / np.sqrt(n)


def test_red_noise_correction_applies_from_three_window_values():
    # Three windows of one epoch each: 3 independent values; their robust scatter 1.4826 x 10 = 14.8
    # is far above the gate (3.80), so the S/N are divided by it.
    values = np.array([0.0, 10.0, -10.0])
    corrected = _red_noise_corrected(values, np.ones(3), AnalysisParameters())
    assert _red_noise_gate(3) == pytest.approx(3.805, abs=1e-3)
    assert corrected == pytest.approx(values / (1.482602218505602 * 10.0))
    assert _red_noise_corrected(values[:2], np.ones(2), AnalysisParameters()).tolist() == [0.0, 10.0]  # too few


def test_red_noise_gate_counts_overlapping_windows_as_one_independent_value():
    # Three windows of three epochs each are one independent value: the gate is 1 + 4.165 x 1.1664 = 5.86,
    # not the 4.44 of two values; a scatter of 1.4826 x 3.5 = 5.19 lies between and is left alone.
    values = np.array([-3.5, 0.0, 3.5])
    assert _red_noise_gate(2) < 1.482602218505602 * 3.5 < _red_noise_gate(1)
    assert _red_noise_corrected(values, np.full(3, 3.0), AnalysisParameters()).tolist() == values.tolist()
    # One-epoch windows: three independent values, gate 3.80, corrected.
    assert _red_noise_corrected(values, np.ones(3), AnalysisParameters())[2] == pytest.approx(1 / 1.482602218505602)


def test_an_empty_window_scores_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snr = _window_snr(np.array([1.0, 2.0]), np.ones(2), np.array([0, 1]), np.array([0, 2]), np.zeros(2),
                          np.zeros(2))
    assert np.isnan(snr[0]) and snr[1] == pytest.approx(2.0)  # the second window holds 2 alone: 2 / 1


@pytest.mark.parametrize("widths", [[], [1.5]])
def test_an_injected_copy_recomputes_only_the_biweight_windows_that_hold_a_changed_epoch(monkeypatch, widths):
    # One epoch a day, a 5-day window [t - 2.5, t + 2.5): epoch 100's flux changes, so only the windows
    # of epochs 98..102 hold it (for the single epochs, and for the 1.5-day box, the epoch alone); the
    # scores equal a scoring from scratch.
    lc = flat_lightcurve(n=200, seed=6)
    parameters = AnalysisParameters(detrend="biweight", detrend_window_days=5.0, widths_days=widths)
    original = score_batch([lc], parameters, None)[0][0]
    columns = writable_columns(lc)
    columns["flux"][100] += 50.0
    injected = lc.with_photometry(columns["flux"], lc.fluxerr, lc.mag, lc.magerr)
    fresh = score_batch([injected], parameters, None)[0][0]
    computed = []

    def recording(*args, rows=None, **kwargs):
        computed.append(None if rows is None else np.asarray(rows).tolist())
        return windowed_biweight(*args, rows=rows, **kwargs)

    monkeypatch.setattr(scoring, "windowed_biweight", recording)
    reused = score_batch([injected], parameters, None, [(lc, original)])[0][0]
    assert computed == [[98, 99, 100, 101, 102]] * (1 + len(widths))
    assert np.array_equal(reused.snr, fresh.snr, equal_nan=True)
    for width in widths:
        assert np.array_equal(reused.filtered[width], fresh.filtered[width], equal_nan=True)
    assert np.array_equal(reused.trend, fresh.trend, equal_nan=True)


@pytest.mark.parametrize("copy_first", [True, False])
def test_a_batch_mixing_a_copy_with_a_previous_scoring_and_one_without_scores_each_as_from_scratch(copy_first):
    # ``previous`` is per lightcurve: None where a lightcurve has no earlier scoring. The batch's scores
    # equal each lightcurve scored alone from scratch, whichever lightcurve comes first in the batch (the
    # reused windows are then at an offset in the batch).
    lc = flat_lightcurve(n=120, seed=6)
    other = flat_lightcurve(n=80, seed=7)
    parameters = AnalysisParameters(detrend="biweight", detrend_window_days=5.0, widths_days=[])
    original = score_batch([lc], parameters, None)[0][0]
    columns = writable_columns(lc)
    columns["flux"][60] += 50.0
    injected = lc.with_photometry(columns["flux"], lc.fluxerr, lc.mag, lc.magerr)
    lightcurves, previous = [injected, other], [(lc, original), None]
    if not copy_first:
        lightcurves, previous = lightcurves[::-1], previous[::-1]
    batch = score_batch(lightcurves, parameters, None, previous)[0]
    for scores, alone in zip(batch, lightcurves):
        fresh = score_batch([alone], parameters, None)[0][0]
        assert np.array_equal(scores.snr, fresh.snr, equal_nan=True)
        assert np.array_equal(scores.trend, fresh.trend, equal_nan=True)


@pytest.mark.parametrize("detrend", ["none", "biweight"])
def test_scoring_a_lightcurve_with_bad_epochs_and_a_lone_epoch_warns_of_nothing(detrend):
    # A flagged epoch has no baseline (0 epochs: 0/0) and an epoch alone after a gap longer than half the
    # window has none either: NaN scores, silently (numpy's RuntimeWarnings are errors here).
    lc = flat_lightcurve(n=60, seed=8)
    columns = writable_columns(lc)
    columns["flag"][[3, 4]] = 1
    columns["mjd"][-1] += 100.0
    lc.columns = columns
    parameters = AnalysisParameters(detrend=detrend, detrend_window_days=5.0, widths_days=[1.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = score_lightcurve(lc, parameters)
    assert np.isnan(scores.snr[[3, 4]]).all() and np.isfinite(scores.snr[5:59]).all()


def test_when_the_batch_summary_fails_each_source_is_summarised_alone_with_its_survey_and_version(monkeypatch):
    # summarise_many refusing the batch: each source's summary is then made alone, still recorded under the
    # survey and version asked for, with its own lightcurves and epochs (counted by hand).
    from virtualobserver.domain.analysis import analysis as module
    from virtualobserver.domain.errors import DataError

    def refuse(*args, **kwargs):
        raise DataError("batch summary refused")

    monkeypatch.setattr(module, "summarise_many", refuse)
    sources = [Source(name="a", ra=1.0, dec=2.0), Source(name="b", ra=3.0, dec=4.0)]
    for i, source in enumerate(sources):
        source.id = i + 1
    grouped = [(sources[0], [flat_lightcurve(n=40, seed=1), flat_lightcurve(n=30, seed=2)]),
               (sources[1], [flat_lightcurve(n=25, seed=3)])]
    outcomes = Analysis(AnalysisParameters(threshold=4.0)).analyse_sources(grouped, "demo", "v7")
    assert [(s.source_id, s.survey, s.version, s.num_lightcurves, s.num_epochs) for _, s in outcomes] == [
        (1, "demo", "v7", 2, 70), (2, "demo", "v7", 1, 25)]
    assert [len(results) for results, _ in outcomes] == [2, 1]


@pytest.mark.parametrize(("lengths", "snr", "values", "positions"), [
    # Every segment holds epochs: the strongest |S/N| keeps its sign; a segment of NaN only has none.
    ([3, 2, 1], [1.0, -3.0, 2.0, np.nan, np.nan, 0.5], [-3.0, np.nan, 0.5], [1, -1, 0]),
    # With an empty segment (a filter whose lightcurves have no epoch), and a tie taken at its first epoch.
    ([3, 0, 2, 1], [1.0, -3.0, 3.0, np.nan, np.nan, 0.5], [-3.0, np.nan, np.nan, 0.5], [1, -1, -1, 0]),
])
def test_the_strongest_epoch_of_each_segment_by_hand(lengths, snr, values, positions):
    from virtualobserver.domain.analysis.summaries import _strongest_epoch_each
    from virtualobserver.domain.segments import Segments

    got_values, got_positions = _strongest_epoch_each(np.array(snr), Segments(lengths))
    assert np.array_equal(got_values, values, equal_nan=True)
    assert got_positions == positions


@pytest.mark.parametrize("ra0", [90.0, 270.0])
def test_offsets_of_a_source_far_from_ra_zero_are_small(ra0):
    # Positions scattered by 0.1 arcsec around (ra0, 0): offsets in robust sigmas stay small and every epoch
    # passes. (Wrapping the RA differences at the wrong place would split a source at 90 or 270 deg in two.)
    from virtualobserver.domain.analysis.quality import QualityChecker

    rng = np.random.default_rng(2)
    lc = flat_lightcurve(n=100, seed=1)
    lc.columns = {**lc.columns, "ra": ra0 + rng.normal(0, 0.1 / 3600, 100), "dec": rng.normal(0, 0.1 / 3600, 100)}
    result = QualityChecker().check(lc)
    assert np.nanmax(result.values["offset"]) < 5.0 and result.good.all()


def test_a_histogram_axis_of_few_wide_bins_is_accepted_and_one_of_too_many_is_refused():
    # [0, 1000, 200]: 5 bins of 200 (well under MAX_AXIS_BINS); [0, 1000, 0.001]: a million bins.
    from virtualobserver.domain.analysis.analysis import MAX_AXIS_BINS
    from virtualobserver.domain.errors import ConfigError

    assert (1000 - 0) / 200 < MAX_AXIS_BINS < (1000 - 0) / 0.001
    assert HistogramParameters(snr=[0.0, 1000.0, 200.0]).snr == [0.0, 1000.0, 200.0]  # checked when built
    with pytest.raises(ConfigError, match="'snr'"):
        HistogramParameters(snr=[0.0, 1000.0, 0.001])


def test_a_repeated_histogram_filter_is_refused_naming_the_filters_key():
    from virtualobserver.domain.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        HistogramParameters(filters=["g", "g"])  # checked when built
    assert refused.value.key == "filters"


def test_the_worst_values_over_a_detection_stop_at_its_last_epoch():
    # Epochs 2..4 hold chi 1, 3, 2; epoch 5 (after the window) holds 9: the worst over 2..4 is 3.
    from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters

    lc = flat_lightcurve(n=10, seed=1)
    lc.columns = {**lc.columns, "chi": np.array([0.0, 0.0, 1.0, 3.0, 2.0, 9.0, 0.0, 0.0, 0.0, 0.0])}
    result = QualityChecker(QualityParameters(max_chi=20.0)).check(lc)
    assert result.over(2, 4)["chi"] == 3.0 and result.over(5, 5)["chi"] == 9.0


def test_cuts_left_off_fail_no_epoch_whatever_their_values_and_give_boolean_masks():
    # max_abs_sharp and max_offset_sigma at 0 (off): a sharpness of 0.5 and a position 5 arcsec away fail
    # nothing, and each cut's mask selects no epoch.
    from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters

    n = 50
    lc = flat_lightcurve(n=n, seed=1)
    dec = np.zeros(n)
    dec[7] = 5 / 3600
    lc.columns = {**lc.columns, "sharp": np.full(n, 0.5), "ra": np.full(n, 10.0), "dec": dec}
    result = QualityChecker(QualityParameters(max_abs_sharp=0.0, max_offset_sigma=0.0)).check(lc)
    assert result.good.all() and (result.flag == 0).all()
    for cut in ("sharp", "offset"):
        assert lc.mjds[result.failed[cut]].size == 0


def test_a_step_of_exactly_four_cadences_is_kept_and_a_longer_one_counts_as_one_cadence():
    # Steps 1, 1, 4, 1, 1, 5, 1: median cadence 1; a step longer than 4 cadences is a gap (1 day); the
    # last epoch gets one cadence.
    from virtualobserver.domain.analysis.detecting import _GAP_CADENCES, _time_steps

    assert _GAP_CADENCES == 4.0
    mjd = np.cumsum([0.0, 1.0, 1.0, 4.0, 1.0, 1.0, 5.0, 1.0])
    assert _time_steps(mjd).tolist() == [1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_a_lightcurve_without_robust_scatter_is_not_clipped():
    # Six of ten fluxes equal 5: median 5, MAD 0, so there is no robust scatter to clip by and every good
    # epoch stays in the sample. A second lightcurve with scatter loses its outlier (100) at 3 sigma.
    from virtualobserver.domain.analysis.scoring import _clipped_sample
    from virtualobserver.domain.segments import Segments

    flat = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 1.0, 9.0, 2.0, 8.0]
    scattered = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]
    sample = _clipped_sample(Segments([10, 7]), np.array(flat + scattered), np.ones(17, bool), 3.0)
    assert sample.tolist() == [True] * 10 + [True] * 6 + [False]


def test_a_faint_source_below_unit_flux_has_its_magnitude_change():
    # Flux 0.5 with noise 0.001: delta_mag = -2.5 log10(flux / trend) is defined at every good epoch, and
    # epoch 10 raised to 1.0 (twice the baseline) is 2.5 log10(2) = 0.753 mag brighter.
    lc = flat_lightcurve(n=60, flux=0.5, sigma=0.001, seed=3)
    columns = writable_columns(lc)
    columns["flux"][10] = 1.0
    lc.columns = columns
    scores = score_lightcurve(lc, AnalysisParameters())
    assert np.isfinite(scores.delta_mag).all()
    assert scores.delta_mag[10] == pytest.approx(-2.5 * np.log10(2.0), abs=0.01)


def test_the_excess_threshold_is_continuous_where_the_table_ends():
    # Beyond the largest tabulated size the threshold follows the Gaussian limit with a fading skew term,
    # starting from the table's last row: no jump between the last size and just beyond it.
    from virtualobserver.domain.analysis.calibration import _GATE_SIZES, excess_threshold

    largest = float(_GATE_SIZES[-1])
    at, beyond = excess_threshold(np.array([largest, largest * 1.001]), 3.0)
    assert beyond == pytest.approx(at, rel=1e-3) and beyond < at
