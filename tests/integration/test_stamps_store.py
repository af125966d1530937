"""Stamps in real HDF5 files through ``Hdf5DataStore``: round trip, one file per batch content, clear errors."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from virtualobserver.adapters.files.data_folder import ProductFolder
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.stamps import Stamps

WCS = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 3.5, "CRPIX2": 2.0, "CRVAL1": 130.6, "CRVAL2": 19.9,
       "CDELT1": -0.0011, "CDELT2": 0.0011}


def _stamps(seed: int, shape=(5, 7), **extra) -> Stamps:
    rng = np.random.default_rng(seed)
    reference, peak = rng.normal(100.0, 5.0, shape), rng.normal(100.0, 5.0, shape)
    return Stamps(reference=reference, peak=peak, difference=peak - reference, peak_time=59000.5 + seed,
                  reference_frames=30 + seed, **extra)


def test_stamps_read_back_as_written_at_float32_with_their_geometry(tmp_path):
    store = Hdf5DataStore(tmp_path)
    full = _stamps(1, target_pixel=(2.0, 3.5), pixel_scale_arcsec=3.98, wcs_header=WCS, time_scale="tdb")
    bare, square = _stamps(2), _stamps(4, shape=(4, 4))
    file, keys = store.save_stamps_many("p", "a1", [("S1", "Kepler", 18, 59001.2, full),
                                                    ("S 2/x", "g", 1, 5.0, bare), ("S3", "g", 1, 6.0, square)])
    assert file.startswith("stamps/p") and "/a1/batches/" in file and len(set(keys)) == 3
    got_full, got_bare, got_square = (store.load_stamps(file, key) for key in keys)
    for got, written in ((got_full, full), (got_bare, bare), (got_square, square)):
        for plane in ("reference", "peak", "difference"):
            np.testing.assert_array_equal(getattr(got, plane), getattr(written, plane).astype(np.float32))
        assert (got.peak_time, got.reference_frames) == (written.peak_time, written.reference_frames)
    assert got_full.target_pixel == (2.0, 3.5) and got_full.pixel_scale_arcsec == 3.98
    assert got_full.wcs_header == WCS and got_full.time_scale == "tdb"
    assert got_bare.target_pixel is None and got_bare.pixel_scale_arcsec is None
    assert got_bare.wcs_header is None and got_bare.time_scale is None
    with h5py.File(tmp_path / file, "r") as f:  # the index names what each dataset is
        index = f["index"][()]
        assert [s.decode() for s in index["source_name"]] == ["S1", "S 2/x", "S3"]
        assert list(index["season"]) == [18, 1, 1] and list(index["detection_peak"]) == [59001.2, 5.0, 6.0]
        # Stamps of one image shape share a dataset: two shapes, two datasets (and the index).
        assert sorted(f) == ["index", "s0", "s1"] and f["s0"].shape == (2, 3, 5, 7) and f["s1"].shape == (1, 3, 4, 4)


def test_the_same_batch_written_again_is_the_same_file_and_another_batch_another(tmp_path):
    store = Hdf5DataStore(tmp_path)
    items = [("S1", "Kepler", 18, 59001.2, _stamps(1))]
    first = store.save_stamps_many("p", "a1", items)
    mtime = (tmp_path / first[0]).stat().st_mtime_ns
    assert store.save_stamps_many("p", "a1", items) == first
    assert (tmp_path / first[0]).stat().st_mtime_ns == mtime  # not rewritten
    other = store.save_stamps_many("p", "a1", [("S1", "Kepler", 18, 59001.2, _stamps(3))])
    assert other[0] != first[0]
    assert len(list((tmp_path / "stamps").rglob("*.h5"))) == 2
    assert store.save_stamps_many("p", "a1", []) == (None, [])


def test_an_unknown_key_or_file_is_a_one_line_error_naming_it_and_the_doctor_finds_both(tmp_path):
    store = Hdf5DataStore(tmp_path)
    file, [key] = store.save_stamps_many("p", "a1", [("S1", "Kepler", 18, 59001.2, _stamps(1))])
    folder = ProductFolder(tmp_path)
    assert folder.problem(file, [key]) is None
    with pytest.raises(DataError, match=re.escape(f"{file}#s9[0:1]")):
        store.load_stamps(file, "s9[0:1]")
    with pytest.raises(DataError, match="not a stamps key"):
        store.load_stamps(file, "index")
    assert "no dataset" in folder.problem(file, ["s9[0:1]"])
    assert "no rows 1:2" in folder.problem(file, ["s0[1:2]"])
    with pytest.raises(DataError, match=re.escape("missing.h5#s0[0:1]")):
        store.load_stamps("stamps/missing.h5", "s0[0:1]")
    assert folder.problem("stamps/missing.h5", ["s0[0:1]"]) == "missing"
    assert file in folder.files()
