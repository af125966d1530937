"""QualityChecker: each named cut, its value per epoch, the flag bits, and inputs left untouched."""

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, find_events
from domain.analysis.quality import CUTS, QualityChecker, QualityParameters
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
