"""The science-core fakes behave like the PostgreSQL repositories (see tests/integration/test_postgres_science.py)."""

import pytest

from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary
from tests.fakes import FakeHistogramStore, FakeState, FakeUnitOfWork


def _injection(source_id, lightcurve_id, sequence, detected=True, peak=59010.0):
    inj = Injection("flare", peak, peak - 2, peak + 5, 0.5, 8.0, 1.5, params={"rise": 0.1}, recovered=detected,
                    sequence=sequence)
    inj.source_id, inj.lightcurve_id, inj.version = source_id, lightcurve_id, "a1"
    if detected:
        inj.detection = Detection(BRIGHTENING, peak, peak - 1, peak + 3, 9.0, 150.0, -0.4, 4, 100.0)
    return inj


@pytest.fixture
def state():
    return FakeState()


def test_injections_and_their_detections(state):
    with FakeUnitOfWork(state) as uow:
        uow.sources.add_many("p", [Source("s0", 1, 2)])
        sid = uow.sources.get_many("p", ["s0"])["s0"].id
        first = [_injection(sid, 7, k) for k in range(3)] + [_injection(sid, 7, 3, detected=False)]
        uow.injections.add_many(first)
        uow.commit()
    with FakeUnitOfWork(state) as uow:
        again = [_injection(sid, 7, 0, peak=1.0)]
        uow.injections.add_many(again)  # a no-op
        assert again[0].id == first[0].id and again[0].detection.id == first[0].detection.id
        det = first[0].detection
        assert det.is_simulated and det.injection_id == first[0].id and (det.source_id, det.lightcurve_id) == (sid, 7)
        loaded = uow.injections.list("p", "a1")
        assert [i.sequence for i in loaded] == [0, 1, 2, 3] and all(i.detection is None for i in loaded)
        assert loaded[0].peak_mjd == 59010.0
        assert uow.injections.count("p", "a1") == 4 and uow.injections.count("p", "a1", recovered=False) == 1
        assert uow.detections.count("p") == 0 and uow.detections.count("p", include_simulated=True) == 3
        with pytest.raises(ValueError, match="needs source_id"):
            uow.injections.add_many([Injection("flare", 1, 0, 2, 0.1, 5, 1)])


def test_summaries_and_histogram_parts_follow_the_transaction(state):
    with FakeUnitOfWork(state) as uow:
        uow.sources.add_many("p", [Source(f"s{i}", 1, 2) for i in range(3)])
        ids = [uow.sources.get_many("p", [f"s{i}"])[f"s{i}"].id for i in range(3)]
        uow.summaries.upsert_many([SourceSummary(ids[0], "demo", "a1", best_snr=5.0),
                                   SourceSummary(ids[1], "demo", "a1"),
                                   SourceSummary(ids[2], "demo", "a1", best_snr=9.0)])
        uow.summaries.upsert_many([SourceSummary(ids[0], "demo", "a1", best_snr=10.0)])
        for key in ("k1", "k2", "k2", "k3"):
            uow.histogram_parts.add("p", "demo", "a1", "epochs", key)
        uow.commit()
        uow.histogram_parts.replace("p", "demo", "a1", "epochs", ["k1", "k2"], "m1")
        uow.summaries.upsert_many([SourceSummary(ids[1], "demo", "a1", best_snr=99.0)])
        uow.rollback()
        assert [n for n, _ in uow.summaries.list("p", "demo", "a1")] == ["s0", "s2", "s1"]
        assert uow.summaries.list("p", "demo", "a1", limit=1)[0][1].best_snr == 10.0
        assert uow.histogram_parts.keys("p", "demo", "a1", "epochs") == ["k1", "k2", "k3"]
        uow.histogram_parts.replace("p", "demo", "a1", "epochs", ["k1", "k2"], "m1")
        uow.commit()
        assert uow.histogram_parts.keys("p", "demo", "a1", "epochs") == ["k3", "m1"]
        with pytest.raises(ValueError, match="cannot order"):
            uow.summaries.list("p", "demo", "a1", order_by="nope")
        # The signed best S/N ranks by its size, as in PostgreSQL.
        uow.summaries.upsert_many([SourceSummary(ids[1], "demo", "a1", best_snr=-12.0)])
        assert [n for n, _ in uow.summaries.list("p", "demo", "a1")] == ["s1", "s0", "s2"]


def test_histogram_store_keeps_copies():
    store = FakeHistogramStore()
    data = {"counts": [1, 2]}
    assert store.save("h/x", data) == "h/x.nc" and store.exists("h/x") and not store.exists("h/y")
    data["counts"].append(3)
    loaded = store.load("h/x")
    assert loaded == {"counts": [1, 2]}
    loaded["counts"].append(4)
    assert store.load("h/x") == {"counts": [1, 2]} and store.writes == 1
    with pytest.raises(KeyError):
        store.load("h/y")
