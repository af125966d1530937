"""The analyse step's pixel evidence: stamps of the real detections of image lightcurves go to the store and are linked.

A hand-built cube (constant frames, one pixel brightened by 50 at frame 20) stands for the survey's images;
the data store and the unit of work are the fakes of ``tests/fakes.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from virtualobserver.domain.detection import Detection
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source
from virtualobserver.services.pixel_evidence import measure_pixel_evidence
from tests.fakes import FakeDataStore, FakeState, FakeUnitOfWork

WCS = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 3.0, "CRPIX2": 2.0, "CRVAL1": 10.0, "CRVAL2": 20.0}


def _cube() -> PixelCube:
    n = 40
    times = 59000.0 + np.arange(n) * 0.1
    flux = np.repeat(np.arange(12, dtype=float).reshape(3, 4)[None], n, axis=0)
    flux[20, 1, 2] += 50.0
    return PixelCube(times=times, flux=flux, flux_err=np.ones_like(flux), quality=np.zeros(n, dtype=int),
                     target_pixel=(1.0, 2.0), pixel_scale_arcsec=3.98, wcs_header=WCS)


class _Client:
    has_images = True

    def __init__(self, cubes):
        self.cubes = cubes

    def pixel_cubes(self, raw):
        return self.cubes


def _detection(peak: float, *, simulated: bool = False) -> Detection:
    return Detection("brightening", peak, peak, peak, 10.0, 60.0, -1.0, 1, 10.0, is_simulated=simulated)


def _analysed(detections, band="Kepler"):
    lightcurve = SimpleNamespace(filter=band, season=18, time_scale="tdb")
    return [(Source("S1", 10.0, 20.0), [SimpleNamespace(lightcurve=lightcurve, detections=detections)])]


def _carried():
    return {"S1": RawData("k2", "S1", "v1", {"mjd": np.zeros(1)})}


SURVEY = SimpleNamespace(name="k2", download_version="v1", analysis_version="a1")


def test_real_detections_get_stamps_in_one_file_of_the_store_and_simulated_ones_none():
    store = FakeDataStore()
    real, other, simulated = _detection(59002.0), _detection(59002.5), _detection(59002.0, simulated=True)
    measure_pixel_evidence(FakeUnitOfWork(FakeState()), store, _Client({("Kepler", 18): (_cube(), 0)}), SURVEY, "p",
                           _analysed([real, other, simulated]), _carried())
    assert store.writes == 1
    assert real.stamps_file == other.stamps_file is not None and real.stamps_key != other.stamps_key
    assert simulated.stamps_file is None and simulated.stamps_key is None
    stamps = store.load_stamps(real.stamps_file, real.stamps_key)
    expected = np.zeros((3, 4))
    expected[1, 2] = 50.0
    np.testing.assert_array_equal(stamps.difference, expected)
    assert stamps.peak_time == pytest.approx(59002.0)
    assert stamps.time_scale == "tdb" and stamps.wcs_header == WCS and stamps.target_pixel == (1.0, 2.0)
    # The same event measured for the centroid shift (it needs no stamps to be stored).
    assert real.centroid_shift_px is not None


def test_no_stamps_and_no_file_for_a_lightcurve_without_images():
    store = FakeDataStore()
    detection = _detection(59002.0)
    measure_pixel_evidence(FakeUnitOfWork(FakeState()), store, _Client({("Kepler", 18): (_cube(), 0)}), SURVEY, "p",
                           _analysed([detection], band="Kepler-short"), _carried())
    assert store.writes == 0 and detection.stamps_file is None


def test_a_survey_without_images_is_left_alone():
    store, detection = FakeDataStore(), _detection(59002.0)
    client = _Client({("Kepler", 18): (_cube(), 0)})
    client.has_images = False
    assert measure_pixel_evidence(FakeUnitOfWork(FakeState()), store, client, SURVEY, "p", _analysed([detection]),
                                  _carried()) == 0
    assert store.writes == 0 and detection.stamps_file is None
