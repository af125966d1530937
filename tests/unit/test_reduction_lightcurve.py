"""Reduction to lightcurves and the Lightcurve invariants."""

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.naming import safe_key
from virtualobserver.domain.reduction import ReductionParameters, mag_to_flux, reduce_photometry


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


def test_text_flags_are_read_as_integers_and_a_word_is_named():
    t = table()
    t["flag"] = np.array(["0", "0", "32768"] + ["0"] * 7)  # as a CSV reader may give them
    lcs = reduce_photometry(t, ReductionParameters(season_gap_days=50.0), survey="s", source_name="x")
    assert lcs[0].flag.tolist() == [0, 32768, 0, 0]
    t["flag"] = np.array(["0"] * 9 + ["bad"])
    with pytest.raises(DataError, match=r"s data of 'x': column 'flag' holds 'bad', not an integer quality flag"):
        reduce_photometry(t, ReductionParameters(), survey="s", source_name="x")


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


def _survey_table(n=60, bands=("g", "r"), seed=4):
    rng = np.random.default_rng(seed)
    mjd = np.sort(rng.uniform(0.0, 800.0, n))
    mjd[[5, 6]] = mjd[4]  # equal times keep their order
    return {
        "mjd": mjd, "mag": rng.normal(18.0, 0.1, n), "magerr": rng.uniform(0.05, 0.1, n),
        "filter": np.array(bands)[rng.integers(0, len(bands), n)], "flag": np.where(rng.random(n) < 0.2, 4, 0),
        "exptime": np.full(n, 30.0), "ra": rng.normal(10.0, 1e-5, n), "chi": rng.uniform(0.8, 1.5, n),
    }


def _state(lcs):
    """Everything a lightcurve of the reduction carries, bit for bit."""
    return [(lc.filter, lc.season, lc.source_name, lc.summary(), lc.good.tolist(),
             [(name, values.dtype.str, values.tobytes()) for name, values in lc.columns.items()]) for lc in lcs]


@pytest.mark.parametrize("bands", [("g",), ("g", "r", "i")])
def test_shuffled_epochs_give_the_lightcurves_of_sorted_ones(bands):
    sorted_table = _survey_table(bands=bands)
    del sorted_table["mjd"]
    # Distinct times (the order of equal ones is not in question), with a gap that starts a second season.
    sorted_table["mjd"] = np.arange(60.0) * 7.0 + np.where(np.arange(60) >= 30, 300.0, 0.0)
    order = np.random.default_rng(1).permutation(60)
    shuffled = {name: values[order] for name, values in sorted_table.items()}
    p = ReductionParameters(season_gap_days=250.0, min_epochs=2)
    expected = reduce_photometry(sorted_table, p, survey="s", source_name="x")
    assert len(expected) == 2 * len(bands)
    assert _state(reduce_photometry(shuffled, p, survey="s", source_name="x")) == _state(expected)


@pytest.mark.parametrize("bands", [("g",), ("g", "r")])
def test_reduced_lightcurves_equal_ones_built_from_their_columns(bands):
    given = _survey_table(bands=bands)
    lcs = reduce_photometry(given, ReductionParameters(season_gap_days=30.0), survey="s", source_name="x")
    assert lcs
    rebuilt = [Lightcurve(lc.survey, lc.filter, lc.season, {k: v.copy() for k, v in lc.columns.items()},
                          source_name="x") for lc in lcs]
    assert _state(lcs) == _state(rebuilt)
    for lc in lcs:
        assert [v.dtype for v in lc.columns.values()] == [np.float64] * 5 + [np.int64] + [np.float64] * 3
        for values in list(lc.columns.values()) + [lc.good]:
            # Never a view of the caller's arrays, never writable.
            assert not values.flags.writeable
            assert not any(np.shares_memory(values, column) for column in given.values())


def test_epochs_without_a_finite_time_are_dropped_and_seasons_counted_among_the_rest():
    t = _survey_table(n=30, bands=("g",))
    t["mjd"] = np.concatenate([[-np.inf], np.arange(1.0, 14.0), [500.0 + i for i in range(13)], [np.nan, np.inf, np.nan]])
    lcs = reduce_photometry(t, ReductionParameters(season_gap_days=50.0), survey="s")
    assert [(lc.season, lc.num_epochs, lc.mjd_start) for lc in lcs] == [(0, 13, 1.0), (1, 13, 500.0)]
    assert lcs[0].mag.tolist() == t["mag"][1:14].tolist()


def test_lists_and_strided_columns_reduce_like_arrays():
    t = _survey_table()
    wide = {name: np.repeat(values, 2)[::2] for name, values in t.items()}
    as_lists = {name: values.tolist() for name, values in t.items()}
    p = ReductionParameters(season_gap_days=30.0)
    expected = _state(reduce_photometry(t, p, survey="s"))
    assert _state(reduce_photometry(wide, p, survey="s")) == expected
    assert _state(reduce_photometry(as_lists, p, survey="s")) == expected


def test_a_longer_column_is_cut_to_the_epochs_as_the_gather_always_did():
    t = _survey_table()
    order = np.random.default_rng(2).permutation(60)
    shuffled = {name: values[order] for name, values in t.items()}
    longer = dict(shuffled, chi=np.concatenate([shuffled["chi"], [9.0, 9.0]]))
    p = ReductionParameters(season_gap_days=30.0)
    assert _state(reduce_photometry(longer, p, survey="s")) == _state(reduce_photometry(shuffled, p, survey="s"))
