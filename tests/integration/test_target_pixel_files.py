"""Target pixel files read into pixel cubes and reduced to lightcurves: the real K2 file and a synthetic one.

The expected lightcurve is computed here with astropy as lightkurve 2.6 defines
``KeplerTargetPixelFile.to_lightcurve(aperture_mask="pipeline")``: cadences with a bit of
lightkurve's default Kepler bitmask (1130799) left out, the FLUX images summed over the APERTURE
pixels with bit 2 (NaN pixels skipped, NaN when all are), errors as the root of the summed squared
FLUX_ERR. Compared with lightkurve itself (lightkurve 2.6.0 in a side environment, 2026-12-07) on the
real file: the same 2371 good cadences, times equal (difference 0.0 d), fluxes within 5.9e-8 and errors
within 1.1e-7 relative (lightkurve sums the float32 images in float32, this project in float64). The
test against lightkurve runs where lightkurve is installed (the ``interop`` extra).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from virtualobserver.adapters.surveys.kepler import VirtualK2
from virtualobserver.adapters.surveys.kepler_format import K2
from virtualobserver.adapters.surveys.pixel_format import is_pixel_file, read_pixel_file
from virtualobserver.adapters.surveys.spoc_format import NAN_FLAG
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.reduction import ReductionParameters

TPF_REAL = "ktwo211983544-c18_lpd-targ.fits"
#: lightkurve's KeplerQualityFlags.DEFAULT_BITMASK.
LK_DEFAULT_BITMASK = 1130799
BKJD_TO_MJD = 2454833 - 2400000.5


def expected_lightcurve(path: Path) -> dict[str, np.ndarray]:
    """The pipeline-aperture lightcurve of a target pixel file, from astropy, as lightkurve defines it."""
    with fits.open(path) as hdus:
        data = hdus[1].data
        good = (data["QUALITY"] & LK_DEFAULT_BITMASK) == 0
        aperture = (hdus["APERTURE"].data & 2) > 0
        flux = data["FLUX"][good][:, aperture].astype(np.float64)
        flux_err = data["FLUX_ERR"][good][:, aperture].astype(np.float64)
        total = np.nansum(flux, axis=1)
        total[~np.isfinite(flux).any(axis=1)] = np.nan
        error = np.sqrt(np.nansum(flux_err ** 2, axis=1))
        return {"time": data["TIME"][good].astype(np.float64), "flux": total, "flux_err": error}


def write_synthetic_tpf(path: Path, n: int = 50, campaign: int = 18) -> dict:
    """A K2-layout target pixel file: a 5x7 stamp, a 2-pixel pipeline aperture, a few bad cadences."""
    rng = np.random.default_rng(11)
    flux = rng.normal(10.0, 1.0, (n, 5, 7)).astype(np.float32)
    flux[:, 2, 3:5] += 100.0
    flux[4, 2, 3] = np.nan
    flux[6] = np.nan
    time = 3418.5 + 0.0204 * np.arange(n)
    time[9] = np.nan
    quality = np.zeros(n, np.int32)
    quality[[2, 9]] = [32, 65536]         # desaturation and no data: default bitmask
    quality[3] = 2048                      # impulsive outlier: not in the default bitmask
    columns = [fits.Column("TIME", "D", array=time), fits.Column("CADENCENO", "J", array=np.arange(n) + 1000),
               fits.Column("FLUX", "35E", dim="(7,5)", array=flux),
               fits.Column("FLUX_ERR", "35E", dim="(7,5)", array=np.full_like(flux, 2.0)),
               fits.Column("FLUX_BKG", "35E", dim="(7,5)", array=np.full_like(flux, 5.0)),
               fits.Column("QUALITY", "J", array=quality)]
    table = fits.BinTableHDU.from_columns(columns, name="TARGETTABLES")
    table.header.update(TIMEDEL=0.02043359821692, BJDREFI=2454833, BJDREFF=0.0, TIMESYS="TDB")
    primary = fits.PrimaryHDU()
    # CREATOR and ORIGIN are what lightkurve's detect_filetype reads to recognise a target pixel file.
    primary.header.update(TELESCOP="Kepler", MISSION="K2", OBJECT="EPIC 211983544", KEPLERID=211983544,
                          CREATOR="625717 TargetPixelExporterPipelineModule", ORIGIN="NASA/Ames",
                          CAMPAIGN=campaign, RA_OBJ=130.656765, DEC_OBJ=19.988607)
    bits = np.ones((5, 7), np.int32)
    bits[2, 3:5] = 3
    aperture = fits.ImageHDU(bits, name="APERTURE")
    aperture.header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=4.2, CRPIX2=3.1, CRVAL1=130.656765,
                           CRVAL2=19.988607, CDELT1=-0.001104017521448, CDELT2=0.001104017521448)
    fits.HDUList([primary, table, aperture]).writeto(path, checksum=True)
    return {"flux": flux, "quality": quality, "time": time}


@pytest.fixture(params=["synthetic", "real"])
def tpf(request, tmp_path) -> Path:
    if request.param == "real":
        return request.getfixturevalue("shared_data") / TPF_REAL
    path = tmp_path / "ktwo211983544-c18_lpd-targ.fits"
    write_synthetic_tpf(path)
    return path


def reduce(path: Path):
    client = VirtualK2()
    try:
        raw = client.parse_file(path)
        return raw, client.reduce(raw, ReductionParameters(min_epochs=3))
    finally:
        client.close()


def test_the_pixel_lightcurve_equals_the_pipeline_aperture_sum_of_the_good_cadences(tpf):
    raw, [lc] = reduce(tpf)
    expected = expected_lightcurve(tpf)
    assert (lc.survey, lc.filter, lc.season, lc.time_scale) == ("k2", "Kepler", 18, "tdb")
    with fits.open(tpf) as hdus:
        n = len(hdus[1].data)
    assert lc.num_epochs == n  # every cadence is kept; the bad ones are flagged
    searched = lc.flag == 0
    finite = np.isfinite(expected["flux"]) & np.isfinite(expected["time"])
    assert searched.sum() == finite.sum()
    np.testing.assert_allclose(lc.mjds[searched] - BKJD_TO_MJD, expected["time"][finite], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lc.columns["flux"][searched], expected["flux"][finite], rtol=1e-12)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], expected["flux_err"][finite], rtol=1e-12)
    # Cadences without a time or a flux carry the NaN flag, as the mission lightcurves' do.
    assert np.all(lc.flag[~searched] != 0)
    assert (lc.flag & NAN_FLAG).sum() > 0


def test_the_pixel_lightcurve_equals_lightkurves(tpf):
    lk = pytest.importorskip("lightkurve")
    _, [lc] = reduce(tpf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lk.read(str(tpf), quality_bitmask="default").to_lightcurve(aperture_mask="pipeline")
    keep = np.isfinite(theirs.flux.value) & (theirs.time.value != 0)  # lightkurve gives NaN times the value 0
    searched = lc.flag == 0
    np.testing.assert_allclose(lc.mjds[searched] - BKJD_TO_MJD, theirs.time.value[keep], rtol=0, atol=1e-9)
    # lightkurve sums float32 pixels in float32: equal to float32 precision.
    np.testing.assert_allclose(lc.columns["flux"][searched], theirs.flux.value[keep], rtol=1e-6)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], theirs.flux_err.value[keep], rtol=1e-6)


def test_the_reader_keeps_the_images_lazy_and_finds_the_target_with_the_wcs(tpf):
    pixel_file = read_pixel_file(tpf, K2)
    cube = pixel_file.pixels
    with fits.open(tpf) as hdus:
        flux = hdus[1].data["FLUX"]
        assert cube.flux.shape == flux.shape and cube.image_shape == flux.shape[1:]
        np.testing.assert_array_equal(cube.flux[:10], flux[:10])
        np.testing.assert_array_equal(cube.aperture, (hdus["APERTURE"].data & 2) > 0)
        crpix = hdus["APERTURE"].header["CRPIX2"] - 1, hdus["APERTURE"].header["CRPIX1"] - 1
    # The target is the WCS reference position in both files (RA_OBJ = CRVAL1): its pixel is CRPIX - 1.
    assert cube.target_pixel == pytest.approx(crpix, abs=1e-9)
    assert cube.pixel_scale_arcsec == pytest.approx(0.001104017521448 * 3600, rel=1e-3)  # 3.97 arcsec
    assert not isinstance(cube.flux, np.ndarray) or cube.flux.base is not None  # a view, not a copy
    assert pixel_file.wcs["CTYPE1"] == "RA---TAN" and pixel_file.season == 18


def test_the_wcs_falls_back_to_the_flux_columns_keywords(tmp_path, shared_data):
    # The same file without WCS on its APERTURE: the table's 1CTYP5/1CRPX5/11PC5... give the same target pixel.
    with fits.open(shared_data / TPF_REAL) as hdus:
        for key in [k for k in hdus["APERTURE"].header if k.startswith(("CTYPE", "CRPIX", "CRVAL", "CDELT", "PC1_", "PC2_"))]:
            del hdus["APERTURE"].header[key]
        hdus.writeto(tmp_path / TPF_REAL)
    from_columns = read_pixel_file(tmp_path / TPF_REAL, K2).pixels
    from_aperture = read_pixel_file(shared_data / TPF_REAL, K2).pixels
    assert from_columns.target_pixel == pytest.approx(from_aperture.target_pixel, abs=1e-9)


def test_bad_input_gives_one_line_errors_naming_the_file(tmp_path):
    lc_like = tmp_path / "not-pixels.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("TIME", "D", array=[1.0])],
                                                                   name="LIGHTCURVE")]).writeto(lc_like)
    assert not is_pixel_file(lc_like) and not is_pixel_file(tmp_path / "missing.fits")
    with pytest.raises(DataError, match=rf"^{lc_like}: no TARGETTABLES or PIXELS extension"):
        read_pixel_file(lc_like, K2)
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"not a fits file at all" * 200)
    with pytest.raises(DataError, match=rf"^{garbage}: cannot read as a K2 target pixel file"):
        read_pixel_file(garbage, K2)
    no_flux = tmp_path / "no-flux.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column("TIME", "D", array=[1.0]), fits.Column("QUALITY", "J", array=[0])],
        name="TARGETTABLES")]).writeto(no_flux)
    with pytest.raises(DataError, match=r"TARGETTABLES lacks columns \['CADENCENO', 'FLUX', 'FLUX_ERR'\]") as info:
        read_pixel_file(no_flux, K2)
    assert "\n" not in str(info.value) and str(no_flux) in str(info.value)
    kepler = tmp_path / "kepler-tpf.fits"
    write_synthetic_tpf(kepler)
    with fits.open(kepler, mode="update") as hdus:
        hdus[0].header["MISSION"] = "Kepler"
    client = VirtualK2()
    try:
        with pytest.raises(SurveyError, match="a Kepler file \\(MISSION keyword\\), not K2"):
            client.parse_file(kepler)
    finally:
        client.close()


def test_a_target_pixel_file_and_a_lightcurve_of_one_campaign_are_not_mixed(tmp_path, shared_data):
    from tests.unit.test_kepler_format import write_kepler_lc

    tpf = tmp_path / "ktwo211983544-c18_lpd-targ.fits"
    write_synthetic_tpf(tpf)
    llc = write_kepler_lc(tmp_path / "ktwo211983544-c18_llc.fits", kepler_id=211983544, mission="K2", season=18)
    client = VirtualK2()
    try:
        raws = [client.parse_file(tpf), client.parse_file(llc)]
        with pytest.raises(DataError, match="a target pixel file and other files of the same season"):
            client.reduce(client.combine(raws), ReductionParameters(min_epochs=3))
    finally:
        client.close()


def write_synthetic_cutout(path: Path, star_flux: np.ndarray, star=(3.6, 6.3), neighbour=(8.0, 1.0),
                           noise: float = 5.0, seed: int = 2) -> None:
    """A TESScut-layout cutout (PIXELS table, no pipeline aperture): a star at ``star``, a brighter one at ``neighbour``."""
    from tests.unit.test_centroid_shift import _pixel_integral

    n, shape = star_flux.size, (11, 11)
    rng = np.random.default_rng(seed)

    def psf(centre):
        return np.outer(_pixel_integral(centre[0], shape[0]), _pixel_integral(centre[1], shape[1]))

    flux = (star_flux[:, None, None] * psf(star) + 4 * star_flux.mean() * psf(neighbour)
            + rng.normal(0.0, noise, (n,) + shape)).astype(np.float32)
    columns = [fits.Column("TIME", "D", array=1325.3 + np.arange(n) / 48.0),
               fits.Column("CADENCENO", "J", array=np.arange(n)),
               fits.Column("FLUX", "121E", dim="(11,11)", array=flux),
               fits.Column("FLUX_ERR", "121E", dim="(11,11)", array=np.full_like(flux, noise)),
               fits.Column("QUALITY", "J", array=np.zeros(n, np.int32))]
    table = fits.BinTableHDU.from_columns(columns, name="PIXELS")
    table.header.update(TIMEDEL=1 / 48.0, BJDREFI=2457000, BJDREFF=0.0, TIMESYS="TDB")
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="TESS", SECTOR=1, RA_OBJ=51.1119, DEC_OBJ=-77.4515)
    aperture = fits.ImageHDU(np.ones(shape, np.int32), name="APERTURE")  # collected pixels, no bit 2
    aperture.header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=star[1] + 1, CRPIX2=star[0] + 1,
                           CRVAL1=51.1119, CRVAL2=-77.4515, CDELT1=-21 / 3600, CDELT2=21 / 3600)
    fits.HDUList([primary, table, aperture]).writeto(path)


def test_a_cutout_without_a_pipeline_aperture_gives_the_injected_stars_flux(tmp_path):
    from virtualobserver.adapters.surveys.tess import VirtualTESS

    # The star's known lightcurve: 5000 e-/s with a 10 % sinusoid. The threshold aperture holds most of
    # its light (a 3-sigma cut over the stamp's MAD, which both stars' wings widen) and none of the
    # neighbour's (4x brighter, 6.5 px away: it would add up to 20000 e-/s); the relative lightcurve is
    # the injected one to within the noise of the sum (5 e-/s per pixel over at most 40 pixels).
    star_flux = 5000.0 * (1 + 0.1 * np.sin(np.arange(200) / 10.0))
    path = tmp_path / "tess-s0001-3-3_51.111900_-77.451500_11x11_astrocut.fits"
    write_synthetic_cutout(path, star_flux)
    client = VirtualTESS()
    try:
        raw = client.parse_file(path)
        [lc] = client.reduce(raw, ReductionParameters(min_epochs=3))
    finally:
        client.close()
    assert raw.meta["files"][0]["pixels"]["target_pixel"] == pytest.approx([3.6, 6.3], abs=1e-9)
    assert raw.meta["files"][0]["pixels"]["pixel_scale_arcsec"] == pytest.approx(21.0)
    ratio = lc.columns["flux"] / star_flux
    assert 0.9 < np.median(ratio) < 1.0
    relative = lc.columns["flux"] / np.median(lc.columns["flux"]) - star_flux / np.median(star_flux)
    assert np.std(relative) < 5.0 * np.sqrt(40) / 5000.0 * 1.2
    # The amplitude is the injected one: slope of measured on injected relative flux 1 (error about 0.006).
    slope = np.polyfit(star_flux / np.median(star_flux), lc.columns["flux"] / np.median(lc.columns["flux"]), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.03)
    # 30-min full-frame images: the filter of FFI photometry, apart from SPOC's 2-min "TESS" of the same sector.
    assert (lc.filter, lc.season) == ("TESS-FFI", 1) and np.all(lc.flag == 0)
