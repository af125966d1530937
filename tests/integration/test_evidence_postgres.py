"""vo evidence's use case on the real parts: PostgreSQL, the HDF5 stamps store and ZTF cutouts from a local IRSA.

A ZTF source with two real detections stored as the analyse step stores them: one at the neighbour's
flare of tests/integration/test_ztf_event_cube.py, one at the source's own. Gathering the evidence
stores a centroid shift that flags the first and not the second, and stamps read back from the file the
row points at; a second call asks IRSA nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.adapters.surveys.pixels.evidence import ZtfEvidence
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.source import Source
from virtualobserver.services.evidence import gather_evidence
from tests.integration.test_ztf_event_cube import DEC, NEIGHBOUR_FLARE, RA, SOURCE_FLARE, PointedIrsa, _mjd

SURVEY = SimpleNamespace(name="ztf", analysis_version="a1", reduction_version="r1")
CONFIG = SimpleNamespace(name="p", surveys=[SURVEY])


def _stored(session_factory) -> None:
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        source = Source("SN 2018hmx", RA, DEC)
        uow.sources.add_many("p", [source])
        n = 20
        lc = Lightcurve("ztf", "zr", 2018, dict(mjd=np.array([_mjd(k) for k in range(n)]), flux=np.full(n, 1.0),
                                               fluxerr=np.ones(n), mag=np.full(n, 20.0), magerr=np.full(n, 0.01),
                                               flag=np.zeros(n), exptime=np.full(n, 30.0)),
                        source_name=source.name, version="r1", time_scale="utc")
        lc.source_id, lc.file, lc.key = source.id, "r1.h5", "SN 2018hmx/zr/2018"
        uow.lightcurves.add_many([lc])
        detections = []
        for k in (NEIGHBOUR_FLARE, SOURCE_FLARE):
            det = Detection(BRIGHTENING, _mjd(k), _mjd(k) - 0.01, _mjd(k) + 0.01, 12.0, 4000.0, -1.2, 1, 1600.0)
            det.source_id, det.lightcurve_id, det.version = source.id, lc.id, "a1"
            detections.append(det)
        uow.detections.add_many(detections)
        uow.commit()


@pytest.fixture
def irsa_evidence(fake_archive, tmp_path):
    PointedIrsa(fake_archive)
    params = ZtfCutoutParameters(base_url=fake_archive.url, rate_limit_per_s=0.0, retries=1, backoff_s=0.0)
    evidence = ZtfEvidence(ZtfCutoutClient(params, cache=RawCache(tmp_path / "cache"), sleep=lambda s: None))
    yield evidence
    evidence.close()


def test_evidence_is_stored_on_the_detections_and_never_fetched_twice(session_factory, fake_archive, irsa_evidence,
                                                                      tmp_path):
    _stored(session_factory)
    store = Hdf5DataStore(root=tmp_path / "data")
    report = gather_evidence(lambda: SqlAlchemyUnitOfWork(session_factory), store, CONFIG, {"ztf": irsa_evidence})
    assert (report.measured, report.stamped, report.failed) == (2, 2, {})
    asked = len(fake_archive.requests)

    with SqlAlchemyUnitOfWork(session_factory) as uow:
        neighbours, own = uow.detections.list("p", "a1")
        # The neighbour's flare: light from 4 arcsec away; the source's own: from the source.
        assert neighbours.centroid_offset_sigma > 10 and neighbours.centroid_shift_arcsec is not None
        assert own.centroid_offset_sigma < 3
        stamps = store.load_stamps(neighbours.stamps_file, neighbours.stamps_key)
        assert stamps.peak_time == pytest.approx(_mjd(NEIGHBOUR_FLARE) + 15 / 86400)
        assert stamps.time_scale == "utc" and stamps.wcs_header["CTYPE1"] == "RA---TAN"
        assert own.stamps_file == neighbours.stamps_file and own.stamps_key != neighbours.stamps_key

    again = gather_evidence(lambda: SqlAlchemyUnitOfWork(session_factory), store, CONFIG, {"ztf": irsa_evidence})
    assert again.done_before == 2 and again.measured == 0 and len(fake_archive.requests) == asked
