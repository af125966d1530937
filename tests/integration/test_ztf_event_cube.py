"""A ZTF event's pixels: cutouts of the exposures around it on one grid, in µJy, against a local IRSA.

Twenty r-band exposures five days apart, each pointed a different fraction of a pixel off and with its
own zero point (MAGZP 26.0-26.6). The source is 1,000 µJy; a neighbour 4 arcsec east is 600 µJy and
flares by 3,000 µJy in exposure 5; the source itself flares by 3,000 µJy in exposure 15. Expected
values come from that model: the aligned, scaled frames hold the source's 1,000 µJy at the grid centre
whatever the pointing and zero point, and the light that changed in exposure 5 comes from 4 px east.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.adapters.surveys.pixels.ztf_event_cube import ztf_event_cube
from virtualobserver.adapters.surveys.pixels.ztf_ibe import MJD_TO_JD, ZtfExposure, science_image_path
from virtualobserver.domain.centroid_shift import event_centroid_shift
from virtualobserver.domain.source import Source
from tests.http_server import Reply
from tests.integration.test_ztf_cutouts import SEARCH, SHAPE, Irsa
from tests.pixel_files import ZTF_PIXEL_DEG, ibe_table, ztf_image

RA, DEC = 128.41389, 55.59812
COS_DEC = math.cos(math.radians(DEC))
SOURCE_UJY, NEIGHBOUR_UJY, FLARE_UJY = 1000.0, 600.0, 3000.0
NEIGHBOUR = (RA + 4.0 / 3600.0 / COS_DEC, DEC)  # 4 arcsec east
N, NEIGHBOUR_FLARE, SOURCE_FLARE = 20, 5, 15
FIRST_JD = 2458422.97
# Counts to µJy: x 10^(-0.4 (MAGZP - 23.9)); the images are in counts.
MAGZP = 26.0 + 0.6 * np.arange(N) / (N - 1)
ROWS = [dict(field=784, ccdid=10, qid=4, filtercode="zr", obsjd=FIRST_JD + 5.0 * k,
             filefracday=20181031470000 + 100 * k) for k in range(N)]


class PointedIrsa(Irsa):
    """IRSA over one image per exposure, each pointed off by a fraction of a pixel, in counts with a MAGZP."""

    def __init__(self, archive):
        self.rows, self.searches, self.images = ROWS, [], {}
        rng = np.random.default_rng(7)
        for k, row in enumerate(ROWS):
            exposure = ZtfExposure(784, 10, 4, "zr", row["obsjd"], str(row["filefracday"]))
            path = "/" + science_image_path(exposure)
            to_counts = 10.0 ** (0.4 * (MAGZP[k] - 23.9))
            source = SOURCE_UJY + (FLARE_UJY if k == SOURCE_FLARE else 0.0)
            neighbour = NEIGHBOUR_UJY + (FLARE_UJY if k == NEIGHBOUR_FLARE else 0.0)
            # ztf_image's stars are Gaussians of peak "flux": the total is 2 pi 1.5^2 times the peak.
            peak = to_counts / (2 * np.pi * 1.5 ** 2)
            off = rng.uniform(-0.5, 0.5, 2) * ZTF_PIXEL_DEG
            image = ztf_image(RA + off[0] / COS_DEC, DEC + off[1], shape=SHAPE, seed=100 + k,
                              stars=[(RA, DEC, source * peak), (*NEIGHBOUR, neighbour * peak)])
            image.header["MAGZP"], image.header["EXPTIME"] = float(MAGZP[k]), 30.0
            self.images[path] = image
            archive.route(path, self.cutout)
        archive.route(SEARCH, self.search)

    def search(self, request) -> Reply:
        self.searches.append(request.query)
        return Reply(body=ibe_table(self.rows), headers={"Content-Type": "text/plain"})


@pytest.fixture
def client(fake_archive, tmp_path):
    PointedIrsa(fake_archive)
    params = {"base_url": fake_archive.url, "rate_limit_per_s": 0.0, "retries": 1, "backoff_s": 0.0}
    made = ZtfCutoutClient(ZtfCutoutParameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)
    yield made
    made.close()


def _mjd(k: int) -> float:
    return ROWS[k]["obsjd"] - MJD_TO_JD


def test_the_frames_hold_the_source_in_microjansky_at_the_grid_centre(client):
    source = Source("SN 2018hmx", RA, DEC)
    event = ztf_event_cube(client, source, _mjd(10) - 0.01, _mjd(10) + 0.01, "zr", baseline_days=100.0)
    cube = event.cube
    assert cube.num_cadences == N and (cube.quality == 0).all()
    assert cube.target_pixel == ((cube.image_shape[0] - 1) / 2, (cube.image_shape[1] - 1) / 2)
    assert cube.pixel_scale_arcsec == pytest.approx(1.01, rel=1e-3)
    # The grid's WCS puts the source at the grid's centre (astropy, to a milliarcsecond).
    x, y = WCS(fits.Header(cube.wcs_header)).world_to_pixel_values(RA, DEC)
    assert (float(y), float(x)) == pytest.approx(cube.target_pixel, abs=1e-3 / 1.01)
    np.testing.assert_allclose(cube.times, [_mjd(k) + 15.0 / 86400.0 for k in range(N)], atol=1e-9)
    centre = np.array(cube.target_pixel)
    # A 5x5 box at the centre holds each star's light times the share of its sigma-1.5 px Gaussian inside it:
    # 1,000 µJy x 0.818 of the source, and of the neighbour (4 arcsec = 3.96 px off along a row) the wing
    # between 1.46 and 6.46 px: 600 µJy x 0.904 x 0.159; whatever the zero point. Frame noise is ~1 count.
    box = (slice(int(centre[0]) - 2, int(centre[0]) + 3), slice(int(centre[1]) - 2, int(centre[1]) + 3))
    inside = math.erf(2.5 / (1.5 * math.sqrt(2)))
    off = 4.0 / (ZTF_PIXEL_DEG * 3600.0)
    wing = 0.5 * (math.erf((off + 2.5) / (1.5 * math.sqrt(2))) - math.erf((off - 2.5) / (1.5 * math.sqrt(2))))
    expected = SOURCE_UJY * inside ** 2 + NEIGHBOUR_UJY * inside * wing
    quiet = [k for k in range(N) if k not in (SOURCE_FLARE, NEIGHBOUR_FLARE)]
    sums = np.array([np.asarray(cube.flux[k][box]).sum() for k in quiet])
    # Bilinear resampling spreads a pixel's light over its neighbours: a percent or two across the box edge.
    assert np.median(sums) == pytest.approx(expected, rel=0.03)
    assert sums.std() / sums.mean() < 0.05  # pointing and zero points taken out


def test_the_neighbours_flare_is_flagged_and_the_sources_is_not(client):
    source = Source("SN 2018hmx", RA, DEC)
    cube = ztf_event_cube(client, source, _mjd(NEIGHBOUR_FLARE) - 0.01, _mjd(NEIGHBOUR_FLARE) + 0.01, "zr")
    shift = event_centroid_shift(cube.cube, _mjd(NEIGHBOUR_FLARE) - 0.01, _mjd(NEIGHBOUR_FLARE) + 0.01,
                                 cube.bad_bits, min_baseline_days=cube.baseline_days,
                                 target_error_arcsec=cube.target_error_arcsec)
    assert shift.in_frames == 1 and shift.out_frames == 11  # the 5 exposures before, 6 of the 30 days after
    # The light that changed comes from the neighbour, 4 arcsec away, many errors from the source (the
    # error is mostly the 0.3 arcsec of the source's position).
    assert shift.offset_arcsec == pytest.approx(4.0, abs=3 * shift.offset_arcsec_error)
    assert shift.offset_significance > 10

    own = ztf_event_cube(client, source, _mjd(SOURCE_FLARE) - 0.01, _mjd(SOURCE_FLARE) + 0.01, "zr")
    mine = event_centroid_shift(own.cube, _mjd(SOURCE_FLARE) - 0.01, _mjd(SOURCE_FLARE) + 0.01, own.bad_bits,
                                min_baseline_days=own.baseline_days, target_error_arcsec=own.target_error_arcsec)
    assert mine.offset_arcsec < 3 * mine.offset_arcsec_error
    assert mine.offset_significance < 3


def test_only_the_exposures_around_the_event_are_cut(fake_archive, client):
    source = Source("SN 2018hmx", RA, DEC)
    event = ztf_event_cube(client, source, _mjd(10) - 0.01, _mjd(10) + 0.01, "zr", baseline_days=12.0)
    assert [f.obsjd for f in event.files] == [ROWS[k]["obsjd"] for k in (8, 9, 10, 11, 12)]
    assert len([r for r in fake_archive.requests if r.path.startswith("/ibe/data/")]) == 5
    assert ztf_event_cube(client, source, _mjd(10) - 0.01, _mjd(10) + 0.01, "zg") is None
