"""Repairs that repair: whatever `vo doctor --repair` takes out, the next `vo run` makes again, to the same result.

Each case damages one kind of file of a finished run (lost, garbled, or one byte flipped where
HDF5 still reads it), repairs, runs, and compares with the uninterrupted reference run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers LZ4, the filter of batch tables
import numpy as np
import pytest
import yaml

from virtualobserver.adapters.files.batch_tables import content_problem, write_tables
from virtualobserver.adapters.files.data_folder import ProductFolder
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.domain.rawdata import RawData
from virtualobserver.services.provenance import content_hash
from tests.reliability.harness import FULL, TALLY, assert_nothing_lost, copy_run, doctor_check, run_vo, sql_rows


def _last(data: Path, pattern: str) -> Path:
    return sorted(data.glob(pattern))[-1]


def _flip_a_byte_that_still_reads(path: Path, dataset: str = "t0") -> None:
    """Change one bit inside a dataset's stored bytes such that HDF5 still reads it, into other values."""
    with h5py.File(path) as f:
        before = f[dataset][()]
        storage = f[dataset].id
        if f[dataset].chunks:
            chunk = storage.get_chunk_info(0)
            offset, size = chunk.byte_offset, chunk.size
        else:
            offset, size = storage.get_offset(), storage.get_storage_size()
    original = path.read_bytes()
    for i in range(size // 2, size):
        damaged = bytearray(original)
        damaged[offset + i] ^= 0x10
        path.write_bytes(bytes(damaged))
        try:
            with h5py.File(path) as f:
                after = f[dataset][()]
        except (OSError, ValueError, RuntimeError):
            continue
        if after.tobytes() != before.tobytes():
            return
    raise AssertionError(f"no byte of {path} changes {dataset} and still reads")


def _garble(path: Path) -> None:
    path.write_bytes(b"garbage")


# Damage of one kind: what it does to the data folder of a finished run; returns the paths the doctor must name.
def _raw_garbled(data: Path, url: str) -> list[str]:
    path = _last(data, "raw/**/batch-*.h5")
    _garble(path)
    return [str(path.relative_to(data))]


def _raw_folder_lost(data: Path, url: str) -> list[str]:
    lost = sorted(str(p.relative_to(data)) for p in data.glob("raw/**/*.h5"))
    shutil.rmtree(data / "raw")
    return lost


def _lightcurves_lost(data: Path, url: str) -> list[str]:
    path = _last(data, "projects/**/batch-*.h5")
    path.unlink()
    return [str(path.relative_to(data))]


def _scores_lost(data: Path, url: str) -> list[str]:
    path = _last(data, "analysis/**/batch-*.h5")
    path.unlink()
    return [str(path.relative_to(data))]


def _part_garbled(data: Path, url: str) -> list[str]:
    key = sql_rows(url, "SELECT key FROM histogram_parts WHERE kind = 'scanned' ORDER BY key LIMIT 1")[0][0]
    _garble(data / f"{key}.nc")
    return [f"{key}.nc"]


def _manifest_garbled(data: Path, url: str) -> list[str]:
    path = _last(data, "projects/*/*/manifest.yaml")
    path.write_bytes(path.read_bytes()[:40] + b"\xff\xfe: [unclosed")
    return [str(path.relative_to(data))]


def _part_flipped(data: Path, url: str) -> list[str]:
    # A bin edge: stored uncompressed, so a flipped byte reads as another edge (the counts are zlib'ed, checked).
    key = sql_rows(url, "SELECT key FROM histogram_parts WHERE kind = 'scanned' ORDER BY key LIMIT 1")[0][0]
    path = data / f"{key}.nc"
    with h5py.File(path) as f:
        edge = next(n for n, v in f.items() if isinstance(v, h5py.Dataset) and v.dtype.kind == "f" and not v.chunks
                    and v.size > 1)
    _flip_a_byte_that_still_reads(path, edge)
    return [f"{key}.nc"]


def _flipped(pattern: str):
    def damage(data: Path, url: str) -> list[str]:
        path = _last(data, pattern)
        _flip_a_byte_that_still_reads(path)
        return [str(path.relative_to(data))]
    return damage


DAMAGE = {
    "histogram part garbled": _part_garbled,
    "histogram part byte flipped": _part_flipped,
    "epoch scores lost": _scores_lost,
    "raw data garbled": _raw_garbled,
    "raw folder lost": _raw_folder_lost,
    "lightcurves lost": _lightcurves_lost,
    "manifest garbled": _manifest_garbled,
    "raw data byte flipped": _flipped("raw/**/batch-*.h5"),
    "lightcurves byte flipped": _flipped("projects/**/batch-*.h5"),
    "epoch scores byte flipped": _flipped("analysis/**/batch-*.h5"),
}


def _several(*kinds: str):
    def damage(data: Path, url: str) -> list[str]:
        return [path for kind in kinds for path in DAMAGE[kind](data, url)]
    return damage


# The default subset is one run with damage of four kinds at once, none of which used to make the next
# run do anything (a lost lightcurve resets every analysis, which hid it); the full suite has each alone.
FAST = {"part, epoch scores, raw data, manifest at once": _several(
    "histogram part garbled", "epoch scores byte flipped", "raw data garbled", "manifest garbled")}
CASES = {**DAMAGE, **FAST} if FULL else FAST


@pytest.mark.parametrize("kind", list(CASES))
def test_what_a_repair_removes_the_next_run_makes_again(kind, reference, module_database, tmp_path):
    config = reference["config"]
    data, url = copy_run(reference, tmp_path, module_database)
    damaged = CASES[kind](data, url)

    named = {f.path for f in doctor_check(config, data, url).findings}
    assert set(damaged) <= named, f"{kind}: the doctor did not name {sorted(set(damaged) - named)}"

    repaired = run_vo("doctor", str(config), "--repair", data=data, url=url)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    done = run_vo("run", str(config), "--json", data=data, url=url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    if kind != "manifest garbled":  # a run writes a missing manifest whether or not it has work
        assert not report["nothing_to_do"], f"{kind}: the run after the repair found nothing to do"
    if "raw" in kind:  # what the repair removed is downloaded again
        assert report["download"]["done"] > 0, f"{kind}: nothing downloaded again"

    shutil.rmtree(data / "quarantine", ignore_errors=True)
    assert_nothing_lost(reference["snapshot"], config, data, url, f"after {kind}, repair and run")
    manifest = _last(data, "projects/*/*/manifest.yaml")
    kept = _last(reference["data"], "projects/*/*/manifest.yaml")
    assert content_hash(yaml.safe_load(manifest.read_text())) == content_hash(yaml.safe_load(kept.read_text()))
    TALLY["repair: damaged files repaired, re-made by the next run"] += len(damaged)


def test_pixel_data_in_a_raw_batch_file_is_checked_byte_for_byte(tmp_path):
    # Pixel raw data (target pixel files, cutouts) is kept as image datasets inside the raw batch file.
    raw = RawData("tess", "TIC 1", "v1", {"mjd": np.arange(3.0), "flux": np.ones(3)}, ra=10.0, dec=-5.0)
    raw.images = {"cube": np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)}
    Hdf5DataStore(tmp_path).save_raw_many([raw])
    folder = ProductFolder(tmp_path)
    assert folder.problem(raw.file, [raw.key]) is None
    with h5py.File(tmp_path / raw.file) as f:
        images = []
        f["images"].visititems(lambda name, item: images.append(f"images/{name}") if isinstance(item, h5py.Dataset)
                               else None)
    image = images[0]
    _flip_a_byte_that_still_reads(tmp_path / raw.file, image)
    reason = folder.problem(raw.file, [raw.key])
    assert reason and "content does not match its name" in reason, reason
    assert folder.read_raw(raw.file)[0].ra == 10.0  # the position is in the file (a rebuilt database gets it)
    TALLY["repair: flipped bytes found (pixel data)"] += 1


def test_a_flipped_byte_in_a_histogram_part_is_found(reference, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(reference["data"] / "histograms", data / "histograms")
    parts = sorted(str(p.relative_to(data)) for p in data.rglob("part-*.nc"))
    folder = ProductFolder(data)
    assert all(folder.problem(p) is None for p in parts)
    url = reference["url"]
    [damaged] = _part_flipped(data, url)
    reason = folder.problem(damaged)
    assert reason and "does not match its checksum" in reason, reason
    TALLY["repair: flipped bytes found (histogram part)"] += 1


def test_batch_files_of_every_column_type_match_their_names(tmp_path):
    # The doctor re-hashes what it reads back: that must give the name's hash for every type a table may hold.
    tables = [{"mjd": np.arange(3.0), "flag": np.array([True, False, True]), "big": np.arange(3, dtype=">f8"),
               "name": np.array(["\u00e9", "b", "c"]), "i": np.arange(3, dtype=np.int16),
               "o": np.array(["x", "yy", "z"], dtype=object)},
              {"mjd": np.arange(0.0)}, {"u": np.arange(2, dtype=np.uint64), "c": np.ones(2, dtype=np.complex64)}]
    for compress in (True, False):
        file, _ = write_tables(Path("raw"), tmp_path, tables, compress=compress,
                               index={"source_name": ["a", "b", "\u00fc"], "x": [1.0, np.nan, 2.0]},
                               images={"images/a/cube": np.ones((2, 3, 3), dtype=">i4"), "images/b/e": np.zeros(0)})
        assert content_problem(tmp_path / file) is None

