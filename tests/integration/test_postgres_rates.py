"""The rate repository's aggregate queries on a real PostgreSQL, and the same answers from the fake."""

import numpy as np
import pytest

from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rates import Candidate, Exposure, InjectionCounts
from virtualobserver.domain.source import Source
from tests.fakes import FakeState, FakeUnitOfWork


@pytest.fixture(params=["postgres", "fake"])
def make_uow(request):
    if request.param == "fake":
        state = FakeState()
        return lambda: FakeUnitOfWork(state)
    factory = request.getfixturevalue("session_factory")
    return lambda: SqlAlchemyUnitOfWork(factory)


def _lightcurve(source, band, season, start, n, *, step=1.0, flagged=0, version="r1"):
    columns = dict(mjd=start + step * np.arange(n, dtype=float), flux=np.full(n, 100.0), fluxerr=np.ones(n),
                   mag=np.full(n, 20.0), magerr=np.full(n, 0.01),
                   flag=np.r_[np.full(flagged, 32768), np.zeros(n - flagged)], exptime=np.full(n, 30.0))
    lc = Lightcurve("demo", band, season, columns, source_name=source.name, version=version)
    lc.source_id, lc.file, lc.key = source.id, "f.h5", f"{source.name}/{band}/{season}/{version}"
    return lc


def _detection(lc, kind, start, end, *, version="a1", simulated=False):
    det = Detection(kind, start, start, end, 6.0, 130.0, -0.3, 3, 100.0, is_simulated=simulated)
    det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, version
    return det


def _injection(source_id, lightcurve_id, kind, sequence, *, recovered=False, covered=1, real=False, version="s1"):
    inj = Injection(kind, 59050.0, 59049.0, 59051.0, 0.1, 8.0, 1.0, recovered=recovered, sequence=sequence,
                    covered=covered, found_in=int(recovered), overlaps_real=real)
    inj.source_id, inj.lightcurve_id, inj.version = source_id, lightcurve_id, version
    return inj


def _fill(make_uow):
    with make_uow() as uow:
        uow.sources.add_many("p", [Source(name, 10.0, 5.0) for name in ("a", "b", "c")])
        uow.sources.add_many("q", [Source("a", 10.0, 5.0)])
        found = uow.sources.get_many("p", ["a", "b", "c"])
        a, b, c = found["a"], found["b"], found["c"]
        other = uow.sources.get_many("q", ["a"])["a"]
        lcs = {
            "a_g": _lightcurve(a, "g", 0, 59000.0, 101, step=0.5),     # 59000 .. 59050, cadence 0.5
            "a_r": _lightcurve(a, "r", 0, 59010.0, 41, step=1.0),      # 59010 .. 59050
            "a_g1": _lightcurve(a, "g", 1, 59300.0, 9),                # 9 good: under min_good 10, has a span
            "b_g": _lightcurve(b, "g", 0, 59100.0, 20, flagged=19),    # one good epoch: no span, not searched
            "c_g": _lightcurve(c, "g", 0, 59000.0, 30),                # c is not analysed
            "a_old": _lightcurve(a, "g", 0, 58000.0, 30, version="r0"),
            "q_g": _lightcurve(other, "g", 0, 59000.0, 30),
        }
        uow.lightcurves.add_many(list(lcs.values()))
        dets = [
            _detection(lcs["a_g"], BRIGHTENING, 59020.0, 59021.5),
            _detection(lcs["a_r"], BRIGHTENING, 59030.0, 59030.0),  # a single epoch
            _detection(lcs["a_g"], DIMMING, 59040.0, 59041.0),
            _detection(lcs["a_g"], BRIGHTENING, 59045.0, 59046.0, simulated=True, version="s1"),
            _detection(lcs["a_g"], BRIGHTENING, 59047.0, 59048.0, version="a0"),
            _detection(lcs["q_g"], BRIGHTENING, 59020.0, 59021.0),
        ]
        uow.detections.add_many(dets)
        uow.triage.set_labels({dets[0].id: "real", dets[1].id: "artifact"})
        uow.steps.mark_done("analyse", "demo", "a1", {a.id: 2, b.id: 0})
        uow.steps.mark_done("analyse", "demo", "a0", {c.id: 0})
        uow.steps.mark_done("reduce", "demo", "r1", {c.id: 1})
        uow.steps.mark_done("analyse", "demo", "a1", {other.id: 1})
        uow.injections.add_many([
            _injection(a.id, lcs["a_g"].id, "flare", 0, recovered=True),
            _injection(a.id, lcs["a_g"].id, "flare", 1, recovered=True, real=True),
            _injection(a.id, lcs["a_g"].id, "flare", 2, covered=0),
            _injection(b.id, lcs["b_g"].id, "flare", 0),
            _injection(b.id, lcs["b_g"].id, "box_dip", 1, recovered=True),
            _injection(a.id, lcs["a_g"].id, "flare", 3, version="s0"),
            _injection(other.id, lcs["q_g"].id, "flare", 0, recovered=True),
        ])
        uow.commit()
    return lcs, dets


def test_injection_counts_by_kind_at_one_version_of_one_project(make_uow):
    _fill(make_uow)
    with make_uow() as uow:
        assert uow.rates.injection_counts("p", "s1") == {
            "flare": InjectionCounts(injected=4, recovered=2, in_gaps=1, overlapping_real=1),
            "box_dip": InjectionCounts(injected=1, recovered=1, in_gaps=0, overlapping_real=0)}
        assert uow.rates.injection_counts("p", "s0") == {"flare": InjectionCounts(1, 0, 0, 0)}
        assert uow.rates.injection_counts("nobody", "s1") == {}


def test_candidates_are_real_detections_of_one_kind_with_labels_and_cadence(make_uow):
    lcs, dets = _fill(make_uow)
    with make_uow() as uow:
        found = uow.rates.candidates("p", "a1", BRIGHTENING)
        dips = uow.rates.candidates("p", "a1", DIMMING)
    source = lcs["a_g"].source_id
    assert found == [Candidate(source, lcs["a_g"].id, 59020.0, 59021.5, "real", 0.5),
                     Candidate(source, lcs["a_r"].id, 59030.0, 59030.0, "artifact", 1.0)]
    assert dips == [Candidate(source, lcs["a_g"].id, 59040.0, 59041.0, None, 0.5)]


def test_exposure_sums_spans_of_analysed_sources_and_searched_lightcurves(make_uow):
    _fill(make_uow)
    with make_uow() as uow:
        exposure = uow.rates.exposure("p", "demo", "r1", stage="analyse", version="a1", min_good_epochs=10)
        nothing = uow.rates.exposure("p", "demo", "r1", stage="analyse", version="a9", min_good_epochs=10)
        loose = uow.rates.exposure("p", "demo", "r1", stage="analyse", version="a1", min_good_epochs=1)
    # a: 59000 .. 59308 over its three lightcurves; b has one good epoch (no span); c is not analysed.
    assert exposure == Exposure(sources=2, observed_sources=1, source_days=308.0, lightcurves=2,
                                good_epochs=101 + 41, lightcurve_days=50.0 + 40.0)
    assert nothing == Exposure()
    assert (loose.lightcurves, loose.good_epochs, loose.lightcurve_days) == (4, 101 + 41 + 9 + 1, 50 + 40 + 8 + 19)
