"""Batch tables are written with LZ4 after byte shuffling, read back bit-exactly; old (LZF, plain) files still read."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from virtualobserver.adapters.files import batch_tables
from virtualobserver.adapters.files.batch_tables import COMPRESSION, read_index, read_tables, to_table, write_tables
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source

REPO = Path(__file__).resolve().parents[2]


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


def _lz4_shuffled(dataset) -> bool:
    # h5py names only its built-in filters; LZ4 shows in the pipeline as its id, after the shuffle.
    return dataset.shuffle and list(dataset._filters) == ["shuffle", "32004"]


def test_tables_are_lz4_after_shuffling_and_round_trip_bit_exactly(tmp_path):
    tables = _awkward_tables()
    file, keys = write_tables(tmp_path / "f", tmp_path, tables, index={"name": ["a", "b", "c"]})
    with h5py.File(tmp_path / file, "r") as f:
        for name in ("t0", "t1"):
            assert COMPRESSION["compression"] == 32004 and _lz4_shuffled(f[name])
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
    # Compressed as earlier versions did: LZF after byte shuffling, chunked.
    lzf = tmp_path / "lzf.h5"
    with h5py.File(lzf, "w") as f:
        f.create_dataset("t0", data=to_table(tables[0]), chunks=(64,), compression="lzf", shuffle=True)
    (back,) = read_tables(tmp_path, "lzf.h5", ["t0[10:150]"], "lzf")
    _same_bits(back["mjd"], tables[0]["mjd"][10:150])


@pytest.mark.parametrize("level", ["raw", "lightcurves", "scores"])
def test_run_batches_of_every_level_are_compressed(tmp_path, level):
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
        assert _lz4_shuffled(f["t0"])


def _mixed_tables():
    # One layout joined from tables whose types differ in byte order, text width and text kind, a
    # column given as a list, and a second layout of fixed-width bytes.
    return [{"mjd": np.arange(3.0), "filter": np.array(["g", "r", "g"]), "flag": np.arange(3)},
            {"mjd": np.arange(2.0).astype(">f8"), "filter": np.array(["ïi", "r"]), "flag": np.arange(2)},
            {"mjd": [7.5], "filter": np.array(["zz"], dtype=object), "flag": [4]},
            {"x": np.arange(4, dtype=np.int32), "name": np.array([b"a", b"bc", b"", b"d"])}]


def test_batch_file_names_are_unchanged_content_hashes(tmp_path):
    # Files already on disk are named by this hash: a rerun of their batch must find them again.
    tables = _mixed_tables()
    file, keys = write_tables(tmp_path / "f", tmp_path, tables, index={"source": ["s1", "s2", "s3", "s4"]},
                              images={"images/a": np.eye(2)})
    assert file.endswith("/42/batch-42fde9bb2be022ec65ccb036.h5")
    assert keys == ["t0[0:3]", "t0[3:5]", "t0[5:6]", "t1[0:4]"]
    back = read_tables(tmp_path, file, keys, "test")
    assert back[1]["filter"].tolist() == ["ïi", "r"] and back[2]["mjd"].tolist() == [7.5]
    assert back[3]["name"].tolist() == ["a", "bc", "", "d"]


@pytest.mark.parametrize("tables", [
    [{"a": np.arange(4.0), "s": np.array(["x", "yy", "", "q"])}, {"a": np.arange(2.0), "s": np.array(["abc", "d"])}],
    [{"a": np.arange(2.0), "s": np.array(["x", "y"])}, {"a": np.arange(2.0).astype(">f8"), "s": np.array(["z", "w"])}],
    [{"a": np.arange(2), "s": np.array(["x", "y"])}, {"a": np.arange(2), "s": np.array([b"z", b"w"])}],
    [{"a": np.arange(5, dtype=np.int16)[::2], "s": np.array(["é", "y", "a\x00b"], dtype=object)}],
    [{"z": np.zeros(0)}, {"z": np.zeros(0)}],
])
def test_joining_straight_into_the_dataset_gives_the_bytes_of_joining_column_by_column(tables):
    ((members, joining),) = batch_tables._grouped(tables).values()
    rows = sum(batch_tables._rows(t) for t in tables)
    general = batch_tables._structured(list(tables[0]), [batch_tables._encoded(batch_tables._column(tables, name))
                                                         for name in tables[0]])
    joined = batch_tables._joined(tables, next(iter(joining)) if len(joining) == 1 else None, rows)
    assert joined.dtype == general.dtype and joined.tobytes() == general.tobytes()


@pytest.mark.parametrize("text", [np.array(["g", "rr", "", "a\x00b", "\x7f"]), np.array(["ï", "g"]),
                                  np.array(["ab", 3], dtype=object), np.array([["a", "b"], ["c", "d"]]),
                                  np.array(["x", "y"]).astype(">U1"), np.zeros(0, "U3")])
def test_text_is_encoded_as_numpy_would_ascii_in_one_pass(text):
    encoded = batch_tables._encoded(text)
    try:
        expected = text.astype(str).astype("S")
    except UnicodeEncodeError:
        expected = np.char.encode(text.astype(str), "utf-8")
    assert encoded.dtype == expected.dtype and encoded.shape == expected.shape
    assert encoded.tobytes() == expected.tobytes()


def test_tables_are_written_and_read_when_netcdf4_was_imported_first(tmp_path):
    # netCDF4 bundles its own HDF5 library; a filter plugin loaded after it must still work with
    # h5py's (Blosc's did not: a Dask worker imports netCDF4 first). A fresh process controls the order.
    script = f"""
import netCDF4, numpy as np
from pathlib import Path
from virtualobserver.adapters.files.batch_tables import read_tables, write_tables
root = Path({str(tmp_path)!r})
table = {{"mjd": np.linspace(57000.0, 58000.0, 5000), "flag": np.arange(5000)}}
file, keys = write_tables(root / "f", root, [table, table])
back = read_tables(root, file, keys[1:], "test")[0]
assert back["mjd"].tobytes() == table["mjd"].tobytes() and back["flag"].tobytes() == table["flag"].tobytes()
print(file)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with h5py.File(tmp_path / done.stdout.strip(), "r") as f:
        assert _lz4_shuffled(f["t0"])
