"""Hdf5DataStore on real HDF5 files: round trips, safe names, atomic and deterministic writes."""

import os

import h5py
import numpy as np
import pytest

from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source


def demo_raw(name="star 1"):
    raw = VirtualDemoObs(DemoParameters(num_points=50)).download(Source(name, 10.0, 20.0, mag=17.0))
    raw.version = "v1"
    return raw


def test_raw_round_trip_keeps_every_column_and_type(tmp_path):
    store = Hdf5DataStore(tmp_path)
    raw = demo_raw()
    store.save_raw(raw)
    loaded = RawData(raw.survey, raw.source_name, raw.version)
    loaded.file, loaded.key = raw.file, raw.key
    store.load_raw(loaded)
    assert set(loaded.columns) == set(raw.columns)
    for name, values in raw.columns.items():
        np.testing.assert_array_equal(loaded.columns[name], values)
    assert loaded.columns["filter"].dtype.kind == "U"


def test_lightcurves_of_a_source_share_one_file(tmp_path):
    store = Hdf5DataStore(tmp_path)
    raw = demo_raw()
    lcs = VirtualDemoObs().reduce(raw, ReductionParameters())
    store.save_lightcurves("proj", raw.source_name, "r1", lcs)
    assert len({lc.file for lc in lcs}) == 1 and len({lc.key for lc in lcs}) == len(lcs)
    for lc in lcs:
        fresh = Lightcurve(lc.survey, lc.filter, lc.season)
        fresh.file, fresh.key = lc.file, lc.key
        store.load_lightcurve(fresh)
        assert set(fresh.columns) == set(lc.columns) >= {"limiting_mag", "chi", "sharp", "ra", "dec"}
        for column, values in lc.columns.items():
            np.testing.assert_array_equal(fresh.columns[column], values)  # quality columns survive too
        assert fresh.summary() == lc.summary()


@pytest.mark.parametrize("name", ["../../escape", "a/b", "/abs/path", "..", "name with spaces"])
def test_hostile_names_stay_inside_the_data_folder(tmp_path, name):
    store = Hdf5DataStore(tmp_path / "data")
    raw = demo_raw(name)
    store.save_raw(raw)
    path = (tmp_path / "data" / raw.file).resolve()
    assert path.is_file() and (tmp_path / "data").resolve() in path.parents
    assert not any(p.name == "escape" for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.parts)


def test_rewrite_is_identical_and_leaves_no_temporary_files(tmp_path):
    store = Hdf5DataStore(tmp_path)
    first = demo_raw()
    store.save_raw(first)
    with h5py.File(tmp_path / first.file) as f:
        before = f["raw"][()]
        assert before.dtype.names == tuple(first.columns)
    second = demo_raw()
    store.save_raw(second)
    with h5py.File(tmp_path / second.file) as f:
        np.testing.assert_array_equal(f["raw"][()], before)
    assert not [p for p in tmp_path.rglob(".*tmp*")]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    store = Hdf5DataStore(tmp_path)
    raw = demo_raw()
    store.save_raw(raw)
    original = (tmp_path / raw.file).read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.save_raw(demo_raw())
    assert (tmp_path / raw.file).read_bytes() == original
    assert not [p for p in tmp_path.rglob(".*tmp*")]


def test_missing_file_is_a_clear_error(tmp_path):
    store = Hdf5DataStore(tmp_path)
    raw = RawData("demo", "x", "v")
    raw.file, raw.key = "raw/nope.h5", "raw"
    with pytest.raises(DataError, match=r"raw data of 'x': cannot read .*nope\.h5#raw"):
        store.load_raw(raw)


def test_epoch_scores_round_trip_and_missing_is_empty(tmp_path):
    store = Hdf5DataStore(tmp_path)
    tables = {"g_season0": {"mjd": np.arange(5.0), "snr": np.array([0.1, np.nan, 7.0, -1.0, 0.0]),
                            "quality_flag": np.array([0, 2, 0, 0, 1])},
              "r_season1": {"mjd": np.arange(3.0), "snr": np.zeros(3), "quality_flag": np.zeros(3, int)}}
    store.save_epoch_scores("proj", "../odd/name", "v1", tables)
    loaded = store.load_epoch_scores("proj", "../odd/name", "v1")
    assert loaded.keys() == tables.keys()
    for name, columns in tables.items():
        for column, values in columns.items():
            np.testing.assert_array_equal(loaded[name][column], values)
    assert store.load_epoch_scores("proj", "other", "v1") == {}
    assert all((tmp_path / "analysis").resolve() in p.resolve().parents for p in tmp_path.rglob("*.h5"))


def test_raw_metadata_images_and_empty_answers_round_trip(tmp_path):
    store = Hdf5DataStore(tmp_path)
    header = {"PRIMARY": {"TICID": 358108509, "OBJECT": "TIC 358108509", "TESSMAG": 14.331, "MH": None}}
    aperture = np.arange(121, dtype=np.int32).reshape(11, 11)
    raw = RawData("tess", "a/../b", "v1", {"mjd_tdb": np.array([1.0, 2.0]), "quality": np.array([0, 128])},
                  meta={"headers": header, "files": ["x_lc.fits"]}, images={"aperture s0001": aperture})
    empty = RawData("ztf", "nothing here", "v1", {"mjd": np.zeros(0), "filtercode": np.zeros(0, dtype="U2")})
    for record in (raw, empty):
        store.save_raw(record)
    loaded = [RawData(r.survey, r.source_name, r.version) for r in (raw, empty)]
    for record, original in zip(loaded, (raw, empty)):
        record.file, record.key = original.file, original.key
        store.load_raw(record)
    assert loaded[0].meta == raw.meta
    np.testing.assert_array_equal(loaded[0].images["aperture s0001"], aperture)
    assert loaded[0].images["aperture s0001"].dtype == np.int32
    assert loaded[1].num_epochs == 0 and set(loaded[1].columns) == {"mjd", "filtercode"}


def test_metadata_that_is_not_json_is_refused_before_writing(tmp_path):
    store = Hdf5DataStore(tmp_path)
    raw = RawData("tess", "s", "v1", {"mjd": np.array([1.0])}, meta={"bad": float("nan")})
    with pytest.raises(DataError, match="metadata is not plain JSON"):
        store.save_raw(raw)
    assert not any(tmp_path.rglob("*.h5"))


def test_lightcurve_time_scale_is_recorded(tmp_path):
    store = Hdf5DataStore(tmp_path)
    n = 5
    columns = {"mjd": np.arange(n, dtype=float), "flux": np.ones(n), "fluxerr": np.ones(n), "mag": np.ones(n),
               "magerr": np.ones(n), "flag": np.zeros(n, dtype=int), "exptime": np.full(n, 120.0)}
    lc = Lightcurve("tess", "TESS", 1, columns, source_name="s", time_scale="tdb")
    store.save_lightcurves("p", "s", "v1", [lc])
    with h5py.File(tmp_path / lc.file) as f:
        assert f[lc.key].attrs["time_scale"] == "tdb"
    assert lc.times.scale == "tdb"
    with pytest.raises(DataError, match="unknown time scale"):
        Lightcurve("tess", "TESS", 1, columns, time_scale="tt")
