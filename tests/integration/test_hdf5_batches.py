"""Hdf5DataStore's run layout: one file per batch and level, tables addressed by slices, content-named files."""

import numpy as np
import pytest

from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source


def _raws(n=4, points=60):
    client = VirtualDemoObs(DemoParameters(num_points=points, filters=["g", "r"]))
    raws = [client.download(Source(f"star/{i}", 10.0 + i, 20.0, mag=17.0)) for i in range(n)]
    for raw in raws:
        raw.version = "v1"
    return client, raws


def _fresh_raw(raw):
    fresh = RawData(raw.survey, raw.source_name, raw.version, None)
    fresh.file, fresh.key = raw.file, raw.key
    return fresh


def test_a_batch_of_raw_data_is_one_file_and_reads_back_whole(tmp_path):
    store = Hdf5DataStore(tmp_path)
    _, raws = _raws()
    raws[1].images = {"cut out": np.arange(9.0).reshape(3, 3)}
    raws[2].meta = {"note": "x"}
    store.save_raw_many(raws)
    assert len({r.file for r in raws}) == 1 and len(list(tmp_path.rglob("*.h5"))) == 1
    assert [r.key for r in raws] == ["t0[0:60]", "t0[60:120]", "t0[120:180]", "t0[180:240]"]
    fresh = store.load_raw_many([_fresh_raw(r) for r in raws])
    for before, after in zip(raws, fresh):
        assert before.columns.keys() == after.columns.keys()
        for name in before.columns:
            np.testing.assert_array_equal(after.columns[name], before.columns[name])
    assert fresh[2].meta == {"note": "x"} and fresh[0].images == {}
    np.testing.assert_array_equal(fresh[1].images["cut out"], raws[1].images["cut out"])
    np.testing.assert_array_equal(store.load_raw(_fresh_raw(raws[3])).columns["mag"], raws[3].columns["mag"])


def test_rewriting_the_same_batch_gives_the_same_file_and_another_batch_another(tmp_path):
    store = Hdf5DataStore(tmp_path)
    _, raws = _raws()
    store.save_raw_many(raws)
    first = raws[0].file
    store.save_raw_many(raws)  # a rerun after a crash before the commit
    assert raws[0].file == first and len(list(tmp_path.rglob("*.h5"))) == 1
    store.save_raw_many(raws[:2])
    assert raws[0].file != first and len(list(tmp_path.rglob("*.h5"))) == 2


def test_lightcurves_and_epoch_scores_of_a_batch(tmp_path):
    store = Hdf5DataStore(tmp_path)
    client, raws = _raws()
    by_source = {r.source_name: client.reduce(r, ReductionParameters()) for r in raws}
    store.save_lightcurves_many("proj", "r1", by_source)
    saved = [lc for lcs in by_source.values() for lc in lcs]
    assert len({lc.file for lc in saved}) == 1 and len({lc.key for lc in saved}) == len(saved)
    fresh = []
    for lc in saved:
        copy = Lightcurve(lc.survey, lc.filter, lc.season)
        copy.file, copy.key = lc.file, lc.key
        fresh.append(copy)
    store.load_lightcurves(fresh[::-1])
    for before, after in zip(saved, fresh):
        for name in before.columns:
            np.testing.assert_array_equal(after.columns[name], before.columns[name])
    tables = {name: {lc.key: {"mjd": lc.mjds, "snr": np.zeros(lc.mjds.size)} for lc in lcs}
              for name, lcs in by_source.items()}
    file = store.save_epoch_scores_many("proj", "a1", tables)
    assert file.startswith("analysis/") and "../" not in file
    back = store.load_epoch_scores_from(file, "star/2")
    assert back.keys() == tables["star/2"].keys()
    for key, columns in tables["star/2"].items():
        np.testing.assert_array_equal(back[key]["mjd"], columns["mjd"])
    assert store.load_epoch_scores_from(file, "nobody") == {}


def test_a_missing_batch_file_is_a_data_error_naming_it(tmp_path):
    store = Hdf5DataStore(tmp_path)
    raw = RawData("demo", "gone", "v1", None)
    raw.file, raw.key = "raw/demo/v1/batches/aa/batch-aa.h5", "t0[0:5]"
    with pytest.raises(DataError, match="raw data of 'gone'.*batch-aa.h5"):
        store.load_raw(raw)
