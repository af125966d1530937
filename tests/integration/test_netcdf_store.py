"""NetCdfHistogramStore on real netCDF files: exact round trips, atomic replacement, safe keys."""

import os

import netCDF4
import numpy as np
import xarray as xr
import pytest

from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histograms import Axis, Histograms

KEY = "histograms/demo/v1a2b3c/part-0f1e2d"


def filled(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    h = Histograms(
        {
            "mag": Axis.numeric(12, 20, 0.25),
            "amp": Axis.from_edges([0.0, 0.1, 0.3, 1.0, 3.0]),
            "filter": Axis.categorical(["zg", "zr", "zi"]),
        },
        ("injected", "recovered"),
    )
    mag = rng.uniform(10, 22, n)
    mag[:50] = np.nan
    amp = rng.exponential(1.0, n)
    filters = rng.choice(np.array(["zg", "zr", "zi", "?"]), n)
    h.fill("injected", mag=mag, amp=amp, filter=filters)
    found = rng.random(n) < 0.6
    h.fill("recovered", mag=mag[found], amp=amp[found], filter=filters[found])
    return h


def temporaries(root):
    return [p for p in root.rglob(".*tmp*")]


def test_round_trip_through_a_real_file_is_exact(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    h = filled()
    name = store.save(KEY, h)
    assert name == KEY + ".nc" and (tmp_path / name).is_file()
    with netCDF4.Dataset(tmp_path / name) as nc:  # a real netCDF-4 file with int64 counts
        assert nc.data_model == "NETCDF4" and nc["injected"].dtype == np.int64
    loaded = store.load(KEY)
    assert loaded == h
    assert loaded.axes == h.axes and loaded.variables == ("injected", "recovered")
    for variable in h.variables:
        np.testing.assert_array_equal(loaded[variable].values, h[variable].values)
        assert loaded.total(variable) == h.total(variable)
    np.testing.assert_array_equal(loaded.efficiency("mag").values, h.efficiency("mag").values)


def test_exists(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    assert not store.exists(KEY)
    store.save(KEY, filled())
    assert store.exists(KEY) and not store.exists(KEY + "x")


def test_saved_parts_merge_to_the_whole(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    parts = [filled(seed) for seed in range(3)]
    for i, part in enumerate(parts):
        store.save(f"histograms/demo/v1/part-{i}", part)
    merged = Histograms.merge(store.load(f"histograms/demo/v1/part-{i}") for i in range(3))
    assert merged == Histograms.merge(parts)


def test_a_loaded_file_can_be_replaced(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    store.save(KEY, filled(seed=1))
    first = store.load(KEY)
    store.save(KEY, filled(seed=2))  # load must not keep the file open or cached
    assert store.load(KEY) == filled(seed=2) != first
    assert not temporaries(tmp_path)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    store = NetCdfHistogramStore(tmp_path)
    store.save(KEY, filled(seed=1))
    original = (tmp_path / (KEY + ".nc")).read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.save(KEY, filled(seed=2))
    assert (tmp_path / (KEY + ".nc")).read_bytes() == original
    assert not temporaries(tmp_path)
    monkeypatch.undo()
    assert store.load(KEY) == filled(seed=1)


@pytest.mark.parametrize(
    "key",
    ["/abs/path", "../escape", "histograms/../../escape", "a\\b", "", "a//b", "a/", ".hidden", "a/./b",
     "C:/windows", "name with spaces", "a/.x.nc.tmp-1"],
)
def test_bad_keys_are_refused(tmp_path, key):
    store = NetCdfHistogramStore(tmp_path / "data")
    with pytest.raises(DataError, match="histogram key"):
        store.save(key, filled(n=10))
    with pytest.raises(DataError, match="histogram key"):
        store.load(key)
    with pytest.raises(DataError, match="histogram key"):
        store.exists(key)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    with pytest.raises(DataError, match=r"histograms 'nope': no file .*nope\.nc"):
        store.load("nope")
    (tmp_path / "broken.nc").write_bytes(b"not a netCDF file")
    with pytest.raises(DataError, match=r"histograms 'broken': cannot read"):
        store.load("broken")


def one_numeric_axis():
    h = Histograms({"snr": Axis.from_edges([-1.0, 0.0, 2.5])}, ("epochs",))
    h.fill("epochs", snr=[-5.0, 0.0, 1.0, 3.0, np.nan, np.inf, -np.inf])
    return h


def one_categorical_axis():
    h = Histograms({"kind": Axis.categorical(["flare", "dip"])}, ("injected", "recovered"))
    h.fill("injected", kind=["flare", "dip", "dip", "comet"])
    h.fill("recovered", kind=["dip"])
    return h


LAYOUTS = {"three axes": filled, "numeric": one_numeric_axis, "categorical": one_categorical_axis}


def write_the_old_way(path, h):
    """Write a file as NetCdfHistogramStore.save did through xarray (existing projects have these)."""
    dataset = h.to_dataset()
    encoding = {name: {"zlib": True, "complevel": 1} for name in dataset.data_vars}
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)


def layout(path):
    """What a reader sees in a file: every variable's dtype, dimensions, attributes, filters and values."""
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)
        variables = {
            name: (str(var.dtype), var.dimensions, {a: repr(var.getncattr(a)) for a in var.ncattrs()},
                   var.filters(), var.chunking(), repr(var[...].tolist()))
            for name, var in nc.variables.items()
        }
        return nc.data_model, {a: nc.getncattr(a) for a in nc.ncattrs()}, dict(nc.dimensions.items()).keys(), variables


@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_saved_files_open_in_xarray_as_equal_histograms(tmp_path, make):
    h = make()
    NetCdfHistogramStore(tmp_path).save(KEY, h)
    with xr.open_dataset(tmp_path / (KEY + ".nc")) as ds:  # the data folder format is public
        ds = ds.load()
    assert list(ds.data_vars) == list(h.variables)
    assert all(ds[v].dtype == np.int64 for v in h.variables)
    assert set(ds.coords) == {n for name, axis in h.axes.items() for n in axis.coords(name)}
    assert Histograms.from_dataset(ds) == h
    for name, axis in h.axes.items():
        assert ds[name].attrs["axis_kind"] == ("numeric" if axis.is_numeric else "categorical")


@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_files_written_by_xarray_load_and_match_new_files(tmp_path, make):
    h = make()
    write_the_old_way(tmp_path / "old" / (KEY + ".nc"), h)
    assert NetCdfHistogramStore(tmp_path / "old").load(KEY) == h
    NetCdfHistogramStore(tmp_path / "new").save(KEY, h)
    # Same variables in the same order, dtypes, dimensions, attributes, compression and values; new files
    # add only the checksum of their arrays (checked on loading).
    new = layout(tmp_path / "new" / (KEY + ".nc"))
    assert len(new[1].pop("vo_content_sha256")) == 64
    assert new == layout(tmp_path / "old" / (KEY + ".nc"))


def test_infinite_and_nan_bounds_are_kept(tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    h = one_numeric_axis()
    store.save(KEY, h)
    with netCDF4.Dataset(tmp_path / (KEY + ".nc")) as nc:
        nc.set_auto_mask(False)
        np.testing.assert_array_equal(nc["snr_lower"][:], [-np.inf, -1.0, 0.0, 2.5, np.nan])
        np.testing.assert_array_equal(nc["snr_upper"][:], [-1.0, 0.0, 2.5, np.inf, np.nan])
        np.testing.assert_array_equal(nc["snr"][:], [-np.inf, -0.5, 1.25, np.inf, np.nan])
        assert nc["snr"].bounds == "snr_lower snr_upper" and np.isnan(nc["snr"]._FillValue)
    with xr.open_dataset(tmp_path / (KEY + ".nc")) as ds:
        np.testing.assert_array_equal(ds["snr_upper"].values, [-1.0, 0.0, 2.5, np.inf, np.nan])
    loaded = store.load(KEY)
    assert loaded == h and loaded.axes["snr"].edges == (-1.0, 0.0, 2.5)
    np.testing.assert_array_equal(loaded["epochs"].values, [2, 0, 2, 2, 1])


def test_files_edited_by_users_still_load(tmp_path):
    # Attributes we do not write (units, a _FillValue on counts) are decoded by xarray, as before.
    store = NetCdfHistogramStore(tmp_path)
    h = filled(n=500)
    dataset = h.to_dataset()
    dataset["mag"].attrs["units"] = "mag"
    dataset.attrs["history"] = "edited"
    dataset.to_netcdf(tmp_path / "edited.nc", engine="netcdf4")
    assert store.load("edited") == h
    dataset["injected"].encoding["_FillValue"] = -1  # xarray then reads float counts: not histograms
    dataset.to_netcdf(tmp_path / "masked.nc", engine="netcdf4")
    with pytest.raises(DataError, match="integer counts"):
        store.load("masked")


def test_a_netcdf_file_of_something_else_is_a_data_error(tmp_path):
    with netCDF4.Dataset(tmp_path / "other.nc", "w") as nc:
        nc.createDimension("t", 3)
        nc.createVariable("flux", "f8", ("t",))[:] = [1.0, 2.0, 3.0]
    with pytest.raises(DataError, match="histogram axis 't'"):
        NetCdfHistogramStore(tmp_path).load("other")
