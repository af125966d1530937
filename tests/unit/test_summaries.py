"""Per-source summaries: per filter, one filter's magnitude, a signed strongest event with its kind and time.

The results here are built by hand (lightcurves with known epochs, S/N and detections), so these tests
check the summary's definitions and do not depend on the finder.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from virtualobserver.domain.analysis.analysis import LightcurveResult
from virtualobserver.domain.analysis.summaries import summarise, summarise_many
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import FILTER_FIELDS, SourceSummary


def result(band, mag, snr, *, good=None, flux=None, mjd0=60000.0, detections=(), dropped=0, baseline=100.0):
    """A lightcurve result with the given magnitudes and single-epoch S/N (all epochs good by default)."""
    mag = np.asarray(mag, dtype=float)
    n = mag.size
    flux = 10 ** (-0.4 * (mag - 25.0)) if flux is None else np.asarray(flux, dtype=float)
    good = np.ones(n, bool) if good is None else np.asarray(good, bool)
    lc = Lightcurve("demo", band, 0, {
        "mjd": mjd0 + np.arange(n, dtype=float), "flux": flux, "fluxerr": np.ones(n), "mag": mag,
        "magerr": np.full(n, 0.01), "flag": np.zeros(n, int), "exptime": np.full(n, 30.0)})
    snr = np.where(good, np.asarray(snr, dtype=float), np.nan)  # the finder scores good epochs only
    return LightcurveResult(lc, SimpleNamespace(good=good), SimpleNamespace(snr=snr, baseline=baseline),
                            list(detections), dropped)


def detection(kind, snr, peak_mjd):
    return Detection(kind, peak_mjd, peak_mjd - 1.0, peak_mjd + 1.0, snr, 1.0, 0.0, 3, 1.0)


def source(i=1):
    s = Source(f"s{i}", 10.0, 20.0)
    s.id = i
    return s


def test_the_magnitude_is_one_filters_never_a_mix():
    g = result("g", [18.0, 18.2, 18.4], [0.1, 0.2, 0.3])  # 3 good epochs
    r = result("r", [17.0, 17.1, 17.2, 17.3, 17.4], [0.1] * 5, good=[1, 1, 1, 1, 0])  # 4 good epochs
    summary = summarise(source(), [g, r], "demo", "v1")
    assert summary.per_filter["g"]["mag_median"] == pytest.approx(18.2)
    assert summary.per_filter["r"]["mag_median"] == pytest.approx(17.15)  # the bad epoch does not count
    assert summary.mag_median == summary.per_filter["r"]["mag_median"]  # the filter with most good epochs
    # The old definition, the median over both filters' good epochs (17.3), is no filter's magnitude.
    assert summary.mag_median != pytest.approx(17.3)
    # A tie in good epochs goes to the first filter by name.
    tied = summarise(source(), [result("r", [17.0] * 3, [0.0] * 3), result("g", [18.0] * 3, [0.0] * 3)], "demo", "v")
    assert tied.mag_median == 18.0


def test_per_filter_statistics():
    lightcurves = [result("g", [18.0] * 4, [1.0, -2.0, 0.5, 0.0], detections=[detection(BRIGHTENING, 6.0, 60001.0)]),
                   result("g", [18.1] * 2, [3.0, 0.0], good=[1, 0], mjd0=60100.0),
                   result("zr", [17.0] * 6, [0.0, 0.0, -4.5, 0.0, 1.0, 0.0], mjd0=60200.0)]
    summary = summarise(source(), lightcurves, "demo", "v1")
    assert sorted(summary.per_filter) == ["g", "zr"]
    assert all(tuple(values) == FILTER_FIELDS for values in summary.per_filter.values())
    g, zr = summary.per_filter["g"], summary.per_filter["zr"]
    assert (g["num_lightcurves"], g["num_epochs"], g["num_good"], g["num_detections"]) == (2, 6, 5, 1)
    assert (zr["num_lightcurves"], zr["num_epochs"], zr["num_good"], zr["num_detections"]) == (1, 6, 6, 0)
    assert g["best_snr"] == 6.0 and zr["best_snr"] == -4.5  # g's detection; zr's strongest epoch, signed
    assert (summary.num_lightcurves, summary.num_epochs, summary.num_good, summary.num_detections) == (3, 12, 11, 1)


def test_best_snr_is_the_strongest_detection_signed_with_its_kind_and_time():
    # The case of the issue: a dip at S/N -497.2 and a flare at 287.9 in another filter.
    flare = detection(BRIGHTENING, 287.9, 60010.5)
    dip = detection(DIMMING, -497.2, 60220.25)
    weaker = detection(DIMMING, -12.0, 60230.0)
    summary = summarise(source(), [result("g", [16.0] * 5, [300.0, 1, 0, 0, 0], detections=[flare]),
                                   result("r", [15.8] * 5, [0.0] * 5, detections=[weaker, dip], mjd0=60200.0)],
                        "demo", "v1")
    assert (summary.best_snr, summary.best_kind, summary.best_peak_mjd) == (-497.2, DIMMING, 60220.25)
    assert summary.per_filter["g"]["best_snr"] == 287.9  # the detection, not the stronger single epoch
    assert summary.per_filter["r"]["best_snr"] == -497.2


def test_without_detections_best_snr_is_the_strongest_good_epoch_signed():
    bad_outlier = result("g", [18.0] * 4, [0.5, -50.0, 1.0, 0.2], good=[1, 0, 1, 1])  # -50 is a bad epoch
    dimmer = result("r", [17.5] * 4, [0.3, -3.5, 2.0, 3.5], mjd0=60100.0)  # a tie of |3.5|: the first
    summary = summarise(source(), [bad_outlier, dimmer], "demo", "v1")
    assert summary.best_snr == -3.5 and summary.best_kind is None and summary.best_peak_mjd == 60101.0
    assert summary.per_filter["g"]["best_snr"] == 1.0
    nothing = summarise(source(), [result("g", [18.0] * 3, [0.0] * 3, good=[0, 0, 0])], "demo", "v1")
    assert (nothing.best_snr, nothing.best_kind, nothing.best_peak_mjd, nothing.mag_median) == (None,) * 4


def test_epochs_without_magnitude_count_as_faintest():
    # A source near the limit: 2 of 5 good fluxes <= 0 have no magnitude. The median flux is 30, whose
    # magnitude is 25 - 2.5 log10(30); the median of the 3 magnitudes alone would be that of flux 60.
    flux = np.array([-10.0, 30.0, 90.0, 0.0, 60.0])
    mag = np.where(flux > 0, 25.0 - 2.5 * np.log10(np.where(flux > 0, flux, 1.0)), np.nan)
    summary = summarise(source(), [result("g", mag, [0.0] * 5, flux=flux)], "demo", "v1")
    assert summary.mag_median == pytest.approx(25.0 - 2.5 * np.log10(30.0))
    # Median flux <= 0: no magnitude (the filter with a magnitude, if any, stands for the source).
    faint = result("g", [np.nan] * 3 + [24.0] * 2, [0.0] * 5, flux=[-1.0, 0.0, -2.0, 1.6, 1.6])
    r = result("r", [20.0], [0.0])
    summary = summarise(source(), [faint, r], "demo", "v1")
    assert summary.per_filter["g"]["mag_median"] is None and summary.mag_median == 20.0


def test_dropped_detections_are_summed():
    summary = summarise(source(), [result("g", [18.0] * 3, [0.0] * 3, dropped=4),
                                   result("r", [18.0] * 3, [0.0] * 3, dropped=3)], "demo", "v1")
    assert summary.detections_dropped == 7
    assert summarise(source(), [], "demo", "v1") == SourceSummary(1, "demo", "v1")


def test_many_sources_equal_one_at_a_time_and_lightcurve_order_does_not_matter():
    rng = np.random.default_rng(5)
    sources = []
    for i in range(25):
        mine = []
        for k in range(int(rng.integers(0, 6))):
            n = int(rng.integers(0, 30))
            dets = [detection(str(rng.choice([BRIGHTENING, DIMMING])), float(rng.normal(0, 20)), 60000.0 + k)
                    for _ in range(int(rng.integers(0, 3)))]
            mine.append(result(str(rng.choice(["g", "r", "i"])), rng.uniform(15, 20, n), rng.normal(0, 2, n),
                               good=rng.random(n) < 0.8, detections=dets, mjd0=60000.0 + 100 * k,
                               dropped=int(rng.integers(0, 2))))
        sources.append((source(i), mine))
    together = summarise_many(sources, "demo", "v1")
    for (s, mine), summary in zip(sources, together):
        assert summary == summarise(s, mine, "demo", "v1")
        shuffled = [mine[j] for j in rng.permutation(len(mine))]
        other = summarise(s, shuffled, "demo", "v1")
        # Everything but the lightcurve order within a filter, which only decides exact ties.
        assert (other.mag_median, other.num_good, other.per_filter.keys()) == (
            summary.mag_median, summary.num_good, summary.per_filter.keys())
        assert other.best_snr == summary.best_snr
