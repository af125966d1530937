"""Triage labels and the project list on a real PostgreSQL, and the same behaviour from the fakes."""

import numpy as np
import pytest
from sqlalchemy.exc import IntegrityError

from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.source import Source
from tests.fakes import FakeState, FakeUnitOfWork


@pytest.fixture(params=["postgres", "fake"])
def make_uow(request):
    if request.param == "fake":
        state = FakeState()
        return lambda: FakeUnitOfWork(state)
    factory = request.getfixturevalue("session_factory")
    return lambda: SqlAlchemyUnitOfWork(factory)


def _lightcurve(source):
    n = 10
    columns = dict(mjd=59000.0 + np.arange(n), flux=np.full(n, 100.0), fluxerr=np.ones(n), mag=np.full(n, 20.0),
                   magerr=np.full(n, 0.01), flag=np.zeros(n), exptime=np.full(n, 30.0))
    lc = Lightcurve("demo", "r", 2, columns, source_name=source.name, version="r1")
    lc.source_id, lc.file, lc.key = source.id, "f.h5", source.name
    return lc


def _detection(lc, peak, simulated=False, version="a1"):
    det = Detection(BRIGHTENING, peak, peak - 1, peak + 1, 7.5, 130.0, -0.3, 3, 100.0, is_simulated=simulated)
    det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, version
    return det


def _fill(make_uow):
    with make_uow() as uow:
        uow.sources.add_many("p", [Source(name, 10.0, 5.0) for name in ("b", "a")])
        found = uow.sources.get_many("p", ["b", "a"])  # the persisted ones carry their ids
        sources = [found["b"], found["a"]]
        lcs = [_lightcurve(s) for s in sources]
        uow.lightcurves.add_many(lcs)
        dets = [_detection(lcs[0], 59001.0), _detection(lcs[1], 59003.0), _detection(lcs[1], 59002.0),
                _detection(lcs[1], 59004.0, simulated=True, version="s1")]
        uow.detections.add_many(dets)
        uow.steps.mark_done("analyse", "demo", "a1", {sources[0].id: 1, sources[1].id: 2})
        uow.steps.mark_done("analyse", "demo", "a0", {sources[0].id: 0})
        uow.steps.record_failures("reduce", "demo", "r1", {sources[0].id: "bad"})
        uow.commit()
    return dets


def test_labels_are_set_cleared_and_survive_a_rerun_of_the_analysis(make_uow):
    dets = _fill(make_uow)
    with make_uow() as uow:
        assert uow.triage.set_labels({dets[0].id: "real", dets[1].id: "artifact", 10**9: "real"}) == 2
        uow.commit()
    with make_uow() as uow:
        assert uow.triage.labels([d.id for d in dets]) == {dets[0].id: "real", dets[1].id: "artifact"}
        # The analysis adds the same detection again (same identity): the label stays.
        again = _detection(next(lc for lc in uow.lightcurves.for_sources([dets[0].source_id], "demo", "r1")
                                [dets[0].source_id]), 59001.0)
        uow.detections.add_many([again])
        assert again.id == dets[0].id
        uow.triage.set_labels({dets[1].id: None})
        uow.commit()
    with make_uow() as uow:
        assert uow.triage.labels([d.id for d in dets]) == {dets[0].id: "real"}


def test_rows_name_source_filter_season_and_label_and_hide_simulated(make_uow):
    dets = _fill(make_uow)
    with make_uow() as uow:
        uow.triage.set_labels({dets[2].id: "unsure"})
        uow.commit()
    with make_uow() as uow:
        rows = uow.triage.rows("p", "a1")
        simulated = uow.triage.rows("p", "s1", include_simulated=True)
        hidden = uow.triage.rows("p", "s1")
    assert [(r[0].id, r[1], r[2], r[3], r[4]) for r in rows] == [
        (dets[2].id, "a", "r", 2, "unsure"), (dets[1].id, "a", "r", 2, None), (dets[0].id, "b", "r", 2, None)]
    assert [r[0].is_simulated for r in simulated] == [True] and hidden == []


def test_project_list_counts_steps_per_version(make_uow):
    _fill(make_uow)
    with make_uow() as uow:
        uow.sources.add_many("q", [Source("c", 1.0, 1.0)])
        uow.commit()
    with make_uow() as uow:
        records = uow.projects.list()
    assert [r.name for r in records] == ["p", "q"]
    p, q = records
    assert p.sources == 2 and q.sources == 1 and q.steps == [] and q.detections == {}
    assert sorted(p.steps) == [("demo", "analyse", "a0", 1), ("demo", "analyse", "a1", 2)]
    assert p.detections == {"a1": 3} and p.failures == 1


def test_database_refuses_an_unknown_label(session_factory):
    dets = _fill(lambda: SqlAlchemyUnitOfWork(session_factory))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        with pytest.raises(IntegrityError, match="ck_detections_label"):
            uow.triage.set_labels({dets[0].id: "maybe"})
            uow.session.flush()
