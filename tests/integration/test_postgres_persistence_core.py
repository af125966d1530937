"""The version and resume invariants of the step bookkeeping, on a real PostgreSQL.

A step's record is keyed by (source, stage, survey, version): a record of another stage, survey,
version or project never counts; a step never runs before its prerequisite at the current version;
a failed source stays pending until it is done. Expected values are the sets and counts written by
hand from what each test stores.
"""

import pytest

from adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from domain.source import Source
from services.batch_carry import BatchCarry
from services.stages import ANALYSE, DOWNLOAD, REDUCE, finish, pending


@pytest.fixture
def uow(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as unit:
        yield unit


def _sources(uow, project="p", n=4):
    sources = [Source(f"s{i}", 10.0 + i, 5.0, mag=15.0) for i in range(n)]
    uow.sources.add_many(project, sources)
    uow.commit()
    return sources


def test_a_step_counts_only_at_its_own_stage_survey_and_version(uow):
    s = _sources(uow)
    ids = [x.id for x in s]
    uow.steps.mark_done(REDUCE, "demo", "r1", {ids[0]: 2, ids[1]: 1})
    uow.steps.mark_done(REDUCE, "demo", "r2", {ids[2]: 1})
    uow.steps.mark_done(REDUCE, "ztf", "r1", {ids[3]: 1})
    uow.steps.mark_done(ANALYSE, "demo", "r1", {ids[3]: 0})
    uow.commit()
    assert uow.steps.done(REDUCE, "demo", "r1", ids) == {ids[0], ids[1]}
    assert uow.steps.done(REDUCE, "demo", "r2", ids) == {ids[2]}
    assert uow.steps.done(REDUCE, "ztf", "r1", ids) == {ids[3]}
    assert uow.steps.done(ANALYSE, "demo", "r1", ids) == {ids[3]}
    assert uow.steps.done(REDUCE, "demo", "r1", ids[1:]) == {ids[1]}  # only among the ids asked
    assert uow.steps.done(REDUCE, "demo", "r1", []) == set()
    assert uow.steps.done_names("p", REDUCE, "demo", "r1") == {"s0", "s1"}
    assert uow.steps.done_names("p", REDUCE, "demo", "r2") == {"s2"}
    assert uow.steps.done_names("p", REDUCE, "ztf", "r1") == {"s3"}
    assert uow.steps.done_names("p", ANALYSE, "demo", "r1") == {"s3"}
    assert [uow.steps.count_done("p", REDUCE, "demo", v) for v in ("r1", "r2", "r3")] == [2, 1, 0]
    assert uow.steps.count_done("p", REDUCE, "ztf", "r1") == 1 and uow.steps.count_done("p", ANALYSE, "demo", "r1") == 1


def test_steps_of_another_project_never_count(uow):
    mine, theirs = _sources(uow, "p", 2), _sources(uow, "q", 3)
    uow.steps.mark_done(REDUCE, "demo", "r1", {x.id: 1 for x in theirs})
    uow.steps.mark_done(REDUCE, "demo", "r1", {mine[0].id: 1})
    uow.commit()
    assert uow.steps.done_names("p", REDUCE, "demo", "r1") == {"s0"}
    assert uow.steps.count_done("p", REDUCE, "demo", "r1") == 1
    assert uow.steps.done_names("q", REDUCE, "demo", "r1") == {"s0", "s1", "s2"}
    assert uow.steps.count_done("q", REDUCE, "demo", "r1") == 3


def test_a_step_never_runs_before_its_prerequisite_at_the_current_version(uow):
    s = _sources(uow)
    ids = [x.id for x in s]
    # Reduced at the old version r1 (all four) and at the current r2 (s1, s2); s2 is analysed at a2 already.
    uow.steps.mark_done(REDUCE, "demo", "r1", dict.fromkeys(ids, 1))
    uow.steps.mark_done(REDUCE, "demo", "r2", {ids[1]: 1, ids[2]: 1})
    uow.steps.mark_done(ANALYSE, "demo", "a2", {ids[2]: 0})
    uow.commit()
    todo, skipped = pending(uow, ANALYSE, "demo", "a2", s, after=(REDUCE, "r2"))
    assert ([x.name for x in todo], skipped) == (["s1"], 1)
    todo, skipped = pending(uow, ANALYSE, "demo", "a2", s, after=(REDUCE, "r1"))
    assert ([x.name for x in todo], skipped) == (["s0", "s1", "s3"], 1)
    todo, skipped = pending(uow, ANALYSE, "demo", "a2", s, after=(REDUCE, "r3"))
    assert (todo, skipped) == ([], 1)
    # Without a prerequisite every source not done is pending.
    todo, skipped = pending(uow, REDUCE, "demo", "r2", s)
    assert ([x.name for x in todo], skipped) == (["s0", "s3"], 2)


def test_a_failed_source_stays_pending_until_it_is_done(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        s = _sources(uow, n=3)
        ids = [x.id for x in s]
        finish(uow, REDUCE, "demo", "r1", {ids[0]: 2}, {ids[1]: "no data", ids[2]: "timeout"})
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        todo, skipped = pending(uow, REDUCE, "demo", "r1", s)
        assert ([x.name for x in todo], skipped) == (["s1", "s2"], 1)
        assert sorted((n, st, v, m) for n, st, _, v, m in uow.steps.failures("p")) == [
            ("s1", REDUCE, "r1", "no data"), ("s2", REDUCE, "r1", "timeout")]
        # A resumed batch (sources not new): s1 now succeeds, s2 fails again.
        finish(uow, REDUCE, "demo", "r1", {ids[1]: 1}, {ids[2]: "timeout again"}, BatchCarry())
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        todo, skipped = pending(uow, REDUCE, "demo", "r1", s)
        assert ([x.name for x in todo], skipped) == (["s2"], 2)
        assert [(n, m) for n, _, _, _, m in uow.steps.failures("p")] == [("s2", "timeout again")]
        todo, _ = pending(uow, ANALYSE, "demo", "a1", s, after=(REDUCE, "r1"))
        assert [x.name for x in todo] == ["s0", "s1"]


def test_a_failure_of_one_survey_or_stage_is_not_cleared_by_a_success_of_another(uow):
    s = _sources(uow, n=1)
    sid = s[0].id
    uow.steps.record_failures(DOWNLOAD, "demo", "d1", {sid: "HTTP 500"})
    uow.steps.record_failures(REDUCE, "demo", "r1", {sid: "bad file"})
    uow.steps.record_failures(REDUCE, "ztf", "r1", {sid: "no data"})
    uow.steps.clear_failures(REDUCE, "demo", [sid])
    uow.commit()
    assert sorted((st, su, m) for _, st, su, _, m in uow.steps.failures("p")) == [
        (DOWNLOAD, "demo", "HTTP 500"), (REDUCE, "ztf", "no data")]
