"""vo evidence's use case over fakes: real detections without evidence get a centroid shift and stamps, once.

A hand-built cube (constant frames, one pixel brightened by 50 at the event's frame) stands for the pixels
the survey sends; the unit of work and the data store are the fakes of ``tests/fakes.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from virtualobserver.domain.detection import Detection
from virtualobserver.domain.errors import DataError, TransientSurveyError
from virtualobserver.domain.evidence import EventPixels
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.source import Source
from virtualobserver.services.evidence import gather_evidence
from virtualobserver.services.evidence_ports import EventPixelsSource
from tests.fakes import FakeDataStore, FakeState, FakeUnitOfWork

SURVEY = SimpleNamespace(name="ztf", analysis_version="a1", reduction_version="r1")
CONFIG = SimpleNamespace(name="p", surveys=[SURVEY])


def _cube() -> PixelCube:
    n = 40
    flux = np.repeat(np.arange(12, dtype=float).reshape(3, 4)[None], n, axis=0)
    flux[20, 1, 2] += 50.0
    return PixelCube(times=59000.0 + np.arange(n) * 0.1, flux=flux, flux_err=np.ones_like(flux),
                     quality=np.zeros(n, dtype=int), target_pixel=(1.0, 2.0), pixel_scale_arcsec=1.0)


class Pixels(EventPixelsSource):
    """Sends the cube for S1's events, nothing for S2's, and fails for the names in ``failing``."""

    survey = "ztf"

    def __init__(self, failing=()):
        self.asked, self.failing = [], set(failing)

    def event_pixels(self, source, lightcurve_filter, season, start, end):
        self.asked.append((source.name, lightcurve_filter, season, start))
        if source.name in self.failing:
            raise TransientSurveyError(f"ztf: {source.name}: IRSA answered 503 three times")
        return EventPixels(_cube(), 0) if source.name == "S1" else None

    def close(self):
        pass


def _state() -> FakeState:
    state = FakeState()
    for name in ("S1", "S2", "S3"):
        source = Source(name, 10.0, 20.0)
        source.id = next(state.ids)
        state.sources[("p", name)] = source
        lc = SimpleNamespace(id=next(state.ids), source_id=source.id, survey="ztf", version="r1", filter="zr",
                             season=2019, time_scale="utc")
        state.lightcurves.append(lc)
        if name == "S3":
            continue  # no detection
        for peak, simulated in ((59002.0, False), (59002.0, True)):
            d = Detection("brightening", peak, peak, peak, 10.0, 60.0, -1.0, 1, 10.0, is_simulated=simulated)
            d.id, d.source_id, d.lightcurve_id, d.version = next(state.ids), source.id, lc.id, "a1"
            state.detections.append(d)
    return state


def _real(state, name):
    sid = state.sources[("p", name)].id
    return [d for d in state.detections if d.source_id == sid and not d.is_simulated]


def test_real_detections_get_the_evidence_and_a_second_call_asks_nothing():
    state, store, pixels = _state(), FakeDataStore(), Pixels()
    report = gather_evidence(lambda: FakeUnitOfWork(state), store, CONFIG, {"ztf": pixels})
    assert (report.measured, report.stamped, report.without_pixels, report.failed) == (1, 1, 1, {})
    assert pixels.asked == [("S1", "zr", 2019, 59002.0), ("S2", "zr", 2019, 59002.0)]  # S3 has no detection
    [d] = _real(state, "S1")
    assert d.centroid_offset_sigma is not None and d.stamps_file is not None
    expected = np.zeros((3, 4))
    expected[1, 2] = 50.0
    stamps = store.load_stamps(d.stamps_file, d.stamps_key)
    np.testing.assert_array_equal(stamps.difference, expected)
    assert stamps.time_scale == "utc"
    assert all(x.stamps_file is None for x in state.detections if x.is_simulated)

    again = gather_evidence(lambda: FakeUnitOfWork(state), store, CONFIG, {"ztf": pixels})
    assert again.done_before == 1 and again.measured == 0
    assert pixels.asked[2:] == [("S2", "zr", 2019, 59002.0)]  # S2 had no images: asked again, S1 not


def test_a_source_whose_archive_fails_keeps_nothing_and_is_reported():
    state, store = _state(), FakeDataStore()
    report = gather_evidence(lambda: FakeUnitOfWork(state), store, CONFIG, {"ztf": Pixels(failing={"S1"})})
    assert report.failed == {"S1": "ztf: S1: IRSA answered 503 three times"}
    [d] = _real(state, "S1")
    assert d.stamps_file is None and d.centroid_offset_sigma is None and store.writes == 0


def test_names_and_limit_choose_the_sources_and_an_unknown_name_is_an_error():
    state, pixels = _state(), Pixels()
    gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {"ztf": pixels}, names=["S2"])
    assert [a[0] for a in pixels.asked] == ["S2"]
    gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {"ztf": pixels}, limit=1, redo=True)
    assert [a[0] for a in pixels.asked] == ["S2", "S1"]
    with pytest.raises(DataError, match="no source named 'NOPE'"):
        gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {"ztf": pixels}, names=["NOPE"])


def test_a_survey_without_a_pixel_source_is_skipped():
    state = _state()
    report = gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {})
    assert report.as_dict() == {"measured": 0, "stamped": 0, "without_pixels": 0, "done_before": 0, "failed": {}}
    # Skipped or not, an unknown name is an error (it used to be "nothing to do" and exit 0).
    with pytest.raises(DataError, match="no source named 'NOPE'"):
        gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {}, names=["S1", "NOPE"])


def test_progress_counts_each_source_and_its_failure():
    from tests.fakes import RecordingProgress

    state, progress = _state(), RecordingProgress()
    gather_evidence(lambda: FakeUnitOfWork(state), FakeDataStore(), CONFIG, {"ztf": Pixels(failing={"S1"})},
                    progress=progress)
    assert progress.events == [("start", "ztf:evidence", 2), ("advance", "ztf:evidence", 1, 0, 1),
                               ("advance", "ztf:evidence", 1, 0, 0), ("finish", "ztf:evidence")]
