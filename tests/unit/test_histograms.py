"""Histograms: binning with flow/NaN/other bins, exact totals, additivity, projections and efficiency."""


import numpy as np
import pytest
import xarray as xr

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histograms import OTHER, Axis, Histograms


def one_axis(values, axis=None, **fill):
    h = Histograms({"x": axis or Axis.from_edges([0.0, 1.0, 2.0])})
    h.fill("counts", x=values, **fill)
    return h["counts"].values


def four_axes(variables=("scanned",)):
    return Histograms(
        {
            "mag": Axis.numeric(12, 20, 0.5),
            "snr": Axis.numeric(0, 10, 1),
            "dt": Axis.from_edges([0.0, 1.0, 3.0, 10.0, 30.0, 100.0]),
            "filter": Axis.categorical(["g", "r", "i"]),
        },
        variables,
    )


def random_rows(n, seed=42):
    rng = np.random.default_rng(seed)
    mag = rng.uniform(10, 22, n)
    mag[rng.random(n) < 0.01] = np.nan  # some missing magnitudes
    return {
        "mag": mag,
        "snr": rng.normal(5, 4, n),
        "dt": rng.exponential(20, n),
        "filter": rng.choice(np.array(["g", "r", "i", "z", "Y"]), n),
    }


def test_numeric_bins_with_underflow_overflow_and_nan():
    # bins: underflow, [0,1), [1,2), overflow, nan
    values = [-np.inf, -1.0, 0.0, 0.5, 0.999, 1.0, 2.0, 3.0, np.inf, np.nan, np.nan]
    np.testing.assert_array_equal(one_axis(values), [2, 3, 1, 3, 2])


def test_value_equal_to_an_edge_goes_to_the_upper_bin():
    np.testing.assert_array_equal(one_axis([0.0]), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(one_axis([1.0]), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(one_axis([2.0]), [0, 0, 0, 1, 0])  # the last edge opens the overflow
    np.testing.assert_array_equal(one_axis([np.nextafter(0.0, -1)]), [1, 0, 0, 0, 0])


def test_decimal_steps_give_decimal_edges():
    axis = Axis.numeric(0, 1, 0.1)
    assert axis.edges == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    counts = one_axis([0.3], axis)
    assert counts[axis.edges.index(0.3) + 1] == 1  # +1: the underflow bin comes first
    with pytest.raises(ValueError, match="not a multiple of step"):
        Axis.numeric(0, 1, 0.3)


def test_categorical_unknown_values_go_to_other():
    axis = Axis.categorical(["g", "r", "i"])
    counts = one_axis(["g", "r", "z", "", "g", "G"], axis)
    np.testing.assert_array_equal(counts, [2, 1, 0, 3])
    np.testing.assert_array_equal(one_axis(np.array([b"i", b"g"]), axis), [1, 0, 1, 0])  # bytes from HDF5
    np.testing.assert_array_equal(one_axis([None, "r"], axis), [0, 1, 0, 1])
    np.testing.assert_array_equal(one_axis([1, 2, 2, 5], Axis.categorical([1, 2])), [1, 2, 1])  # ccd ids
    h = Histograms({"filter": axis})
    assert list(h["counts"].coords["filter"].values) == ["g", "r", "i", OTHER]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"edges": (1.0, 0.0)}, "strictly increasing"),
        ({"edges": (0.0, np.inf)}, "finite"),
        ({"edges": (0.0,)}, "at least 2"),
        ({"categories": ("g", "g")}, "unique"),
        ({"categories": ("g", OTHER)}, "unique"),
        ({}, "exactly one"),
        ({"edges": (0.0, 1.0), "categories": ("g",)}, "exactly one"),
    ],
)
def test_invalid_axes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Axis(**kwargs)


def test_total_equals_number_of_filled_values_and_weights():
    h = four_axes()
    rows = random_rows(10_000)
    h.fill("scanned", **rows)
    assert h.total("scanned") == 10_000
    assert h["scanned"].sel(mag=np.nan).sum() == np.isnan(rows["mag"]).sum()
    weights = np.arange(10_000) % 3
    h.fill("scanned", weights=weights, **rows)
    assert h.total("scanned") == 10_000 + weights.sum()
    h.fill("scanned", weights=np.full(10_000, 2.0), **rows)  # integral floats are accepted
    assert h.total("scanned") == 30_000 + weights.sum()


def test_scalars_broadcast_against_arrays():
    h = four_axes()
    h.fill("scanned", mag=[13.0, 14.0, 30.0], snr=5.0, dt=[0.5, 2.0, 50.0], filter="r")
    assert h.total("scanned") == 3
    assert h.project("scanned", "filter").sel(filter="r") == 3


def test_bad_fills_raise_and_leave_counts_untouched():
    h = four_axes()
    rows = random_rows(100)
    h.fill("scanned", **rows)
    before = h.copy()
    with pytest.raises(ValueError, match="unknown variable 'nope'"):
        h.fill("nope", **rows)
    with pytest.raises(ValueError, match="fill needs values for axes"):
        h.fill("scanned", mag=rows["mag"], snr=rows["snr"], dt=rows["dt"])
    with pytest.raises(ValueError, match="equal length"):
        h.fill("scanned", **{**rows, "dt": rows["dt"][:-1]})
    with pytest.raises(ValueError, match="non-negative integers"):
        h.fill("scanned", weights=np.full(100, 0.5), **rows)
    with pytest.raises(ValueError, match="non-negative integers"):
        h.fill("scanned", weights=-np.ones(100, dtype=int), **rows)
    assert h == before


def test_counts_agree_with_numpy_histogram():
    h = four_axes()
    rows = random_rows(20_000)
    h.fill("scanned", **rows)
    edges = np.asarray(h.axes["dt"].edges)
    expected, _ = np.histogram(rows["dt"][rows["dt"] < edges[-1]], bins=edges)  # numpy closes the last bin
    np.testing.assert_array_equal(h.project("scanned", "dt").values[1:-2], expected)
    assert h.project("scanned", "dt").sel(dt=np.inf) == (rows["dt"] >= 100).sum()


def test_additivity_of_disjoint_parts_is_exact():
    rows = random_rows(100_000, seed=7)
    whole = four_axes()
    whole.fill("scanned", **rows)
    part = np.random.default_rng(3).random(100_000) < 0.37  # interleaved, unequal halves
    halves = [four_axes(), four_axes()]
    halves[0].fill("scanned", **{k: v[part] for k, v in rows.items()})
    halves[1].fill("scanned", **{k: v[~part] for k, v in rows.items()})
    assert halves[0] + halves[1] == whole
    np.testing.assert_array_equal((halves[0] + halves[1])["scanned"].values, whole["scanned"].values)
    assert Histograms.merge(halves) == whole and sum(halves) == whole
    thirds = [four_axes() for _ in range(3)]
    for i, h in enumerate(thirds):
        h.fill("scanned", **{k: v[i::3] for k, v in rows.items()})
    assert Histograms.merge(thirds) == whole
    assert halves[0] != whole and halves[0].total("scanned") + halves[1].total("scanned") == 100_000


def test_addition_does_not_modify_the_operands_and_iadd_does():
    a, b = four_axes(), four_axes()
    a.fill("scanned", **random_rows(50, seed=1))
    b.fill("scanned", **random_rows(60, seed=2))
    a_before = a.copy()
    total = a + b
    assert a == a_before and total.total("scanned") == 110
    a += b
    assert a == total and a != a_before


def test_merging_mismatched_histograms_names_the_difference():
    h = four_axes()
    other_edges = Histograms({**h.axes, "dt": Axis.from_edges([0.0, 1.0, 3.0, 10.0, 30.0, 99.0])}, ("scanned",))
    with pytest.raises(ValueError, match="axis 'dt': edges differ"):
        h + other_edges
    other_categories = Histograms({**h.axes, "filter": Axis.categorical(["g", "r"])}, ("scanned",))
    with pytest.raises(ValueError, match="axis 'filter': categories differ"):
        Histograms.merge([h, other_categories])
    with pytest.raises(ValueError, match="axes differ"):
        h + Histograms({"mag": h.axes["mag"]}, ("scanned",))
    with pytest.raises(ValueError, match="variables differ"):
        h + four_axes(("injected", "recovered"))
    with pytest.raises(ValueError, match="at least one"):
        Histograms.merge([])


def test_efficiency_is_recovered_over_injected_with_nan_where_nothing_injected():
    h = Histograms({"amp": Axis.from_edges([0.0, 1.0, 2.0]), "filter": Axis.categorical(["g", "r"])},
                   ("injected", "recovered"))
    h.fill("injected", amp=[0.5] * 4 + [1.5] * 2 + [1.5] * 2, filter=["g"] * 6 + ["r"] * 2)
    h.fill("recovered", amp=[0.5, 1.5, 1.5, 1.5], filter=["g", "g", "g", "r"])
    eff = h.efficiency()
    assert eff.dims == ("amp", "filter") and eff.name == "efficiency"
    assert eff.sel(amp=0.5, filter="g") == 0.25
    assert eff.sel(amp=1.5, filter="g") == 1.0
    assert eff.sel(amp=1.5, filter="r") == 0.5
    assert np.isnan(eff.sel(amp=0.5, filter="r")) and np.isnan(eff.sel(filter=OTHER)).all()
    by_amp = h.efficiency("amp")
    np.testing.assert_array_equal(by_amp.values, [np.nan, 0.25, 0.75, np.nan, np.nan])


def test_project_sums_the_other_axes_in_the_requested_order():
    h = four_axes()
    rows = random_rows(5_000)
    h.fill("scanned", **rows)
    full = h["scanned"]
    by_filter_mag = h.project("scanned", "filter", "mag")
    assert by_filter_mag.dims == ("filter", "mag") and by_filter_mag.dtype == np.int64
    np.testing.assert_array_equal(by_filter_mag.values, full.sum(["snr", "dt"]).transpose("filter", "mag").values)
    assert by_filter_mag.sel(filter=OTHER).sum() == np.isin(rows["filter"], ["z", "Y"]).sum()
    assert int(h.project("scanned")) == 5_000
    assert "mag_lower" in by_filter_mag.coords and by_filter_mag.coords["mag_lower"].values[1] == 12.0
    with pytest.raises(ValueError, match="distinct axes"):
        h.project("scanned", "colour")


def test_copy_empty_like_and_equality():
    h = four_axes(("injected", "recovered"))
    h.fill("injected", **random_rows(100))
    c = h.copy()
    assert c == h and c is not h
    c.fill("recovered", **random_rows(10))
    assert c != h and h.total("recovered") == 0
    e = h.empty_like()
    assert e.axes == h.axes and e.variables == h.variables and e.total("injected") == 0


def test_dataset_round_trip_is_exact():
    h = four_axes(("injected", "recovered"))
    h.fill("injected", **random_rows(3_000))
    h.fill("recovered", **random_rows(1_000, seed=5))
    ds = h.to_dataset()
    assert isinstance(ds, xr.Dataset) and ds["injected"].dtype == np.int64
    assert ds["mag_upper"].values[-3] == 20.0 and ds["mag_lower"].values[0] == -np.inf
    assert Histograms.from_dataset(ds) == h
    ds["filter"] = ds["filter"].astype(object)  # as netCDF returns strings
    assert Histograms.from_dataset(ds) == h


def test_from_dataset_refuses_foreign_data():
    with pytest.raises(DataError, match="no count variables"):
        Histograms.from_dataset(xr.Dataset())
    with pytest.raises(DataError, match="axis 'x'"):
        Histograms.from_dataset(xr.Dataset({"counts": ("x", np.zeros(3, dtype=np.int64))}))
    ds = Histograms({"x": Axis.from_edges([0.0, 1.0])}).to_dataset()
    ds["counts"] = ds["counts"].astype(float)
    with pytest.raises(DataError, match="integer counts"):
        Histograms.from_dataset(ds)


def test_a_million_values_fill_exactly():
    # Speed is measured in benchmarks/, not here; this checks a large fill stays exact.
    h = four_axes()
    rows = random_rows(1_000_000)
    h.fill("scanned", **rows)
    h.fill("scanned", **rows)
    assert h.total("scanned") == 2_000_000


def _hand_built(counts_by_bin, variables=("counts",)):
    # One value at the centre of bin i (edges 0, 1, 2, 3), repeated counts_by_bin[i] times.
    h = Histograms({"x": Axis.from_edges([0.0, 1.0, 2.0, 3.0])}, variables)
    for variable in variables:
        h.fill(variable, x=np.repeat([0.5, 1.5, 2.5], counts_by_bin))
    return h


def test_equality_compares_every_bin_not_only_totals():
    same_a, same_b = _hand_built([2, 0, 1]), _hand_built([2, 0, 1])
    moved = _hand_built([1, 1, 1])  # the same total (3), one count in another bin
    assert same_a.total("counts") == moved.total("counts") == 3
    assert same_a == same_b and not (same_a != same_b)
    assert same_a != moved and not (same_a == moved)
    assert _hand_built([0, 3, 0]) != _hand_built([0, 0, 3])
    # Two variables: equal in one, different (same totals) in the other.
    two = _hand_built([2, 0, 1], ("injected", "recovered"))
    other = _hand_built([2, 0, 1], ("injected", "recovered"))
    other.fill("recovered", x=[0.5])
    two.fill("recovered", x=[2.5])
    assert two.total("recovered") == other.total("recovered") and two != other
