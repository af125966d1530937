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
