"""Science-core persistence on a real PostgreSQL: injections, simulated detections, summaries, histogram parts."""

import json
import types

import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, delete, func, inspect, select

from virtualobserver.adapters.postgres import migrate
from virtualobserver.adapters.postgres.engine import make_engine, make_session_factory
from virtualobserver.adapters.postgres.orm import clear_mappers, start_mappers
from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.orm import injections as injections_table
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary

SCIENCE_TABLES = {"injections", "source_summaries", "histogram_parts"}


@pytest.fixture
def uow(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as unit:
        yield unit


def _sources(n=3):
    return [Source(f"s{i}", 10.0 + i, -5.0 + i, mag=15.0 + i) for i in range(n)]


def _lightcurve(source, filter_="g", season=0, n=20):
    mjd = 59000.0 + np.arange(n)
    columns = dict(mjd=mjd, flux=np.full(n, 100.0), fluxerr=np.ones(n), mag=np.full(n, 20.0),
                   magerr=np.full(n, 0.01), flag=np.zeros(n), exptime=np.full(n, 30.0))
    lc = Lightcurve("demo", filter_, season, columns, source_name=source.name, version="r1")
    lc.source_id = source.id
    lc.file, lc.key = "reduced.h5", f"{source.name}/{filter_}/{season}"
    return lc


def _setup(uow, n=2):
    sources = _sources(n)
    uow.sources.add_many("p", sources)
    lcs = [_lightcurve(s) for s in sources]
    uow.lightcurves.add_many(lcs)
    return sources, lcs


def _detection(lc, peak, simulated=False, **extra):
    det = Detection(DIMMING if simulated else BRIGHTENING, peak, peak - 1, peak + 1, 7.5, 130.0, -0.3, 3, 100.0,
                    is_simulated=simulated, **extra)
    det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, "a1"
    return det


def _injection(lc, sequence, peak=59010.0, detected=True, params=None, **extra):
    params = {"rise": 0.1, "decay": 2.0} if params is None else params
    inj = Injection("flare", peak, peak - 2, peak + 5, 0.5, 8.0, 1.5, params=params, recovered=detected,
                    sequence=sequence, **extra)
    inj.source_id, inj.lightcurve_id, inj.version = lc.source_id, lc.id, "a1"
    if detected:
        # As the Simulator hands it over: a plain detection, not yet tied to anything.
        inj.detection = Detection(BRIGHTENING, peak + 0.2, peak - 1, peak + 3, 9.0, 150.0, -0.4, 4, 100.0,
                                  filter_width=2.0, first_epoch=8, last_epoch=12)
    return inj


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()), inspect(engine).get_columns("detections")
    finally:
        engine.dispose()


def test_migration_to_head_creates_science_tables_and_downgrades(empty_database_url):
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    tables, columns = _tables(empty_database_url)
    assert SCIENCE_TABLES <= tables
    names = {c["name"] for c in columns}
    assert {"filter_width", "first_epoch", "last_epoch", "quality", "injection_id"} <= names
    command.downgrade(migrate.alembic_config(empty_database_url), "0001")
    tables, columns = _tables(empty_database_url)
    assert not SCIENCE_TABLES & tables and "injection_id" not in {c["name"] for c in columns}
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_injections_round_trip(uow):
    sources, lcs = _setup(uow)
    params = {"rise": np.float32(0.25), "n": np.int64(3), "bad": float("nan"), "grid": np.arange(2)}
    injected = [
        _injection(lcs[1], 0),
        _injection(lcs[0], 1, detected=False, u0=0.3, params=params),
        _injection(lcs[0], 0, peak=59030.0),
    ]
    uow.injections.add_many(injected)
    uow.commit()
    assert all(i.id is not None for i in injected)
    det = injected[0].detection
    assert det.id is not None and det.is_simulated and det.injection_id == injected[0].id
    assert (det.source_id, det.lightcurve_id, det.version) == (sources[1].id, lcs[1].id, "a1")
    uow.session.expunge_all()

    loaded = uow.injections.list("p", "a1")
    assert all(isinstance(i, Injection) for i in loaded)
    assert [(i.source_id, i.sequence) for i in loaded] == [(sources[0].id, 0), (sources[0].id, 1),
                                                           (sources[1].id, 0)]
    assert all(i.detection is None for i in loaded)  # not loaded, but the attribute exists
    missed = loaded[1]
    assert (missed.kind, missed.peak_mjd, missed.start_mjd, missed.end_mjd) == ("flare", 59010.0, 59008.0, 59015.0)
    assert (missed.amplitude, missed.snr_amplitude, missed.width, missed.u0) == (0.5, 8.0, 1.5, 0.3)
    assert missed.params == {"rise": pytest.approx(0.25), "n": 3, "bad": None, "grid": [0, 1]}
    assert missed.recovered is False and loaded[0].recovered is True and loaded[0].u0 is None
    assert (missed.version, missed.lightcurve_id, missed.id) == ("a1", lcs[0].id, injected[1].id)
    assert uow.injections.count("p", "a1") == 3
    assert uow.injections.count("p", "a1", recovered=True) == 2
    assert uow.injections.count("p", "a1", recovered=False) == 1
    assert uow.injections.count("p", "other") == 0 and uow.injections.list("q", "a1") == []

    simulated = [d for d in uow.detections.list("p", "a1", include_simulated=True)]
    assert len(simulated) == 2 and all(d.is_simulated for d in simulated)
    by_injection = {d.injection_id: d for d in simulated}
    assert set(by_injection) == {injected[0].id, injected[2].id}
    stored = by_injection[injected[0].id]
    assert (stored.id, stored.peak_mjd, stored.filter_width, stored.first_epoch, stored.last_epoch) == (
        det.id, 59010.2, 2.0, 8, 12)


def test_loaded_injections_are_usable_after_the_unit_of_work(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        _, lcs = _setup(uow, 1)
        uow.injections.add_many([_injection(lcs[0], 0)])
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        (loaded,) = uow.injections.list("p", "a1")
    assert loaded.detection is None and loaded.recovered and loaded.params == {"rise": 0.1, "decay": 2.0}
    loaded.detection = "anything"  # a plain attribute, not a relationship
    assert loaded.detection == "anything"


def test_readding_injections_is_a_no_op(uow):
    _, lcs = _setup(uow, 1)
    first = [_injection(lcs[0], 0), _injection(lcs[0], 1, detected=False)]
    uow.injections.add_many(first)
    uow.commit()
    again = [_injection(lcs[0], 0, peak=59050.0), _injection(lcs[0], 1, peak=59060.0), _injection(lcs[0], 2)]
    again[1].recovered = True
    uow.injections.add_many(again + [_injection(lcs[0], 2, peak=59070.0)])  # duplicates in one call too
    uow.commit()
    assert [i.id for i in again[:2]] == [i.id for i in first]
    assert again[0].detection.id == first[0].detection.id  # the stored detection's id, nothing written
    assert uow.injections.count("p", "a1") == 3
    assert uow.injections.count("p", "a1", recovered=False) == 1
    assert uow.detections.count("p", "a1", include_simulated=True) == 2
    peaks = sorted(i.peak_mjd for i in uow.injections.list("p", "a1"))
    assert peaks == [59010.0, 59010.0, 59010.0]


def test_simulated_detections_are_hidden_and_may_share_a_peak(uow):
    _, lcs = _setup(uow, 1)
    real = [_detection(lcs[0], 59010.2), _detection(lcs[0], 59020.0)]
    uow.detections.add_many(real)
    # Three injections recovered at the same peak time as each other and as a real detection.
    injected = [_injection(lcs[0], k) for k in range(3)]
    uow.injections.add_many(injected)
    uow.detections.add_many(real[:1])  # a repeated real detection still updates, never duplicates
    uow.commit()
    assert len({i.detection.id for i in injected}) == 3
    assert uow.detections.count("p") == 2 and uow.detections.count("p", "a1") == 2
    assert not any(d.is_simulated or d.injection_id for d in uow.detections.list("p"))
    assert uow.detections.count("p", include_simulated=True) == 5
    every = uow.detections.list("p", "a1", include_simulated=True)
    assert [d.peak_mjd for d in every].count(59010.2) == 4


def test_deleting_an_injection_deletes_its_detection(uow):
    _, lcs = _setup(uow, 1)
    inj = _injection(lcs[0], 0)
    uow.injections.add_many([inj])
    uow.session.execute(delete(injections_table).where(injections_table.c.id == inj.id))
    assert uow.session.scalar(select(func.count()).select_from(detections_table)) == 0


def test_injection_without_ids_is_refused(uow):
    inj = Injection("flare", 1, 0, 2, 0.1, 5, 1)
    with pytest.raises(ValueError, match="needs source_id"):
        uow.injections.add_many([inj])


def test_detection_quality_and_epochs_round_trip(uow):
    _, lcs = _setup(uow, 1)
    quality = {"seeing": np.float64(1.2), "airmass": np.float32(1.5), "flagged": np.bool_(False), "sky": float("inf")}
    det = _detection(lcs[0], 59005.0, filter_width=np.float64(3.0), first_epoch=np.int64(4),
                     last_epoch=np.int64(6), quality=quality)
    plain = _detection(lcs[0], 59006.0)
    uow.detections.add_many([det, plain])
    uow.commit()
    uow.session.expunge_all()
    loaded, other = uow.detections.list("p")
    assert (loaded.filter_width, loaded.first_epoch, loaded.last_epoch) == (3.0, 4, 6)
    assert loaded.quality == {"seeing": 1.2, "airmass": 1.5, "flagged": False, "sky": None}
    assert loaded.injection_id is None and loaded.id == det.id
    assert (other.filter_width, other.first_epoch, other.last_epoch, other.quality) == (0.0, None, None, {})
    # Re-adding updates the new columns as well.
    det.quality, det.last_epoch = {"seeing": 2.0}, 7
    uow.detections.add_many([det])
    uow.commit()
    uow.session.expunge_all()
    assert [(d.quality, d.last_epoch) for d in uow.detections.list("p")][0] == ({"seeing": 2.0}, 7)


def test_summaries_upsert_and_list_best_first(uow):
    sources = _sources(4)
    uow.sources.add_many("p", sources)
    uow.sources.add_many("q", _sources(1))
    ids = [s.id for s in sources]
    uow.summaries.upsert_many([
        SourceSummary(ids[0], "demo", "a1", 2, 100, 90, 18.0, 0.01, 5.0, 0),
        SourceSummary(ids[1], "demo", "a1", 1, 50, 40, 17.0, 0.02, None, 0),
        SourceSummary(ids[2], "demo", "a1", 1, 60, 60, np.float64(16.0), 0.03, np.float64(12.0), np.int64(2)),
        SourceSummary(ids[3], "demo", "a1", 0, 0, 0, None, None, None, 0),
        SourceSummary(ids[0], "demo", "a2", 1, 1, 1, 1.0, 1.0, 99.0, 0),
    ])
    uow.summaries.upsert_many([SourceSummary(ids[0], "demo", "a1", 3, 120, 100, 18.5, 0.01, 8.0, 1)])  # replaces
    uow.commit()
    ranked = uow.summaries.list("p", "demo", "a1")
    assert [name for name, _ in ranked] == ["s2", "s0", "s1", "s3"]  # NULLs last, ties by name
    assert all(isinstance(s, SourceSummary) for _, s in ranked)
    assert ranked[1][1] == SourceSummary(ids[0], "demo", "a1", 3, 120, 100, 18.5, 0.01, 8.0, 1)
    assert ranked[0][1].num_detections == 2 and ranked[2][1].best_snr is None
    assert [n for n, _ in uow.summaries.list("p", "demo", "a1", order_by="num_epochs", limit=2)] == ["s0", "s2"]
    assert [n for n, _ in uow.summaries.list("p", "demo", "a1", order_by="mag_median")][-1] == "s3"
    assert uow.summaries.list("p", "demo", "a2")[0][1].best_snr == 99.0
    assert uow.summaries.list("q", "demo", "a1") == [] and uow.summaries.list("p", "other", "a1") == []
    with pytest.raises(ValueError, match="cannot order"):
        uow.summaries.list("p", "demo", "a1", order_by="name; DROP TABLE sources")


def test_summaries_keep_the_signed_event_and_per_filter_statistics(uow):
    sources = _sources(4)
    uow.sources.add_many("p", sources)
    ids = [s.id for s in sources]
    per_filter = {"zg": {"num_lightcurves": 2, "num_epochs": 300, "num_good": 280, "mag_median": 18.123456789012345,
                         "rms": 0.0123, "best_snr": -497.2, "num_detections": 2},
                  "zr": {"num_lightcurves": 1, "num_epochs": 10, "num_good": 0, "mag_median": None, "rms": None,
                         "best_snr": None, "num_detections": 0}}
    written = [
        SourceSummary(ids[0], "demo", "a1", 3, 310, 280, 18.123456789012345, 0.0123, -497.2, 2, best_kind="dimming",
                      best_peak_mjd=np.float64(59012.625), per_filter=per_filter, detections_dropped=np.int64(3)),
        SourceSummary(ids[1], "demo", "a1", 1, 50, 50, 17.0, 0.01, 287.9, 1, "brightening", 59001.5,
                      {"g": {"best_snr": 287.9}}),
        SourceSummary(ids[2], "demo", "a1", 1, 50, 50, 16.0, 0.01, -3.5, 0, None, 59003.25),  # no detection
        SourceSummary(ids[3], "demo", "a1", 0, 0, 0),
    ]
    uow.summaries.upsert_many(written)
    uow.commit()
    ranked = uow.summaries.list("p", "demo", "a1")
    # Strongest first whatever the sign: |-497.2| > 287.9 > |-3.5|; no S/N last.
    assert [name for name, _ in ranked] == ["s0", "s1", "s2", "s3"]
    assert [s for _, s in ranked] == written  # every field, the JSON included, read back as written
    first = ranked[0][1]
    assert (first.best_snr, first.best_kind, first.best_peak_mjd, first.detections_dropped) == (
        -497.2, "dimming", 59012.625, 3)
    assert first.per_filter["zg"]["mag_median"] == 18.123456789012345 and first.per_filter["zr"]["rms"] is None
    assert [list(values) for values in first.per_filter.values()] == [list(per_filter["zg"])] * 2  # in order
    assert ranked[3][1].per_filter == {} and ranked[3][1].best_kind is None
    # Other fields still rank by value, largest first.
    assert [n for n, _ in uow.summaries.list("p", "demo", "a1", order_by="detections_dropped")][0] == "s0"
    # An update replaces the new columns too.
    uow.summaries.upsert_many([SourceSummary(ids[0], "demo", "a1", 3, 310, 280, 18.1, 0.01, 9.0, 1, "brightening",
                                             59020.0, {"zg": {"best_snr": 9.0}}, 0)])
    uow.commit()
    first = dict(uow.summaries.list("p", "demo", "a1"))["s0"]
    assert (first.best_snr, first.best_kind, first.best_peak_mjd, first.per_filter, first.detections_dropped) == (
        9.0, "brightening", 59020.0, {"zg": {"best_snr": 9.0}}, 0)
    assert [n for n, _ in uow.summaries.list("p", "demo", "a1")] == ["s1", "s0", "s2", "s3"]


def test_histogram_parts_add_keys_replace(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        for key in ("h/a1/epochs/part-1", "h/a1/epochs/part-2", "h/a1/epochs/part-3"):
            uow.histogram_parts.add("p", "demo", "a1", "epochs", key)
        uow.histogram_parts.add("p", "demo", "a1", "epochs", "h/a1/epochs/part-2")  # again: no-op
        uow.histogram_parts.add("p", "demo", "a1", "cut_seeing", "h/a1/cut_seeing/part-1")
        uow.histogram_parts.add("q", "demo", "a1", "epochs", "q/a1/epochs/part-1")
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.histogram_parts.keys("p", "demo", "a1", "epochs") == [
            "h/a1/epochs/part-1", "h/a1/epochs/part-2", "h/a1/epochs/part-3"]
        assert uow.histogram_parts.keys("p", "demo", "a1", "cut_seeing") == ["h/a1/cut_seeing/part-1"]
        assert uow.histogram_parts.keys("p", "demo", "a2", "epochs") == []
        assert uow.histogram_parts.keys("nobody", "demo", "a1", "epochs") == []
        uow.histogram_parts.replace("p", "demo", "a1", "epochs", ["h/a1/epochs/part-1", "h/a1/epochs/part-2"],
                                    "h/a1/epochs/merged-1")
        # Another product's keys are never touched, even when named.
        uow.histogram_parts.replace("p", "demo", "a1", "cut_seeing", ["q/a1/epochs/part-1"], "h/a1/cut/merged")
        # Without a commit the compaction is discarded.
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert len(uow.histogram_parts.keys("p", "demo", "a1", "epochs")) == 3
        uow.histogram_parts.replace("p", "demo", "a1", "epochs", ["h/a1/epochs/part-1", "h/a1/epochs/part-2"],
                                    "h/a1/epochs/merged-1")
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.histogram_parts.keys("p", "demo", "a1", "epochs") == ["h/a1/epochs/part-3", "h/a1/epochs/merged-1"]
        assert uow.histogram_parts.keys("q", "demo", "a1", "epochs") == ["q/a1/epochs/part-1"]


def test_injections_created_before_mapping_can_be_stored(database_url):
    # Objects built while the classes are plain (before start_mappers) have no ORM state:
    # the repository must still store them and set their ids and their detection's links.
    engine = make_engine(database_url)
    try:
        with SqlAlchemyUnitOfWork(make_session_factory(engine)) as unit:
            sources, lcs = _setup(unit, 1)
            unit.commit()
        ids = (sources[0].id, lcs[0].id)
        clear_mappers()
        inj = Injection("gaussian_dip", 59010.0, 59008.0, 59012.0, -0.3, 6.0, 1.0, recovered=True)
        inj.source_id, inj.lightcurve_id, inj.version = *ids, "a1"
        inj.detection = Detection(DIMMING, 59010.0, 59009.0, 59011.0, -6.5, 70.0, 0.4, 3, 100.0)
        start_mappers()
        with SqlAlchemyUnitOfWork(make_session_factory(engine)) as unit:
            unit.injections.add_many([inj])
            unit.commit()
            assert unit.injections.count("p", "a1", recovered=True) == 1
            assert unit.detections.count("p") == 0 and unit.detections.count("p", include_simulated=True) == 1
        det = inj.detection
        assert inj.id is not None and det.id is not None
        assert (det.injection_id, det.is_simulated, det.source_id, det.lightcurve_id, det.version) == (
            inj.id, True, *ids, "a1")
        inj.detection = None  # still a plain attribute
        assert inj.detection is None
    finally:
        engine.dispose()


def test_detections_for_sources_by_version_hide_simulated(session_factory):
    from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
    from virtualobserver.domain.detection import Detection
    from virtualobserver.domain.lightcurve import Lightcurve
    from virtualobserver.domain.source import Source
    import numpy as np

    uow = SqlAlchemyUnitOfWork(session_factory)
    with uow:
        uow.sources.add_many("p", [Source("a", 1.0, 2.0), Source("b", 3.0, 4.0)])
        sources = uow.sources.get_many("p", ["a", "b"])
        lcs = []
        for s in sources.values():
            lc = Lightcurve("demo", "g", 0, {c: np.arange(5.0) for c in
                                              ("mjd", "flux", "fluxerr", "mag", "magerr", "flag", "exptime")})
            lc.source_id, lc.version, lc.file, lc.key = s.id, "r1", "f.h5", "g_0"
            lcs.append(lc)
        uow.lightcurves.add_many(lcs)
        made = []
        for lc, simulated, version in ((lcs[0], False, "v1"), (lcs[0], True, "v1"), (lcs[1], False, "v2")):
            d = Detection("brightening", 2.0, 1.0, 3.0, 6.0, 10.0, -0.5, 3, 5.0, is_simulated=simulated)
            d.source_id, d.lightcurve_id, d.version = lc.source_id, lc.id, version
            made.append(d)
        uow.detections.add_many(made)
        uow.commit()
        a, b = sources["a"].id, sources["b"].id
        assert {k: len(v) for k, v in uow.detections.for_sources([a, b], "v1").items()} == {a: 1}
        assert len(uow.detections.for_sources([a], "v1", include_simulated=True)[a]) == 2
        assert uow.detections.for_sources([a, b], "v2")[b][0].lightcurve_id == lcs[1].id


@pytest.mark.parametrize("value", [
    {}, None, {"kind": "flare", "peak": 59010.25, "u0": None, "n": 3, "ok": True, "name": 'say "hi" ü'},
    {"bad": float("nan")}, {"big": float("-inf"), "x": 1.0}, {"rise": np.float64(0.25), "n": np.int64(3)},
    {"grid": [1, 2.5, None], "nested": {"k": (1, 2)}}, {2: "two", True: "t", None: "n", 1.5: "f"},
    {1: "int key", "1": "str key"}, types.MappingProxyType({"a": 1.0}), {"flag": np.bool_(False)},
])
def test_json_of_a_column_is_that_of_its_safe_value(value):
    from virtualobserver.adapters.postgres.bulk import JsonText
    from virtualobserver.adapters.postgres.rows import _json_safe, _json_text

    text = _json_text(value)
    assert type(text) is JsonText and text == json.dumps(_json_safe(dict(value or {})))


def test_expired_objects_are_read_through_the_mapping(uow):
    # Rows are read from __dict__ only when every attribute is loaded; expired ones load as usual.
    sources, lcs = _setup(uow, 1)
    uow.detections.add_many([_detection(lcs[0], 59005.0, quality={"seeing": 1.2})])
    uow.injections.add_many([_injection(lcs[0], 0)])
    uow.commit()
    uow.session.expunge_all()
    source = uow.sources.get_many("p", ["s0"])["s0"]
    lc = uow.lightcurves.for_sources([source.id], "demo", "r1")[source.id][0]
    det = uow.detections.list("p")[0]
    injected = uow.injections.list("p", "a1")[0]
    ids = (source.id, lc.id, det.id, injected.id)
    uow.session.expire_all()
    det.peak_flux = 131.0  # changed in the session, its other attributes expired
    uow.sources.add_many("p", [source])
    uow.lightcurves.add_many([lc])
    uow.injections.add_many([injected])
    uow.detections.add_many([det])
    uow.commit()
    assert (source.id, lc.id, det.id, injected.id) == ids
    uow.session.expunge_all()
    stored = uow.detections.list("p")
    assert [(d.id, d.peak_flux, d.snr, d.quality) for d in stored] == [(ids[2], 131.0, 7.5, {"seeing": 1.2})]
    assert uow.lightcurves.count("p") == 1 and uow.sources.count("p") == 1
    assert uow.injections.count("p", "a1") == 1
