"""QualityChecker: each named cut, its value per epoch, the flag bits, and inputs left untouched."""

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events
from virtualobserver.domain.analysis.quality import CUTS, QualityChecker, QualityParameters
from tests.factories import flat_lightcurve


def with_columns(lc, **columns):
    lc.columns = {**lc.columns, **columns}
    return lc


def lightcurve(n=100):
    rng = np.random.default_rng(0)
    lc = flat_lightcurve(n=n, seed=1)
    return with_columns(
        lc, ra=10.0 + rng.normal(0, 0.1 / 3600, n), dec=-20.0 + rng.normal(0, 0.1 / 3600, n),
        limiting_mag=np.full(n, 21.0), chi=np.full(n, 1.0), sharp=np.zeros(n))


def test_clean_lightcurve_is_all_good():
    result = QualityChecker(QualityParameters(max_chi=4.0, max_abs_sharp=0.25)).check(lightcurve())
    assert result.good.all() and (result.flag == 0).all()
    assert set(result.values) == set(CUTS)


@pytest.mark.parametrize("cut, change", [
    ("flag", lambda c: c["flag"].__setitem__(5, 32768)),
    ("nan", lambda c: c["flux"].__setitem__(5, np.nan)),
    ("offset", lambda c: c["dec"].__setitem__(5, c["dec"][5] + 5 / 3600)),
    ("limiting_mag", lambda c: c["limiting_mag"].__setitem__(5, 10.0)),
    ("chi", lambda c: c["chi"].__setitem__(5, 9.0)),
    ("sharp", lambda c: c["sharp"].__setitem__(5, -0.9)),
])
def test_each_cut_marks_only_its_epoch_and_sets_its_bit(cut, change):
    lc = lightcurve()
    columns = {k: v.copy() for k, v in lc.columns.items()}
    change(columns)
    lc.columns = columns
    before = {k: v.copy() for k, v in lc.columns.items()}
    result = QualityChecker(QualityParameters(max_chi=4.0, max_abs_sharp=0.25)).check(lc)
    assert np.flatnonzero(~result.good).tolist() == [5]
    assert result.flag[5] == 1 << CUTS.index(cut) and result.failed[cut][5]
    for k, v in before.items():
        np.testing.assert_array_equal(lc.columns[k], v)  # never modifies the input


def test_offset_value_in_robust_sigmas_and_ra_wrap():
    lc = lightcurve()
    ra = lc.columns["ra"] - 10.0  # around ra = 0: values on both sides of 0/360
    lc.columns = {**lc.columns, "ra": np.mod(ra, 360.0)}
    result = QualityChecker().check(lc)
    assert np.nanmax(result.values["offset"]) < 5.0 and result.good.all()


def test_cuts_off_by_default_where_threshold_zero_and_missing_columns_are_nan():
    lc = flat_lightcurve(n=50)
    result = QualityChecker().check(lc)
    assert np.isnan(result.values["chi"]).all() and result.good.all()


def test_finder_skips_epochs_failing_cuts_and_reports_worst_values():
    lc = lightcurve(300)
    columns = {k: v.copy() for k, v in lc.columns.items()}
    columns["flux"][100:103] += [10.0, 30.0, 10.0]
    columns["chi"][101] = 3.0
    columns["flux"][200] += 40.0
    columns["chi"][200] = 9.0
    lc.columns = columns
    quality = QualityChecker(QualityParameters(max_chi=4.0)).check(lc)
    _, detections = find_events(lc, AnalysisParameters(threshold=5.0), quality)
    assert len(detections) == 1 and detections[0].peak_mjd == lc.mjds[101]
    assert detections[0].quality["chi"] == 3.0 and detections[0].quality["flag"] == 0.0


def test_limiting_magnitude_cut_compares_the_baseline_not_the_event():
    # A 1.5-mag dip whose epochs fall below the survey limit (21.0, the source at 20.0) is an event:
    # the cut asks whether the image could show the source at its baseline magnitude, so none of the
    # dip's epochs is cut, and the finder finds the dip. A shallow image (limit 19.5) is still cut.
    lc = lightcurve(200)
    columns = {k: v.copy() for k, v in lc.columns.items()}
    columns["flux"][100:104] = 100.0 * 10 ** (-0.4 * 1.5)  # 25 % of the flux: 1.5 mag fainter
    columns["mag"] = 25.0 - 2.5 * np.log10(columns["flux"])  # baseline 20.0, dip 21.5 (below the limit)
    columns["limiting_mag"][150] = 19.5
    lc.columns = columns
    result = QualityChecker().check(lc)
    baseline = float(np.median(columns["mag"]))
    assert result.values["limiting_mag"][100] == pytest.approx(baseline - 21.0)
    assert (columns["mag"][100:104] > columns["limiting_mag"][100:104]).all()  # the epochs are below the limit
    assert result.good[100:104].all() and np.flatnonzero(~result.good).tolist() == [150]
    _, detections = find_events(lc, AnalysisParameters(), result)
    assert [d.kind for d in detections] == ["dimming"] and detections[0].peak_mjd in lc.mjds[100:104]
    assert detections[0].amplitude == pytest.approx(10 ** (-0.4 * 1.5) - 1, abs=0.03)
