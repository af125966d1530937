"""Pixels fetched for a detection after the search: a TESS target pixel file of one sector, ZTF cutouts.

Against the local archive playing MAST and IRSA. The TESS target has files for sectors 1 and 2; an event
in sector 2 fetches that file only. The ZTF event is the neighbour's flare of test_ztf_event_cube: its
centroid shift flags it and its difference stamp is brightest at the neighbour.
"""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.surveys.pixels.evidence import TargetPixelEvidence, ZtfEvidence
from virtualobserver.adapters.surveys.pixels.mast_pixels import TessTargetPixels
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.adapters.surveys.tess import TessParameters
from virtualobserver.domain.evidence import measure_event
from virtualobserver.domain.source import Source
from tests.integration.test_tpf_downloads import TESS_DEC, TESS_RA, TIC, Mast, _downloads
from tests.integration.test_ztf_event_cube import NEIGHBOUR, NEIGHBOUR_FLARE, RA, DEC, PointedIrsa, _mjd
from tests.pixel_files import pixel_cube_bytes


def _stem(sector: int) -> str:
    return f"tess2018206045859-s{sector:04d}-{TIC:016d}-0120-s"


@pytest.fixture
def tess(fake_archive, tmp_path):
    files = {sector: pixel_cube_bytes(mission="tess", n=60, rows=11, cols=11, target_id=TIC, season=sector,
                                      ra=TESS_RA, dec=TESS_DEC) for sector in (1, 2)}
    Mast(fake_archive, collection="TESS", target_name=str(TIC), ra=TESS_RA, dec=TESS_DEC,
         products=[(f"{_stem(s)}_tp.fits", body, "TP", "Target pixel files") for s, body in files.items()])
    params = TessParameters(base_url=fake_archive.url, rate_limit_per_s=0.0, retries=1, backoff_s=0.0)
    source = TargetPixelEvidence(TessTargetPixels(params, cache=RawCache(tmp_path / "cache"), sleep=lambda s: None))
    yield source
    source.close()


def test_an_events_sector_is_the_only_target_pixel_file_fetched(fake_archive, tess):
    star = Source("M dwarf", TESS_RA, TESS_DEC)
    # pixel_cube_bytes: 60 frames of 200 s from BTJD 2240 (MJD = BTJD + 57000 - 0.5).
    start = 2240.0 + 56999.5 + 20 * 200 / 86400
    pixels = tess.event_pixels(star, "TESS", 2, start, start + 400 / 86400)
    assert _downloads(fake_archive) == [f"{_stem(2)}_tp.fits"]
    assert pixels.files == (f"{_stem(2)}_tp.fits",) and pixels.cube.num_cadences == 60
    assert pixels.cube.times[0] == pytest.approx(2240.0 + 56999.5)
    assert pixels.cube.target_pixel == pytest.approx((5.0, 5.0), abs=1e-6)  # the star is at the middle pixel
    # The next detection of that sector reads the stored file: nothing more is fetched.
    tess.event_pixels(star, "TESS", 2, start + 0.1, start + 0.2)
    assert len(_downloads(fake_archive)) == 1
    assert tess.event_pixels(star, "TESS", 3, start, start + 0.01) is None


def test_a_ztf_neighbours_flare_is_flagged_and_its_difference_stamp_points_at_it(fake_archive, tmp_path):
    PointedIrsa(fake_archive)
    params = ZtfCutoutParameters(base_url=fake_archive.url, rate_limit_per_s=0.0, retries=1, backoff_s=0.0)
    ztf = ZtfEvidence(ZtfCutoutClient(params, cache=RawCache(tmp_path / "cache"), sleep=lambda s: None))
    try:
        start, end = _mjd(NEIGHBOUR_FLARE) - 0.01, _mjd(NEIGHBOUR_FLARE) + 0.01
        pixels = ztf.event_pixels(Source("SN 2018hmx", RA, DEC), "zr", 2018, start, end)
        shift, stamps = measure_event(pixels, start, end, _mjd(NEIGHBOUR_FLARE))
    finally:
        ztf.close()
    assert shift.offset_significance > 10 and shift.offset_arcsec == pytest.approx(4.0, abs=0.5)
    assert stamps.peak_time == pytest.approx(_mjd(NEIGHBOUR_FLARE) + 15 / 86400)
    # The brightest pixel of the difference is the neighbour's, 4 arcsec (3.96 px) from the centre.
    row, col = np.unravel_index(np.nanargmax(stamps.difference), stamps.difference.shape)
    assert np.hypot(row - pixels.cube.target_pixel[0], col - pixels.cube.target_pixel[1]) == pytest.approx(3.96, abs=0.6)
    assert stamps.reference_frames == 11 and NEIGHBOUR[0] > RA
