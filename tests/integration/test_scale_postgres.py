"""Scale features on a real PostgreSQL: cone search by HEALPix index, bulk step rows, done names, scores files."""

import json

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.astrometry import angular_separation_deg
from virtualobserver.domain.healpix import INDEX_ORDER, ang2pix_nested
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary


@pytest.fixture
def uow(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as unit:
        yield unit


def _sky_sources(n, seed=0):
    rng = np.random.default_rng(seed)
    # Clustered around (150, 30) so that small cones find several sources.
    ra = 150.0 + rng.normal(0, 0.5, n)
    dec = 30.0 + rng.normal(0, 0.5, n)
    return [Source(f"c{i:04d}", r, d) for i, (r, d) in enumerate(zip(ra, dec))]


def test_cone_search_finds_exactly_the_sources_within_the_radius(uow):
    sources = _sky_sources(2000)
    uow.sources.add_many("sky", sources)
    uow.sources.add_many("other", _sky_sources(50, seed=1))
    uow.commit()
    ra = np.array([s.ra for s in sources])
    dec = np.array([s.dec for s in sources])
    rng = np.random.default_rng(2)
    for _ in range(25):
        c_ra, c_dec, radius = 150.0 + rng.normal(0, 0.5), 30.0 + rng.normal(0, 0.5), 10 ** rng.uniform(-3, -0.5)
        found = uow.sources.cone("sky", c_ra, c_dec, radius)
        expected = {f"c{i:04d}" for i in np.flatnonzero(angular_separation_deg(c_ra, c_dec, ra, dec) <= radius)}
        assert {s.name for s, _ in found} == expected
        distances = [d for _, d in found]
        assert distances == sorted(distances) and all(d <= radius for d in distances)
        assert all(s.project == "sky" for s, _ in found)


def test_sources_get_their_healpix_index_and_the_query_uses_the_btree(uow, database_url):
    uow.sources.add_many("sky", _sky_sources(300))
    uow.commit()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT ra, dec, healpix FROM sources")).all()
            ra, dec, pix = map(np.array, zip(*rows))
            assert np.array_equal(pix, ang2pix_nested(INDEX_ORDER, ra, dec))
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in connection.execute(text(
                "EXPLAIN SELECT id FROM sources WHERE project_id = 1 AND healpix BETWEEN 10 AND 20")))
            assert "ix_sources_project_healpix" in plan
    finally:
        engine.dispose()


def test_mark_done_in_bulk_and_done_names(uow):
    sources = _sky_sources(2500)
    uow.sources.add_many("p", sources)
    uow.steps.mark_done("reduce", "demo", "r1", {s.id: 1 for s in sources})
    uow.steps.mark_done("reduce", "demo", "r1", {sources[0].id: 7})  # again: updates
    uow.commit()
    assert uow.steps.count_done("p", "reduce", "demo", "r1") == 2500
    assert uow.steps.done_names("p", "reduce", "demo", "r1") == {s.name for s in sources}
    assert uow.steps.done_names("p", "reduce", "demo", "other") == set()
    uow.steps.mark_done("analyse", "demo", "a1", {sources[1].id: 0})
    uow.rollback()
    assert uow.steps.done_names("p", "analyse", "demo", "a1") == set()  # bulk rows are in the transaction


def test_summaries_record_their_scores_file(uow):
    sources = _sky_sources(3)
    uow.sources.add_many("p", sources)
    summaries = [SourceSummary(s.id, "demo", "a1", num_lightcurves=1, best_snr=float(i)) for i, s in enumerate(sources)]
    uow.summaries.upsert_many(summaries, scores_file="analysis/p/a1/batches/ab/batch-ab.h5")
    uow.commit()
    assert uow.summaries.scores_file(sources[2].id, "demo", "a1") == "analysis/p/a1/batches/ab/batch-ab.h5"
    assert uow.summaries.scores_file(sources[2].id, "demo", "a2") is None
    assert [name for name, _ in uow.summaries.list("p", "demo", "a1")] == ["c0002", "c0001", "c0000"]


# -- bulk rows as column arrays -------------------------------------------------------------------------
# insert_rows sends a page as one array per column; the rows it stores must be those a VALUES list (the
# driver's own adaptation, which it falls back to) stores, bit for bit, with ids drawn in input order.

_EDGE_FLOATS = [0.1, -0.0, 0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1e-300, 1 / 3, -2.5e-7,
                123456789.123456789, float("nan"), float("inf"), float("-inf"), 2**60 + 1, -7, None]
_EDGE_TEXTS = ['a"b', "back\\slash", "comma,{brace}", "", "NULL", " spaced ", "ünïcödé ✓", "it's", "tab\tnew\nline",
               "%s %% $1", "\\\"", None]
_EDGE_JSON = [{"q": 'say "hi"', "b": "back\\slash", "u": "ü", "nested": [1, 2.5, None, {"x": True}], "big": 1e300},
              {}, [], "text", 3, None, {"k,{}": "v'"}]


def _edge_tables():
    from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, MetaData, Table, Text
    from sqlalchemy.dialects.postgresql import JSONB

    meta = MetaData()
    return meta, [Table(name, meta, Column("id", BigInteger, primary_key=True), Column("f", Float),
                        Column("i", BigInteger), Column("n", Integer), Column("s", Text), Column("b", Boolean),
                        Column("j", JSONB)) for name in ("by_arrays", "by_values")]


def _edge_rows(count):
    return [(_EDGE_FLOATS[k % len(_EDGE_FLOATS)], None if k % 9 == 4 else (-1) ** k * k * 10**15,
             None if k % 7 == 3 else k - 40, _EDGE_TEXTS[k % len(_EDGE_TEXTS)], None if k % 5 == 2 else k % 2 == 0,
             _EDGE_JSON[k % len(_EDGE_JSON)]) for k in range(count)]


def _dump(session, table):
    return [tuple(map(repr, row)) for row in session.execute(text(
        f"SELECT id, encode(float8send(f), 'hex'), f::text, i, n, s, b, j::text FROM {table} ORDER BY id"))]


def test_bulk_arrays_store_what_values_lists_store_in_input_order(uow):
    from virtualobserver.adapters.postgres.bulk import PAGE, insert_rows

    meta, (arrays, values) = _edge_tables()
    meta.create_all(uow.session.connection())
    rows = _edge_rows(PAGE + 234)  # two pages
    columns = ("f", "i", "n", "s", "b", "j")
    ids = insert_rows(uow.session, arrays, columns, rows, on_conflict="", returning=("id",), json_columns=("j",))
    # By name, a table the mapping does not know: the driver's VALUES lists.
    again = insert_rows(uow.session, "by_values", columns, rows, on_conflict="", returning=("id",),
                        json_columns=("j",))
    assert [i for (i,) in ids] == [i for (i,) in again] == list(range(1, len(rows) + 1))
    stored = _dump(uow.session, "by_arrays")
    assert stored == _dump(uow.session, "by_values")
    assert len(stored) == len(rows) and stored[1][1] == stored[2][1]  # numeric constants have no negative zero


def test_values_that_fit_no_array_go_as_a_values_list(uow):
    from virtualobserver.adapters.postgres.bulk import array_literal, insert_rows

    meta, (arrays, values) = _edge_tables()
    meta.create_all(uow.session.connection())
    assert array_literal([3.0, 1], "BIGINT") is None and array_literal(["7"], "INTEGER") is None
    assert array_literal([1, np.float64(2.0)], "FLOAT") is None and array_literal([True], "FLOAT") is None
    assert array_literal([-0.0, 1e-05, None, float("-inf")], "FLOAT") == "{0,1e-05,NULL,-Infinity}"
    rows = [(3.0, "7"), (None, 5)]
    for table in (arrays, values):
        insert_rows(uow.session, table, ("i", "n"), rows, on_conflict="")
    assert (uow.session.execute(text("SELECT i, n FROM by_arrays ORDER BY id")).all()
            == uow.session.execute(text("SELECT i, n FROM by_values ORDER BY id")).all() == [(3, 7), (None, 5)])


def _store_everything(session_factory):
    """Write more than a page of rows of every kind, with duplicates and re-adds; return the ids given and tables."""
    from virtualobserver.domain.detection import Detection
    from virtualobserver.domain.injection import Injection
    from virtualobserver.domain.lightcurve import Lightcurve
    from virtualobserver.domain.rawdata import RawData

    with SqlAlchemyUnitOfWork(session_factory) as uow:
        sources = _sky_sources(1200) + [Source("c0007", 1.0, 2.0)]  # a name twice in one call
        assert uow.sources.add_many("p", sources) == 1200
        raws = [RawData("demo", s.name, "d1", ra=s.ra, dec=s.dec) for s in sources[:1200]]
        for raw in raws:
            raw.file, raw.key, raw.num_epochs = "raw.h5", raw.source_name, 100
        uow.raw_data.add_many(raws[:300])
        uow.raw_data.add_many(raws)  # the first 300 again: left as they are
        lcs = []
        for k, (source, raw) in enumerate(zip(sources, raws)):
            lc = Lightcurve("demo", "g", 0, None, source_name=source.name, version="r1")
            lc.source_id, lc.raw_data_id, lc.file, lc.key = source.id, raw.id, "lc.h5", f"{source.name}/g"
            lc.num_epochs, lc.num_good, lc.mjd_start, lc.mjd_end = 100, 99 - k % 3, 57000.0, 58000.0 + k / 7
            lc.flux_median, lc.flux_rms, lc.mag_median, lc.mag_rms = 100 + k / 3, -0.0 if k % 5 else k * 1e-9, None, k
            lcs.append(lc)
        twin = Lightcurve("demo", "g", 0, None, source_name=sources[3].name, version="r1")
        twin.source_id, twin.file, twin.key, twin.flux_median = sources[3].id, "other.h5", "twin", 1.5
        uow.lightcurves.add_many(lcs + [twin])  # the last of a key twice wins
        dets = []
        for k, lc in enumerate(lcs[:400] + lcs[:1]):
            det = Detection("brightening", 57000.5 + k % 400, 57000.0, 57001.0, 5.0 + k / 3, 10.0, -0.0, 3, 9.5,
                            first_epoch=k, quality={"a": k / 3, "s": 'q"\\', "bad": float("nan")})
            det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, "a1"
            dets.append(det)
        uow.detections.add_many(dets)
        injections = []
        for k, lc in enumerate(lcs + lcs[:2]):  # two keys twice: the first wins
            inj = Injection("flare", 57100.0 + k, 57099.0, 57105.0, 0.5, 8.0 + k / 7, 1.5, u0=None if k % 2 else -0.0,
                            params={"rise": k / 7, "nan": float("nan"), "grid": np.arange(2)}, recovered=k % 3 == 0)
            inj.source_id, inj.lightcurve_id, inj.version = lc.source_id, lc.id, "s1"
            if k % 2:
                inj.detection = Detection("brightening", 57100.2 + k, 57099.0, 57104.0, 9.0, 15.0, -0.4, 4, 10.0,
                                          filter_width=2.0)
            injections.append(inj)
        uow.injections.add_many(injections[:100])
        uow.injections.add_many(injections)  # the first 100 again: nothing written, the stored ids given
        uow.summaries.upsert_many([SourceSummary(s.id, "demo", "a1", 1, 100, k, None if k % 4 else k / 9, -0.0, k / 11)
                                   for k, s in enumerate(sources)], scores_file="scores.h5")
        uow.steps.mark_done("reduce", "demo", "r1", {s.id: k % 3 for k, s in enumerate(sources)})
        uow.steps.record_failures("analyse", "demo", "a1", {sources[5].id: "no"})
        uow.steps.clear_failures("analyse", "demo", [s.id for s in sources[:3]])
        uow.commit()
        given = [o.id for o in sources + raws + lcs + [twin] + dets + injections]
        given += [i.detection.id for i in injections if i.detection is not None]
        tables = {}
        for table, order in (("sources", "id"), ("raw_data", "id"), ("lightcurves", "id"), ("detections", "id"),
                             ("injections", "id"), ("source_summaries", "source_id"), ("steps", "source_id"),
                             ("failures", "source_id")):
            result = uow.session.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
            times = {"created_at", "finished_at", "updated_at"}
            tables[table] = [tuple(repr(v) for k, v in zip(result.keys(), row) if k not in times) for row in result]
    return given, tables


def test_a_large_batch_stores_the_same_ids_and_rows_as_values_lists(new_database, mappers, monkeypatch):
    from virtualobserver.adapters.postgres import bulk, migrate
    from virtualobserver.adapters.postgres.engine import make_engine, make_session_factory

    stored = []
    for as_values in (False, True):
        url = new_database()
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with monkeypatch.context() as patch:
                if as_values:  # no column fits an array: the driver's VALUES lists, as before arrays
                    patch.setattr(bulk, "array_literal", lambda *args, **kwargs: None)
                stored.append(_store_everything(make_session_factory(engine)))
        finally:
            engine.dispose()
    (ids, tables), (values_ids, values_tables) = stored
    assert ids == values_ids and tables == values_tables
    assert ids[:1201] == list(range(1, 1201)) + [8]  # in input order; the repeated name got the first one's id
    assert len(tables["sources"]) == 1200 and len(tables["injections"]) == 1200


def test_encoded_json_is_stored_as_the_value_it_encodes(uow):
    from virtualobserver.adapters.postgres.bulk import JsonText, insert_rows

    meta, (arrays, values) = _edge_tables()
    meta.create_all(uow.session.connection())
    plain = [v for v in _EDGE_JSON if v is not None]
    encoded = [JsonText(json.dumps(v)) for v in plain]
    # A whole column without NULL, and one with, as arrays and as VALUES lists.
    for column in (plain, encoded, encoded[:3] + [None]):
        for table in (arrays, values):
            insert_rows(uow.session, table if table is arrays else "by_values", ("j",), [(v,) for v in column],
                        on_conflict="", json_columns=("j",))
    stored = [uow.session.execute(text(f"SELECT j::text FROM {t} ORDER BY id")).scalars().all()
              for t in ("by_arrays", "by_values")]
    n = len(plain)
    assert stored[0] == stored[1] and stored[0][:n] == stored[0][n:2 * n] and stored[0][-1] is None


def test_float_columns_store_the_doubles_values_lists_store(uow):
    from virtualobserver.adapters.postgres.bulk import insert_rows

    meta, (arrays, values) = _edge_tables()
    meta.create_all(uow.session.connection())
    rng = np.random.default_rng(5)
    finite = [f for f in _EDGE_FLOATS if type(f) is float and np.isfinite(f)]
    spread = (rng.normal(size=300) * 10.0 ** rng.integers(-300, 300, 300)).tolist()
    # Columns of floats only (finite, then with -0.0 alone and NaN), then mixed with ints.
    for column in (finite + spread, [-0.0, 1.0], [2.5, float("nan")], [1, 0.5]):
        for table in (arrays, "by_values"):
            insert_rows(uow.session, table, ("f",), [(v,) for v in column], on_conflict="")
    dump = "SELECT encode(float8send(f), 'hex') FROM {} ORDER BY id"
    stored = [uow.session.execute(text(dump.format(t))).scalars().all() for t in ("by_arrays", "by_values")]
    assert stored[0] == stored[1] and len(stored[0]) == len(finite) + 306
