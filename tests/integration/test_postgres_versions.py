"""Versions never mix on a real PostgreSQL: every versioned query returns only the version asked for.

Each product is stored at two versions for the same sources (as after a changed science parameter);
reading one version must not return the other's rows.
"""

import numpy as np
import pytest

from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary


@pytest.fixture
def uow(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as unit:
        yield unit


def _lightcurve(source: Source, version: str, n: int) -> Lightcurve:
    mjd = 59000.0 + np.arange(n)
    flux = np.full(n, 100.0)
    lc = Lightcurve("demo", "g", 0, dict(mjd=mjd, flux=flux, fluxerr=np.ones(n), mag=np.full(n, 20.0),
                                         magerr=np.full(n, 0.01), flag=np.zeros(n), exptime=np.full(n, 30.0)),
                    source_name=source.name, version=version)
    lc.source_id = source.id
    lc.file, lc.key = f"{version}.h5", f"{source.name}/g/0"
    return lc


def _stored(uow):
    sources = [Source(f"s{i}", 10.0 + i, 5.0, mag=15.0) for i in range(2)]
    uow.sources.add_many("p", sources)
    old = [_lightcurve(s, "r-old", 10) for s in sources]
    new = [_lightcurve(s, "r-new", 20) for s in sources]
    uow.lightcurves.add_many(old + new)
    uow.commit()
    return sources, old, new


def test_lightcurves_of_one_reduction_version_only(uow):
    sources, old, new = _stored(uow)
    ids = [s.id for s in sources]
    uow.session.expunge_all()
    found = uow.lightcurves.for_sources(ids, "demo", "r-new")
    assert {i: [(lc.version, lc.num_epochs, lc.file) for lc in found[i]] for i in ids} == {
        i: [("r-new", 20, "r-new.h5")] for i in ids}
    found = uow.lightcurves.for_sources(ids, "demo", "r-old")
    assert {i: [lc.num_epochs for lc in found[i]] for i in ids} == {i: [10] for i in ids}
    assert uow.lightcurves.for_sources(ids, "demo", "r-other") == {i: [] for i in ids}
    assert uow.lightcurves.for_sources(ids, "other-survey", "r-new") == {i: [] for i in ids}
    assert uow.lightcurves.count("p") == 4 and uow.lightcurves.count("p", "r-new") == 2


def test_detections_of_one_analysis_version_only(uow):
    sources, old, new = _stored(uow)
    detections = []
    for version, lightcurves, peak in (("a-old", old, 59001.0), ("a-new", new, 59002.0)):
        for lc in lightcurves:
            det = Detection(BRIGHTENING, peak, peak - 0.5, peak + 0.5, 8.0, 130.0, -0.3, 1, 100.0)
            det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, version
            detections.append(det)
    uow.detections.add_many(detections)
    uow.commit()
    uow.session.expunge_all()
    ids = [s.id for s in sources]
    by_source = uow.detections.for_sources(ids, "a-new")
    assert {i: [(d.version, d.peak_mjd) for d in by_source[i]] for i in ids} == {i: [("a-new", 59002.0)] for i in ids}
    assert [(d.version, d.peak_mjd) for d in uow.detections.list("p", "a-old")] == [("a-old", 59001.0)] * 2
    assert uow.detections.count("p", "a-new") == 2 and uow.detections.count("p") == 4
    assert uow.detections.for_sources(ids, "a-other") == {}


def test_summaries_of_one_analysis_version_only(uow):
    sources, _, _ = _stored(uow)
    uow.summaries.upsert_many([SourceSummary(s.id, "demo", "a-old", num_lightcurves=1, num_epochs=10)
                               for s in sources], scores_file="old.h5")
    uow.summaries.upsert_many([SourceSummary(s.id, "demo", "a-new", num_lightcurves=1, num_epochs=20)
                               for s in sources], scores_file="new.h5")
    uow.commit()
    rows = uow.summaries.list("p", "demo", "a-new", order_by="num_epochs")
    assert sorted((name, summary.version, summary.num_epochs) for name, summary in rows) == [
        ("s0", "a-new", 20), ("s1", "a-new", 20)]
    assert [summary.num_epochs for _, summary in uow.summaries.list("p", "demo", "a-old")] == [10, 10]
    assert uow.summaries.scores_file(sources[0].id, "demo", "a-new") == "new.h5"
    assert uow.summaries.scores_file(sources[0].id, "demo", "a-old") == "old.h5"
    assert uow.summaries.list("p", "demo", "a-other") == []


def test_raw_data_of_one_download_version_only(uow):
    uow.sources.add_many("p", [Source("s0", 1.0, 2.0)])
    raws = [RawData("demo", "s0", version, {"t": np.arange(n)}) for version, n in (("d-old", 3), ("d-new", 7))]
    for raw in raws:
        raw.file, raw.key = f"{raw.version}.h5", "s0"
    uow.raw_data.add_many(raws)
    uow.commit()
    uow.session.expunge_all()
    assert uow.raw_data.get_many("demo", "d-new", ["s0"])["s0"].num_epochs == 7
    assert uow.raw_data.get_many("demo", "d-old", ["s0"])["s0"].num_epochs == 3
    assert uow.raw_data.get_many("demo", "d-other", ["s0"]) == {}
    assert uow.raw_data.count_for_project("p", "demo", "d-new") == 1


def test_injections_of_one_simulation_version_only(uow):
    sources, _, new = _stored(uow)
    injections = []
    for version, amplitude in (("s-old", 0.1), ("s-new", 0.2)):
        for lc in new:
            inj = Injection("flare", 59005.0, 59004.0, 59006.0, amplitude, 10.0 * amplitude, 0.5,
                            recovered=version == "s-new")
            inj.source_id, inj.lightcurve_id, inj.version = lc.source_id, lc.id, version
            injections.append(inj)
    uow.injections.add_many(injections)
    uow.commit()
    uow.session.expunge_all()
    assert [(i.version, i.amplitude) for i in uow.injections.list("p", "s-new")] == [("s-new", 0.2)] * 2
    assert uow.injections.count("p", "s-old") == 2 and uow.injections.count("p", "s-old", recovered=True) == 0
    assert uow.injections.count("p", "s-new", recovered=True) == 2 and uow.injections.list("p", "s-other") == []
