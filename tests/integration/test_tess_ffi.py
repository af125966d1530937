"""TESS lightcurves from full-frame images: ``lightcurve_source: ffi | both`` against a local MAST and TESScut.

The cutouts are synthetic TESScut files as MAST sends them (a zip per sector, the images keeping the
sky, FLUX_BKG all zero): a Gaussian star of 5,000 e-/s on a sky of 10 e-/s per pixel with unit noise.
The expected flux is the noiseless star summed over the aperture, from the model, not from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.surveys.tess import TessParameters, VirtualTESS
from virtualobserver.domain.photometry import choose_aperture
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source
from tests.integration.test_tess_client import FILE_NAME, TIC, Mast, _tic_row
from tests.integration.test_tesscut_downloads import ASTROCUT, BASE, Tesscut
from tests.pixel_files import pixel_cube_bytes, tesscut_name
from tests.unit.test_tess_format import write_spoc_lc

RA, DEC = 51.1119, -77.4515
SIZE, STAR, SKY = 11, 5000.0, 10.0


class SkyKeepingTesscut(Tesscut):
    """TESScut whose cutouts keep the sky in their images, as the real ones do (FLUX_BKG zero)."""

    def members(self, query) -> dict[str, bytes]:
        sector, rows, cols = int(query["sector"][0]), int(query["y"][0]), int(query["x"][0])
        ra, dec = float(query["ra"][0]), float(query["dec"][0])
        return {tesscut_name(sector, cam, ccd, ra, dec, cols, rows):
                pixel_cube_bytes(mission="tesscut", n=120, rows=rows, cols=cols, ra=ra, dec=dec, target_id=None,
                                 season=sector, camera=cam, ccd=ccd, star_flux=STAR, flux_bkg=0.0, seed=sector)
                for cam, ccd in self.sectors[sector]}


@pytest.fixture
def world(fake_archive, tmp_path):
    spoc = write_spoc_lc(tmp_path / FILE_NAME, tic=TIC).read_bytes()
    mast = Mast(fake_archive, [_tic_row(TIC, RA, DEC, 14.3)], {TIC: [(FILE_NAME, spoc)]})
    SkyKeepingTesscut(fake_archive, {7: [(1, 3)], 8: [(1, 3)]})
    return mast


def _client(archive, tmp_path, **params):
    params = {"base_url": archive.url, "ffi_url": archive.url + BASE, "rate_limit_per_s": 0.0, "retries": 2,
              "backoff_s": 0.0, "ffi_size_px": SIZE, **params}
    return VirtualTESS(TessParameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)


def _star_in(aperture: np.ndarray) -> float:
    """The noiseless star of tests.pixel_files.pixel_cube_bytes, summed over an aperture."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    star = STAR * np.exp(-((yy - (SIZE - 1) / 2) ** 2 + (xx - (SIZE - 1) / 2) ** 2) / 2.0) / (2 * np.pi)
    return float(star[aperture].sum())


def test_ffi_lightcurves_are_the_star_without_the_sky(fake_archive, world, tmp_path):
    client = _client(fake_archive, tmp_path, lightcurve_source="ffi")
    raw = client.download(Source("M dwarf", RA, DEC, mag=14.0))
    assert raw.meta["tic_id"] == TIC
    assert [e["file"].split("_")[0] for e in raw.meta["files"]] == ["tess-s0007-1-3", "tess-s0008-1-3"]
    assert not [r for r in fake_archive.requests if "Download" in r.path]  # no SPOC file asked for
    lcs = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.season, lc.num_epochs) for lc in lcs] == [("TESS-FFI", 7, 120), ("TESS-FFI", 8, 120)]
    cubes = client.pixel_cubes(raw)
    for lc in lcs:
        cube, mask = cubes[(lc.filter, lc.season)]
        aperture, kind = choose_aperture(cube, mask)
        assert kind == "threshold" and 1 < aperture.sum() < SIZE * SIZE / 2
        flux = np.asarray(lc.columns["flux"])
        # Without the sky subtracted the mean would be off by SKY x aperture pixels (>= 20 e-/s, 20 errors).
        assert flux.mean() == pytest.approx(_star_in(aperture), abs=4 * flux.std() / np.sqrt(flux.size))
        assert np.asarray(lc.columns["fluxerr"]).mean() == pytest.approx(flux.std(), rel=0.25)


def test_both_sources_give_spoc_and_ffi_lightcurves_and_stored_cutouts_are_not_fetched_again(fake_archive, world,
                                                                                              tmp_path):
    client = _client(fake_archive, tmp_path, lightcurve_source="both")
    raw = client.download(Source("M dwarf", RA, DEC, mag=14.0))
    lcs = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.season) for lc in lcs] == [("TESS-FFI", 7), ("TESS", 7), ("TESS-FFI", 8)]  # by sector, longest cadence first
    assert sorted(raw.images) == ["aperture_s0007", "aperture_s0007_ffi", "aperture_s0008_ffi",
                                  "flux_err_s0007_ffi", "flux_err_s0008_ffi", "flux_s0007_ffi", "flux_s0008_ffi"]
    cutouts = len([r for r in fake_archive.requests if r.path == ASTROCUT])
    assert cutouts == 2

    again = _client(fake_archive, tmp_path, lightcurve_source="both").download(Source("M dwarf", RA, DEC, mag=14.0))
    assert len([r for r in fake_archive.requests if r.path == ASTROCUT]) == cutouts  # read from the cache
    np.testing.assert_array_equal(again.images["flux_s0008_ffi"], raw.images["flux_s0008_ffi"])
    offline = _client(fake_archive, tmp_path, lightcurve_source="ffi", offline=True)
    assert offline.download(Source("M dwarf", RA, DEC, mag=14.0)).num_epochs == 240


def test_the_histogram_filters_follow_the_lightcurve_source():
    filters = {which: TessParameters(lightcurve_source=which).section_defaults()["histograms"]["filters"]
               for which in ("spoc", "ffi", "both")}
    assert filters == {"spoc": ["TESS"], "ffi": ["TESS-FFI"], "both": ["TESS", "TESS-FFI"]}
