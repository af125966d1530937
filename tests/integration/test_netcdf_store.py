"""NetCdfHistogramStore on real netCDF files: exact round trips, atomic replacement, safe keys."""

import os

import netCDF4
import numpy as np
import pytest

from adapters.files.netcdf_store import NetCdfHistogramStore
from domain.errors import DataError
from domain.histograms import Axis, Histograms

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
