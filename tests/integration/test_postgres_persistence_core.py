"""The version and resume invariants of the step bookkeeping, on a real PostgreSQL.

A step's record is keyed by (source, stage, survey, version): a record of another stage, survey,
version or project never counts; a step never runs before its prerequisite at the current version;
a failed source stays pending until it is done. Expected values are the sets and counts written by
hand from what each test stores.
"""

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.histograms import Axis, Histograms
from virtualobserver.domain.source import Source
from virtualobserver.services.batch_carry import BatchCarry
from virtualobserver.services.histograms import compact_histograms, merged_histograms
from virtualobserver.services.stages import ANALYSE, DOWNLOAD, REDUCE, finish, pending, save_histogram_parts


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


def test_a_batch_of_new_sources_takes_its_steps_from_its_carry_within_the_batch_only(uow):
    s = _sources(uow)
    ids = [x.id for x in s]
    carry = BatchCarry(fresh=True)
    # What this batch's steps did (the database holds nothing of it yet), and an id of another batch.
    carry.done = {(REDUCE, "demo", "r2"): {ids[0], ids[1], ids[2]}, (ANALYSE, "demo", "a2"): {ids[2], 999_999}}
    todo, skipped = pending(uow, ANALYSE, "demo", "a2", s, after=(REDUCE, "r2"), carry=carry)
    assert ([x.name for x in todo], skipped) == (["s0", "s1"], 1)
    todo, skipped = pending(uow, REDUCE, "demo", "r2", s, carry=carry)
    assert ([x.name for x in todo], skipped) == (["s3"], 3)
    todo, skipped = pending(uow, ANALYSE, "demo", "a2", s, after=(REDUCE, "r1"), carry=carry)
    assert (todo, skipped) == ([], 1)
    # finish records in the carry what it marked done, beside what was there.
    finish(uow, ANALYSE, "demo", "a2", {ids[0]: 1}, {ids[1]: "unreadable"}, carry)
    assert carry.done[(ANALYSE, "demo", "a2")] == {ids[0], ids[2], 999_999}
    assert uow.steps.done(ANALYSE, "demo", "a2", ids) == {ids[0]}


def test_a_resumed_batch_asks_the_database_not_its_carry(uow):
    s = _sources(uow, n=2)
    ids = [x.id for x in s]
    uow.steps.mark_done(REDUCE, "demo", "r1", {ids[0]: 1})
    uow.commit()
    carry = BatchCarry()  # not fresh: what it holds is not all there is on record
    carry.done = {(REDUCE, "demo", "r1"): {ids[1]}}
    todo, skipped = pending(uow, REDUCE, "demo", "r1", s, carry=carry)
    assert ([x.name for x in todo], skipped) == (["s1"], 1)
    todo, _ = pending(uow, ANALYSE, "demo", "a1", s, after=(REDUCE, "r1"), carry=carry)
    assert [x.name for x in todo] == ["s0"]


def test_lightcurves_of_a_source_come_by_filter_then_season(uow):
    from tests.integration.test_postgres_versions import _lightcurve

    (source,) = _sources(uow, n=1)
    made = []
    for filter_, season in (("r", 1), ("g", 1), ("r", 0), ("g", 0)):
        lc = _lightcurve(source, "r1", 5)
        lc.filter, lc.season, lc.key = filter_, season, f"s0/{filter_}/{season}"
        made.append(lc)
    uow.lightcurves.add_many(made)
    uow.commit()
    uow.session.expunge_all()
    found = uow.lightcurves.for_sources([source.id], "demo", "r1")
    assert [(lc.filter, lc.season) for lc in found[source.id]] == [("g", 0), ("g", 1), ("r", 0), ("r", 1)]


def test_lightcurves_of_a_source_come_in_season_order_whatever_order_they_were_stored_in(uow):
    from tests.integration.test_postgres_versions import _lightcurve

    (source,) = _sources(uow, n=1)
    # Stored one season at a time, latest first: the table holds them out of season order, so only the
    # query's ORDER BY can give them in season order.
    for season in (2, 1, 0):
        made = []
        for filter_ in ("r", "g"):
            lc = _lightcurve(source, "r1", 5)
            lc.filter, lc.season, lc.key = filter_, season, f"s0/{filter_}/{season}"
            made.append(lc)
        uow.lightcurves.add_many(made)
        uow.commit()
    uow.session.expunge_all()
    # On a small table PostgreSQL reads them through the unique index (source, survey, version, filter,
    # season), which is in season order itself; on a large one, where most rows match, it scans the table
    # and sorts. The plan of a large table, here: without the ORDER BY's season the seasons came 2, 1, 0.
    for scan in ("indexscan", "indexonlyscan", "bitmapscan"):
        uow.session.execute(text(f"SET LOCAL enable_{scan} = off"))
    found = uow.lightcurves.for_sources([source.id], "demo", "r1")
    assert [(lc.filter, lc.season) for lc in found[source.id]] == [
        ("g", 0), ("g", 1), ("g", 2), ("r", 0), ("r", 1), ("r", 2)]


def test_replacing_parts_touches_only_its_own_product(session_factory):
    products = {"own": ("p", "demo", "a1", "scanned"), "project": ("q", "demo", "a1", "scanned"),
                "survey": ("p", "ztf", "a1", "scanned"), "version": ("p", "demo", "a2", "scanned"),
                "kind": ("p", "demo", "a1", "cut_chi")}
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        for key, product in products.items():
            uow.histogram_parts.add(*product, f"h/{key}")
        uow.commit()
        # Every key named, the other products' included: only this product's part is replaced.
        uow.histogram_parts.replace(*products["own"], [f"h/{k}" for k in products], "h/merged")
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert {key: uow.histogram_parts.keys(*product) for key, product in products.items()} == {
            "own": ["h/merged"], "project": ["h/project"], "survey": ["h/survey"], "version": ["h/version"],
            "kind": ["h/kind"]}


def _part(values) -> Histograms:
    h = Histograms({"mag": Axis.numeric(10, 20, 1)})
    h.fill("counts", mag=values)
    return h


class _CountingStore(NetCdfHistogramStore):
    def __init__(self, root):
        super().__init__(root)
        self.loaded = []

    def load(self, key):
        self.loaded.append(key)
        return super().load(key)


def _write_parts(session_factory, store, values_of_parts, product=("p", "demo", "a1", "scanned")):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        for i, values in enumerate(values_of_parts):
            key = f"histograms/{'/'.join(product)}/part-{i}"
            store.save(key, _part(values))
            uow.histogram_parts.add(*product, key)
        uow.commit()
        return uow.histogram_parts.keys(*product)


def test_parts_are_compacted_from_min_parts_on_and_keep_every_count(session_factory, tmp_path):
    store = _CountingStore(tmp_path)
    values = [[10.5], [11.5, 11.5], [12.5, 19.5, 25.0]]
    keys = _write_parts(session_factory, store, values)
    # The merged counts, bin for bin: numpy's histogram of every value written (25 overflows).
    expected = np.histogram([v for part in values for v in part], bins=np.arange(10, 21))[0]
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=4) == 0
        assert uow.histogram_parts.keys("p", "demo", "a1", "scanned") == keys
        assert merged_histograms(uow, store, "p", "demo", "a1", "ztf") is None
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=3) == 3
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        (merged_key,) = uow.histogram_parts.keys("p", "demo", "a1", "scanned")
        merged = merged_histograms(uow, store, "p", "demo", "a1", "scanned")
    assert merged_key.startswith("histograms/p/demo/a1/scanned/merged-")
    assert not any(store.exists(key) for key in keys) and store.exists(merged_key)
    counts = merged["counts"]
    assert counts.sel(mag=np.arange(10.5, 20)).values.tolist() == expected.tolist()
    assert merged.total("counts") == 6


def test_one_part_is_never_compacted_and_two_are_from_min_parts_one(session_factory, tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    (only,) = _write_parts(session_factory, store, [[10.5]], ("p", "demo", "a1", "scanned"))
    two = _write_parts(session_factory, store, [[10.5], [11.5]], ("p", "demo", "a1", "cut_chi"))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=1) == 0
        assert compact_histograms(uow, store, "p", "demo", "a1", "cut_chi", min_parts=1) == 2
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.histogram_parts.keys("p", "demo", "a1", "scanned") == [only]
        assert len(uow.histogram_parts.keys("p", "demo", "a1", "cut_chi")) == 1
        assert merged_histograms(uow, store, "p", "demo", "a1", "cut_chi").total("counts") == 2
    assert not any(store.exists(key) for key in two)


def test_a_second_compaction_merges_the_first_merged_part_and_keeps_its_counts(session_factory, tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    _write_parts(session_factory, store, [[10.5], [11.5]])
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=2) == 2
    with SqlAlchemyUnitOfWork(session_factory) as uow:  # two later batches' parts
        for i, values in enumerate([[12.5], [13.5, 13.5]]):
            key = f"histograms/p/demo/a1/scanned/later-{i}"
            store.save(key, _part(values))
            uow.histogram_parts.add("p", "demo", "a1", "scanned", key)
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=2) == 3
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        (merged_key,) = uow.histogram_parts.keys("p", "demo", "a1", "scanned")
        merged = merged_histograms(uow, store, "p", "demo", "a1", "scanned")
    # The second merged part is named apart from the first (whose file is deleted after the swap).
    assert store.exists(merged_key)
    expected = np.histogram([10.5, 11.5, 12.5, 13.5, 13.5], bins=np.arange(10, 21))[0]
    assert merged["counts"].sel(mag=np.arange(10.5, 20)).values.tolist() == expected.tolist()


def test_known_sums_replace_reading_back_only_while_every_key_they_cover_is_on_record(session_factory, tmp_path):
    store = _CountingStore(tmp_path)
    keys = _write_parts(session_factory, store, [[10.5], [11.5], [12.5]])
    # Deliberately not the sum of those parts: used instead of them, it would show in the result.
    marked = _part([15.5] * 7)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        stale = (frozenset({keys[0], "histograms/p/demo/a1/scanned/gone"}), marked)
        assert compact_histograms(uow, store, "p", "demo", "a1", "scanned", min_parts=2, known=stale) == 3
    assert sorted(store.loaded) == sorted(keys)  # a key of the known sums is gone: every part is read
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        first = merged_histograms(uow, store, "p", "demo", "a1", "scanned")
    assert first.total("counts") == 3
    more = _write_parts(session_factory, store, [[13.5], [14.5]], ("p", "demo", "a1", "cut_chi"))
    store.loaded.clear()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "cut_chi", min_parts=2,
                                  known=(frozenset(more), marked)) == 2
    assert store.loaded == []  # every key covered: nothing read back, the known sums taken as they are
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert merged_histograms(uow, store, "p", "demo", "a1", "cut_chi").total("counts") == 7
    store.loaded.clear()
    some = _write_parts(session_factory, store, [[10.5], [11.5], [12.5]], ("p", "demo", "a1", "cut_sharp"))
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert compact_histograms(uow, store, "p", "demo", "a1", "cut_sharp", min_parts=2,
                                  known=(frozenset(some[:2]), marked)) == 3
    assert store.loaded == some[2:]  # only the part the known sums do not cover
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert merged_histograms(uow, store, "p", "demo", "a1", "cut_sharp").total("counts") == 8


def test_a_batch_writes_one_part_per_histogram_named_by_its_sources_whatever_their_order(session_factory, tmp_path):
    store = NetCdfHistogramStore(tmp_path)
    histograms = {"scanned": _part([10.5, 11.5]), "cut_chi": _part([12.5])}
    carry = BatchCarry()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        save_histogram_parts(uow, store, histograms, "p", "demo", "a1", [3, 1, 2], carry)
        save_histogram_parts(uow, store, histograms, "p", "demo", "a1", [1, 2, 3])  # the same batch again
        save_histogram_parts(uow, store, histograms, "p", "demo", "a1", [])  # no source: no part
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        keys = {name: uow.histogram_parts.keys("p", "demo", "a1", name) for name in histograms}
        assert {name: len(k) for name, k in keys.items()} == {"scanned": 1, "cut_chi": 1}
        # Under the product's folder (the project's name made file-safe, with a hash of it).
        layout = {name: k[0].split("/") for name, k in keys.items()}
        assert all(parts[0] == "histograms" and parts[1].startswith("p-") and parts[2:5] == ["demo", "a1", name]
                   and parts[5].startswith("part-") and len(parts) == 6 for name, parts in layout.items())
        assert [(s, v, n, k) for s, v, n, k, _ in carry.parts] == [
            ("demo", "a1", name, keys[name][0]) for name in histograms]
        assert [h.total("counts") for *_, h in carry.parts] == [2, 1]
        save_histogram_parts(uow, store, histograms, "p", "demo", "a1", [4])
        uow.commit()
        assert len(uow.histogram_parts.keys("p", "demo", "a1", "scanned")) == 2
        assert merged_histograms(uow, store, "p", "demo", "a1", "scanned").total("counts") == 4


def test_parts_come_oldest_first_even_where_a_vacuumed_table_reuses_a_forgotten_part_s_place(
        session_factory, database_url):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        for key in ("h/1", "h/2", "h/3"):
            uow.histogram_parts.add("p", "demo", "a1", "scanned", key)
        uow.commit()
        uow.histogram_parts.replace("p", "demo", "a1", "scanned", ["h/1"], "h/merged")
        uow.commit()
    # (auto)vacuum frees the forgotten row's slot in the table's page; the next row recorded may take it.
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM histogram_parts"))
    finally:
        engine.dispose()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.histogram_parts.add("p", "demo", "a1", "scanned", "h/4")
        uow.commit()
        assert uow.histogram_parts.keys("p", "demo", "a1", "scanned") == ["h/2", "h/3", "h/merged", "h/4"]


def test_raw_data_of_another_survey_at_the_same_version_is_not_returned(uow):
    from virtualobserver.domain.rawdata import RawData

    raws = [RawData(survey, "s0", "d1", {"t": np.arange(n)}) for survey, n in (("demo", 3), ("ztf", 5))]
    for raw in raws:
        raw.file, raw.key = f"{raw.survey}.h5", "s0"
    uow.raw_data.add_many(raws)
    uow.commit()
    uow.session.expunge_all()
    found = {survey: uow.raw_data.get_many(survey, "d1", ["s0", "s1"]) for survey in ("demo", "ztf", "tess")}
    assert {survey: {name: (raw.survey, raw.num_epochs) for name, raw in by_name.items()}
            for survey, by_name in found.items()} == {"demo": {"s0": ("demo", 3)}, "ztf": {"s0": ("ztf", 5)}, "tess": {}}


def test_a_batch_of_new_sources_spends_no_statement_on_failures_it_cannot_have(uow, monkeypatch):
    from virtualobserver.adapters.postgres.repository import SqlAlchemyStepRepository

    cleared = []
    clear = SqlAlchemyStepRepository.clear_failures
    monkeypatch.setattr(SqlAlchemyStepRepository, "clear_failures",
                        lambda self, *args: cleared.append(args[0]) or clear(self, *args))
    (source,) = _sources(uow, n=1)
    finish(uow, REDUCE, "demo", "r1", {source.id: 1}, {}, BatchCarry(fresh=True))
    assert cleared == []
    finish(uow, ANALYSE, "demo", "a1", {source.id: 1}, {}, BatchCarry())
    finish(uow, ANALYSE, "demo", "a2", {source.id: 1}, {})
    assert cleared == [ANALYSE, ANALYSE]


def test_a_long_project_name_makes_the_same_32_character_folder_as_its_other_products(session_factory, tmp_path):
    import hashlib

    project = "a_long_project_name_of_forty_chars_xxxxx"
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        save_histogram_parts(uow, NetCdfHistogramStore(tmp_path), {"scanned": _part([10.5])}, project, "demo", "a1", [1])
        uow.commit()
        (key,) = uow.histogram_parts.keys(project, "demo", "a1", "scanned")
    # The readable part cut at 32 characters, then the first 12 hex digits of the name's SHA-256 (domain.naming).
    assert key.split("/")[1] == project[:32] + "-" + hashlib.sha256(project.encode()).hexdigest()[:12]
