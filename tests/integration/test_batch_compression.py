"""Batch tables are written LZF-compressed after byte shuffling, read back bit-exactly; old files still read."""

import h5py
import numpy as np
import pytest

from adapters.files.batch_tables import COMPRESSION, read_index, read_tables, to_table, write_tables
from adapters.files.hdf5_store import Hdf5DataStore
from adapters.surveys.demo import DemoParameters, VirtualDemoObs
from domain.rawdata import RawData
from domain.reduction import ReductionParameters
from domain.source import Source


def _awkward_tables():
    # Values a lossy or narrowing store would change: NaN payloads, -0.0, infinities, subnormals,
    # the extremes of int64, doubles that float32 cannot hold, and non-ASCII text.
    rng = np.random.default_rng(1)
    specials = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, -1.0])
    nan_payload = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)
    first = {"mjd": np.concatenate([57000.0 + np.sort(rng.uniform(0, 1000, 200)), specials, nan_payload]),
             "mag": np.concatenate([rng.normal(18, 0.1, 200), specials, nan_payload]),
             "flag": np.concatenate([rng.integers(0, 2**15, 200), [np.iinfo(np.int64).min, np.iinfo(np.int64).max,
                                                                  0, -1, 1, 2, 3, 4, 5]]),
             "filter": np.array(["g", "r", "ï"] * 69 + ["g", "r"])}
    second = {key: values[:50][::-1].copy() for key, values in first.items()}
    other = {"x": np.arange(7, dtype=np.int32), "y": np.linspace(0, 1, 7, dtype=np.float32)}
    return [first, second, other]


def _same_bits(a, b):
    assert a.shape == b.shape
    if a.dtype.kind in "US":  # text is stored as UTF-8 as wide as the widest of its dataset
        assert b.dtype.kind in "US" and a.tolist() == b.tolist()
    else:
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_tables_are_lzf_with_shuffle_and_round_trip_bit_exactly(tmp_path):
    tables = _awkward_tables()
    file, keys = write_tables(tmp_path / "f", tmp_path, tables, index={"name": ["a", "b", "c"]})
    with h5py.File(tmp_path / file, "r") as f:
        for name in ("t0", "t1"):
            assert f[name].compression == COMPRESSION["compression"] == "lzf" and f[name].shuffle
            assert f[name].chunks is not None
        assert f["index"].compression is None  # a few rows: not worth a filter
    for table, back in zip(tables, read_tables(tmp_path, file, keys, "test")):
        assert back.keys() == table.keys()
        for column in table:
            _same_bits(back[column], np.asarray(table[column]))
    # One table at a time (a slice of a chunk) reads the same bits as the whole batch.
    for table, key in zip(tables, keys):
        (back,) = read_tables(tmp_path, file, [key], "test")
        for column in table:
            _same_bits(back[column], np.asarray(table[column]))
    assert read_index(tmp_path, file, "test")["name"].tolist() == ["a", "b", "c"]


def test_tables_larger_than_a_chunk_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    tables = [{"t": rng.normal(size=n), "k": rng.integers(-5, 5, n)} for n in (30000, 1, 4999)]
    file, keys = write_tables(tmp_path / "f", tmp_path, tables)
    with h5py.File(tmp_path / file, "r") as f:
        assert f["t0"].chunks[0] < f["t0"].shape[0]  # several chunks
    for table, back in zip(tables, read_tables(tmp_path, file, keys, "test")):
        for column in table:
            _same_bits(back[column], table[column])


def test_uncompressed_and_old_files_still_read(tmp_path):
    tables = _awkward_tables()
    file, keys = write_tables(tmp_path / "plain", tmp_path, tables, compress=False)
    with h5py.File(tmp_path / file, "r") as f:
        assert f["t0"].compression is None and f["t0"].chunks is None
    for table, back in zip(tables, read_tables(tmp_path, file, keys, "test")):
        for column in table:
            _same_bits(back[column], np.asarray(table[column]))
    # A file as earlier versions wrote it: plain contiguous datasets, addressed by name or slice.
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:
        f.create_dataset("raw", data=to_table(tables[0]))
        f.create_dataset("t0", data=to_table(tables[0]))
    whole, part = read_tables(tmp_path, "old.h5", ["raw", "t0[3:9]"], "old")
    _same_bits(whole["mag"], tables[0]["mag"])
    _same_bits(part["flag"], tables[0]["flag"][3:9])


@pytest.mark.parametrize("level", ["raw", "lightcurves", "scores"])
def test_run_batches_of_raw_data_and_scores_are_compressed(tmp_path, level):
    store = Hdf5DataStore(tmp_path)
    client = VirtualDemoObs(DemoParameters(num_points=50, filters=["g"]))
    raws = [client.download(Source(f"s{i}", 10.0 + i, 20.0, mag=17.0)) for i in range(3)]
    for raw in raws:
        raw.version = "v1"
    if level == "raw":
        store.save_raw_many(raws)
        file = raws[0].file
        fresh = RawData(raws[1].survey, raws[1].source_name, "v1", None)
        fresh.file, fresh.key = raws[1].file, raws[1].key
        back = store.load_raw_many([fresh])[0].columns
        for column in raws[1].columns:
            _same_bits(back[column], np.asarray(raws[1].columns[column]))
    elif level == "lightcurves":
        by_source = {raw.source_name: client.reduce(raw, ReductionParameters()) for raw in raws}
        store.save_lightcurves_many("p", "v1", by_source)
        file = by_source["s0"][0].file
    else:
        scores = {raw.source_name: {"g": {"snr": np.linspace(0, 1, 5), "flag": np.arange(5)}} for raw in raws}
        file = store.save_epoch_scores_many("p", "v1", scores)
        _same_bits(store.load_epoch_scores_from(file, "s2")["g"]["snr"], np.linspace(0, 1, 5))
    with h5py.File(tmp_path / file, "r") as f:
        if level == "lightcurves":  # read most often: left uncompressed
            assert f["t0"].compression is None
        else:
            assert f["t0"].compression == "lzf" and f["t0"].shuffle
