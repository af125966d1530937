"""Reduction to lightcurves and the Lightcurve invariants."""

import numpy as np
import pytest

from domain.errors import DataError
from domain.lightcurve import Lightcurve
from domain.naming import safe_key
from domain.reduction import ReductionParameters, mag_to_flux, reduce_photometry


def table():
    mjd = np.array([5.0, 1.0, 2.0, 3.0, 200.0, 201.0, 202.0, 1.5, 2.5, 3.5])
    return {
        "mjd": mjd, "mag": np.full(10, 20.0), "magerr": np.full(10, 0.1),
        "filter": np.array(["g"] * 7 + ["r"] * 3), "flag": np.array([0, 0, 32768, 0, 0, 0, 0, 0, 0, 0]),
        "exptime": np.full(10, 30.0),
    }


def test_split_by_filter_and_season_keeps_flagged_epochs():
    lcs = reduce_photometry(table(), ReductionParameters(season_gap_days=50.0), survey="s", source_name="x")
    assert [(lc.filter, lc.season, lc.num_epochs) for lc in lcs] == [("g", 0, 4), ("g", 1, 3), ("r", 0, 3)]
    g0 = lcs[0]
    assert np.all(np.diff(g0.mjds) > 0)
    assert g0.flag.tolist() == [0, 32768, 0, 0] and g0.num_good == 3


def test_min_epochs_drops_short_seasons():
    lcs = reduce_photometry(table(), ReductionParameters(season_gap_days=50.0, min_epochs=4), survey="s")
    assert [(lc.filter, lc.season) for lc in lcs] == [("g", 0)]


def test_mag_to_flux_zero_point_and_error():
    flux, err = mag_to_flux(np.array([20.0, 22.5]), np.array([0.1, 0.1]), 25.0)
    assert flux == pytest.approx([100.0, 10.0])
    assert err == pytest.approx(flux * 0.1 * np.log(10) / 2.5)


def test_lightcurve_times_and_summary():
    lc = reduce_photometry(table(), ReductionParameters(season_gap_days=50.0), survey="s")[0]
    assert lc.times.scale == "utc" and lc.times[0].mjd == pytest.approx(1.0)
    s = lc.summary()
    assert s["num_epochs"] == 4 and s["mag_median"] == pytest.approx(20.0) and s["mjd_end"] == 5.0


def test_lightcurve_rejects_ragged_columns():
    cols = {c: np.zeros(3) for c in ("mjd", "flux", "fluxerr", "mag", "magerr", "flag", "exptime")}
    cols["flux"] = np.zeros(2)
    with pytest.raises(DataError, match="column shapes differ"):
        Lightcurve("s", "g", columns=cols)


def test_missing_raw_column_named():
    t = table()
    del t["magerr"]
    with pytest.raises(DataError, match=r"missing columns \['magerr'\]"):
        reduce_photometry(t, ReductionParameters(), survey="s", source_name="x")


@pytest.mark.parametrize("name", ["../../x", "a/b", "/etc/passwd", ".hidden", "", "ü ñ", "a" * 500, "..", "a\x00b"])
def test_safe_key_never_a_path(name):
    key = safe_key(name)
    assert "/" not in key and "\\" not in key and not key.startswith(".") and len(key) < 80
    assert key.replace("-", "").replace("_", "").replace(".", "").isalnum()


def test_safe_key_distinguishes_similar_names():
    assert len({safe_key(n) for n in ["a/b", "a_b", "a b", "a?b"]}) == 4


def _columns(n=6, flux=None):
    flux = np.arange(1.0, n + 1) if flux is None else flux
    return {"mjd": np.arange(float(n))[::-1].copy(), "flux": flux, "fluxerr": np.full(n, 0.1),
            "mag": np.full(n, 20.0), "magerr": np.full(n, 0.1), "flag": np.zeros(n, int), "exptime": np.full(n, 30.0)}


def test_lightcurve_owns_read_only_copies_sorted_by_time():
    given = _columns()
    lc = Lightcurve("s", "g", columns=given)
    assert lc.mjds.tolist() == sorted(given["mjd"]) and lc.flux.tolist() == given["flux"][::-1].tolist()
    given["flux"][:] = -1.0  # the caller's arrays are not the lightcurve's
    assert lc.flux.min() == 1.0
    with pytest.raises(ValueError, match="read-only"):
        lc.columns["flux"][0] = 99.0
    with pytest.raises(ValueError, match="read-only"):
        lc.good[0] = False


def test_replacing_columns_renews_the_good_mask_summary_and_derived_values():
    lc = Lightcurve("s", "g", columns=_columns())
    calls = []
    assert lc.derived("span", lambda x: calls.append(1) or float(x.mjds[-1] - x.mjds[0])) == 5.0
    assert lc.derived("span", lambda x: calls.append(1) or -1.0) == 5.0 and len(calls) == 1  # cached
    columns = _columns(n=4, flux=np.array([1.0, np.nan, 3.0, 4.0]))
    lc.columns = columns
    assert lc.good.tolist() == [True, True, False, True]  # sorted by time: the NaN flux moved
    assert (lc.num_epochs, lc.num_good) == (4, 3) and lc.flux_median == pytest.approx(3.0)
    assert lc.derived("span", lambda x: float(x.mjds[-1] - x.mjds[0])) == 3.0


def test_a_copy_left_unsummarised_has_counts_but_no_robust_statistics():
    lc = Lightcurve("s", "g")
    lc.set_columns(_columns(), summarise=False)
    assert (lc.num_epochs, lc.num_good, lc.mjd_start, lc.mjd_end) == (6, 6, 0.0, 5.0)
    assert lc.flux_median is None and lc.mag_rms is None


def test_other_photometry_at_the_same_epochs_shares_times_and_refuses_other_shapes():
    lc = Lightcurve("s", "g", columns=_columns(), time_scale="tdb")
    flux = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    copy = lc.with_photometry(flux, lc.fluxerr, lc.mag, lc.magerr)
    assert copy.time_scale == "tdb" and np.shares_memory(copy.mjds, lc.mjds) and not copy.flux.flags.writeable
    assert copy.good.tolist() == [True, True, False, True, True, True] and lc.good.all()
    assert (copy.num_good, copy.flux_median) == (5, None)
    with pytest.raises(DataError, match="flux has shape"):
        lc.with_photometry(flux[:3], lc.fluxerr, lc.mag, lc.magerr)
