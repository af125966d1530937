"""Scale features on a real PostgreSQL: cone search by HEALPix index, bulk step rows, done names, scores files."""

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from domain.healpix import INDEX_ORDER, angular_distance_deg, ang2pix_nested
from domain.source import Source
from domain.summary import SourceSummary


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
        expected = {f"c{i:04d}" for i in np.flatnonzero(angular_distance_deg(c_ra, c_dec, ra, dec) <= radius)}
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
