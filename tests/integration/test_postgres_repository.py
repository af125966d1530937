"""SQLAlchemy repositories on a real PostgreSQL: round trips, uniqueness and hidden simulations."""

import numpy as np
import pytest
from sqlalchemy import func, select

from virtualobserver.adapters.postgres.engine import make_engine, make_session_factory
from virtualobserver.adapters.postgres.orm import clear_mappers, start_mappers
from virtualobserver.adapters.postgres.orm import raw_data as raw_data_table
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.lightcurve import LIGHTCURVE_COLUMNS, Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source


@pytest.fixture
def uow(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as unit:
        yield unit


def _sources(n=3):
    return [Source(f"s{i}", 10.0 + i, -5.0 + i, mag=15.0 + i, parallax=None if i else 2.5) for i in range(n)]


def _lightcurve(source, filter_="g", season=0, n=20):
    rng = np.random.default_rng(1)
    mjd = 59000.0 + np.arange(n)
    flux = 100.0 + rng.normal(0, 1, n)
    columns = dict(
        mjd=mjd, flux=flux, fluxerr=np.ones(n), mag=25 - 2.5 * np.log10(flux), magerr=np.full(n, 0.01),
        flag=np.zeros(n), exptime=np.full(n, 30.0),
    )
    assert set(columns) == set(LIGHTCURVE_COLUMNS)
    lc = Lightcurve("demo", filter_, season, columns, source_name=source.name, version="r1")
    lc.source_id = source.id
    lc.file, lc.key = "reduced.h5", f"{source.name}/{filter_}/{season}"
    return lc


def _detection(lc, peak, simulated=False):
    det = Detection(BRIGHTENING if not simulated else DIMMING, peak, peak - 1, peak + 1, 7.5, 130.0, -0.3, 3, 100.0,
                    is_simulated=simulated)
    det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, "a1"
    return det


def test_sources_round_trip(uow):
    assert uow.sources.add_many("p", _sources()) == 3
    uow.commit()
    loaded = uow.sources.list("p")
    assert all(isinstance(s, Source) for s in loaded)
    assert loaded == [Source(f"s{i}", 10.0 + i, -5.0 + i, project="p") for i in range(3)]
    assert loaded[0].parallax == 2.5 and loaded[1].parallax is None and loaded[2].mag == 17.0
    assert uow.sources.list("p", limit=1, offset=1)[0].name == "s1"
    assert set(uow.sources.get_many("p", ["s2", "s0", "missing"])) == {"s0", "s2"}
    assert uow.sources.count("p") == 3 and uow.sources.count("other") == 0


def test_adding_sources_twice_gives_no_duplicates(uow):
    first = _sources()
    assert uow.sources.add_many("p", first) == 3
    again = _sources(5) + [Source("s4", 0, 0)]
    assert uow.sources.add_many("p", again) == 2
    uow.commit()
    assert uow.sources.count("p") == 5
    assert [s.id for s in again[:3]] == [s.id for s in first]  # ids are filled for old sources too
    assert uow.session.scalar(select(func.count()).select_from(sources_table)) == 5


def test_same_names_in_two_projects_are_distinct(uow):
    uow.sources.add_many("p", _sources(2))
    uow.sources.add_many("q", _sources(2))
    assert uow.sources.get_many("p", ["s0"])["s0"].id != uow.sources.get_many("q", ["s0"])["s0"].id
    assert uow.sources.get_many("q", ["s0"])["s0"].project == "q"


def test_raw_data_is_shared_across_projects(uow):
    uow.sources.add_many("p", _sources(3))
    uow.sources.add_many("q", _sources(2))
    raws = [RawData("demo", f"s{i}", "d1", {"t": np.arange(4)}, ra=1.0, dec=2.0) for i in range(3)]
    for raw in raws:
        raw.file, raw.key = "raw.h5", raw.source_name
    uow.raw_data.add_many(raws)
    uow.raw_data.add_many([RawData("demo", "s0", "d1", {"t": np.arange(9)})])  # left as it is
    uow.commit()
    assert uow.session.scalar(select(func.count()).select_from(raw_data_table)) == 3
    assert uow.raw_data.count_for_project("p", "demo", "d1") == 3
    assert uow.raw_data.count_for_project("q", "demo", "d1") == 2
    assert uow.raw_data.count_for_project("q", "demo", "d2") == 0
    uow.session.expunge_all()
    loaded = uow.raw_data.get_many("demo", "d1", ["s0", "s1", "nope"])
    assert set(loaded) == {"s0", "s1"}
    s0 = loaded["s0"]
    assert isinstance(s0, RawData) and not s0.is_loaded
    assert (s0.num_epochs, s0.file, s0.key, s0.ra, s0.id) == (4, "raw.h5", "s0", 1.0, raws[0].id)


def test_lightcurves_round_trip(uow):
    sources = _sources(2)
    uow.sources.add_many("p", sources)
    lcs = [_lightcurve(sources[0], "g"), _lightcurve(sources[0], "r"), _lightcurve(sources[1], "g", 1)]
    uow.lightcurves.add_many(lcs)
    uow.commit()
    assert all(lc.id is not None for lc in lcs)
    uow.session.expunge_all()
    found = uow.lightcurves.for_sources([sources[0].id, sources[1].id, 999], "demo", "r1")
    assert [lc.filter for lc in found[sources[0].id]] == ["g", "r"] and found[999] == []
    loaded = found[sources[1].id][0]
    assert isinstance(loaded, Lightcurve) and not loaded.is_loaded
    assert loaded.summary() == pytest.approx(lcs[2].summary())
    assert (loaded.season, loaded.source_name, loaded.key, loaded.version) == (1, "s1", "s1/g/1", "r1")
    assert loaded.label == "s1/demo/g/season1"
    assert uow.lightcurves.count("p") == 3 and uow.lightcurves.count("p", "other") == 0


def test_readding_a_lightcurve_updates_it(uow):
    (source,) = _sources(1)
    uow.sources.add_many("p", [source])
    first = _lightcurve(source)
    uow.lightcurves.add_many([first])
    second = _lightcurve(source, n=10)
    second.file = "new.h5"
    uow.lightcurves.add_many([second])
    uow.commit()
    uow.session.expunge_all()
    (loaded,) = uow.lightcurves.for_sources([source.id], "demo", "r1")[source.id]
    assert second.id == first.id and (loaded.file, loaded.num_epochs) == ("new.h5", 10)


def test_lightcurve_without_source_id_is_refused(uow):
    lc = _lightcurve(Source("x", 0, 0))
    with pytest.raises(ValueError, match="needs source_id"):
        uow.lightcurves.add_many([lc])


def test_detections_round_trip_and_simulated_hidden(uow):
    sources = _sources(2)
    uow.sources.add_many("p", sources)
    lcs = [_lightcurve(sources[1]), _lightcurve(sources[0])]
    uow.lightcurves.add_many(lcs)
    real = [_detection(lcs[0], 59005.0), _detection(lcs[1], 59010.0), _detection(lcs[1], 59003.0)]
    simulated = [_detection(lcs[1], 59003.0, simulated=True)]  # same peak as a real one: both kept
    uow.detections.add_many(real + simulated)
    uow.detections.add_many(real[:1])  # a repeat updates, never duplicates
    uow.commit()
    uow.session.expunge_all()
    shown = uow.detections.list("p")
    assert all(isinstance(d, Detection) for d in shown)
    assert [(d.source_id, d.peak_mjd) for d in shown] == [
        (sources[0].id, 59003.0), (sources[0].id, 59010.0), (sources[1].id, 59005.0)
    ]
    assert not any(d.is_simulated for d in shown)
    assert uow.detections.count("p") == 3 and uow.detections.count("p", include_simulated=True) == 4
    every = uow.detections.list("p", "a1", include_simulated=True)
    assert [d.is_simulated for d in every].count(True) == 1
    assert uow.detections.count("p", "other-version") == 0
    d = shown[0]
    assert (d.kind, d.snr, d.delta_mag, d.num_epochs, d.version) == (BRIGHTENING, 7.5, -0.3, 3, "a1")


def test_steps_and_failures(uow):
    sources = _sources(3)
    uow.sources.add_many("p", sources)
    ids = [s.id for s in sources]
    uow.steps.mark_done("download", "demo", "d1", {ids[0]: 1, ids[1]: 0})
    uow.steps.mark_done("download", "demo", "d1", {ids[0]: 2})  # repeating is harmless
    assert uow.steps.done("download", "demo", "d1", ids) == {ids[0], ids[1]}
    assert uow.steps.done("download", "demo", "d2", ids) == set()
    assert uow.steps.count_done("p", "download", "demo", "d1") == 2
    uow.steps.record_failures("download", "demo", "d1", {ids[2]: "timeout"})
    uow.steps.record_failures("download", "demo", "d1", {ids[2]: "HTTP 500"})
    assert [(n, st, su, m) for n, st, su, _, m in uow.steps.failures("p")] == [("s2", "download", "demo", "HTTP 500")]
    uow.steps.clear_failures("download", "demo", [ids[2]])
    uow.commit()
    assert uow.steps.failures("p") == []


def test_objects_created_before_mapping_can_be_stored(database_url):
    # A catalog is often read before the database is opened (and the mappers started).
    clear_mappers()
    sources = _sources(2)
    raws = [RawData("demo", s.name, "d1", {"t": np.arange(3)}) for s in sources]
    try:
        start_mappers()
        engine = make_engine(database_url)
        with SqlAlchemyUnitOfWork(make_session_factory(engine)) as unit:
            assert unit.sources.add_many("p", sources) == 2
            unit.raw_data.add_many(raws)
            lc = _lightcurve(sources[0])
            unit.lightcurves.add_many([lc])
            unit.detections.add_many([_detection(lc, 59001.0)])
            unit.commit()
            assert unit.detections.count("p") == 1 and raws[1].id is not None
        assert sources[1].id is not None and sources[1].project == "p"
        engine.dispose()
    finally:
        clear_mappers()


def test_position_epoch_and_time_scale_round_trip(uow):
    sources = [Source("gaia", 10.0, 20.0, pmra=100.0, pmdec=-50.0, epoch=2016.0), Source("plain", 11.0, 21.0)]
    uow.sources.add_many("p", sources)
    lc = _lightcurve(sources[0], "TESS", 1)
    lc.time_scale = "tdb"
    uow.lightcurves.add_many([lc, _lightcurve(sources[1])])
    uow.commit()
    uow.session.expunge_all()
    loaded = {s.name: s for s in uow.sources.list("p")}
    assert loaded["gaia"].epoch == 2016.0 and loaded["plain"].epoch is None
    found = uow.lightcurves.for_sources([s.id for s in sources], "demo", "r1")
    assert found[sources[0].id][0].time_scale == "tdb" and found[sources[1].id][0].time_scale == "utc"


@pytest.mark.parametrize("write", ["sources", "steps done", "mark done"])
def test_a_connection_lost_under_bulk_rows_is_reported_as_lost(write, session_factory, database_url):
    # Rows go through the driver's cursor, past SQLAlchemy: a lost server must still invalidate the
    # connection and reach the unit of work as SQLAlchemy's OperationalError (the batch is retried).
    from sqlalchemy import create_engine, text

    from virtualobserver.domain.errors import DatabaseConnectionLost

    calls = {
        "sources": lambda uow: uow.sources.add_many("p", _sources(3)),
        "steps done": lambda uow: uow.steps.done("download", "demo", "d1", [1, 2]),
        "mark done": lambda uow: uow.steps.mark_done("download", "demo", "d1", {1: 1}),
    }
    with pytest.raises(DatabaseConnectionLost):
        with SqlAlchemyUnitOfWork(session_factory) as uow:
            connection = uow.session.connection()
            pid = uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            admin = create_engine(database_url)
            try:
                with admin.connect() as other:
                    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            finally:
                admin.dispose()
            try:
                calls[write](uow)
            finally:
                invalidated = connection.invalidated
    assert invalidated
    with SqlAlchemyUnitOfWork(session_factory) as uow:  # the pool hands out a live connection again
        assert uow.sources.add_many("p", _sources(3)) == 3
