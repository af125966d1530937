"""A K2 target pixel file through ``vo ingest`` and ``vo run``: the pixels stored as raw data, the lightcurve made from them.

Expected values as in ``tests/integration/test_target_pixel_files.py`` (astropy, lightkurve's definition of
``to_lightcurve(aperture_mask="pipeline")``; lightkurve itself where it is installed).
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
from astropy.io import fits
import pytest

from tests.e2e.helpers import vo_json
from tests.e2e.test_real_surveys import write_config
from tests.integration.test_target_pixel_files import (
    BKJD_TO_MJD,
    TPF_REAL,
    expected_lightcurve,
    write_synthetic_tpf,
)

EPIC_POSITION = (130.656765, 19.988607)


def ingest_and_run(tmp_path, path, database_url):
    data = tmp_path / "data"
    config = write_config(tmp_path / "k2", "k2", [("EPIC211983544", *EPIC_POSITION), ("Elsewhere", 10.0, -10.0)])
    done = vo_json("ingest", str(config), "k2", str(path), data_dir=data, database_url=database_url)
    assert done["ingested"] == {"EPIC211983544": [str(path)]} and not done["failed"], done
    offline = ("--set", "observatories.k2.download.offline=true")
    # The catalog's other star has no data offline: a failed source, so `vo run` exits 4.
    run = vo_json("run", str(config), *offline, data_dir=data, database_url=database_url, code=4)
    assert run["status"]["analysed"] == 1 and run["status"]["lightcurves"] == 1, run
    return config, data


def stored_lightcurve(config, data, database_url):
    from virtualobserver.adapters.container import open_project

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", database_url)
        container, project = open_project(config)
        try:
            [(lc, _)] = project.source_lightcurves("EPIC211983544")
        finally:
            container.database().close()
    return lc


def stored_images(data) -> dict[str, tuple]:
    """Shapes of the images in the raw-data files of the data folder."""
    import h5py

    shapes = {}
    for path in (data / "raw").rglob("*.h5"):
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, item: shapes.update({item.attrs.get("name", name): item.shape})
                         if "images" in name and hasattr(item, "shape") else None)
    return shapes


@pytest.mark.parametrize("which", ["synthetic", "real"])
def test_an_ingested_target_pixel_file_reduces_to_its_pipeline_aperture_lightcurve(tmp_path, which,
                                                                                  empty_database_url, request):
    if which == "real":
        path = shutil.copy(request.getfixturevalue("shared_data") / TPF_REAL, tmp_path / TPF_REAL)
    else:
        path = tmp_path / TPF_REAL
        write_synthetic_tpf(path, n=200)
    config, data = ingest_and_run(tmp_path, path, empty_database_url)
    lc = stored_lightcurve(config, data, empty_database_url)
    expected = expected_lightcurve(path)
    n = fits.getval(path, "NAXIS2", 1)
    # The pixels are raw data: the images of every cadence, the APERTURE bits beside them.
    images = stored_images(data)
    assert images["flux_c18"] == images["flux_err_c18"] == images["flux_bkg_c18"] == (n, 5, 7)
    assert images["aperture_c18"] == (5, 7)
    finite = np.isfinite(expected["flux"]) & np.isfinite(expected["time"])
    searched = lc.flag == 0
    assert (lc.survey, lc.filter, lc.season) == ("k2", "Kepler", 18)
    np.testing.assert_allclose(lc.mjds[searched] - BKJD_TO_MJD, expected["time"][finite], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lc.columns["flux"][searched], expected["flux"][finite], rtol=1e-12)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], expected["flux_err"][finite], rtol=1e-12)
    lk = pytest.importorskip("lightkurve")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lk.read(str(path), quality_bitmask="default").to_lightcurve(aperture_mask="pipeline")
    keep = np.isfinite(theirs.flux.value) & (theirs.time.value != 0)
    np.testing.assert_allclose(lc.columns["flux"][searched], theirs.flux.value[keep], rtol=1e-6)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], theirs.flux_err.value[keep], rtol=1e-6)


def write_two_star_tpf(path, n: int = 600) -> dict:
    """A K2-layout target pixel file of a target and a neighbour 3 px away, each with one flare.

    11x11 pixels of 3.98 arcsec, Gaussian PSFs (sigma 1 px) of 1000 e-/s each, noise 2 e-/s per pixel;
    the pipeline aperture is the 9 pixels within 1.5 px of the target. The target flares at cadences
    200-204; the neighbour, at 400-404, flares 15 times brighter, so that the wing of its flare inside
    the target's aperture is found in the target's lightcurve too, as a neighbour's flare is in real data.
    """
    from tests.unit.test_centroid_shift import _pixel_integral

    target, neighbour = np.array([5.2, 4.9]), np.array([7.0, 7.3])

    def psf(centre):
        return np.outer(_pixel_integral(centre[0], 11), _pixel_integral(centre[1], 11))

    shape = np.array([1.0, 0.75, 0.5, 0.3, 0.15])
    f_target, f_neighbour = np.full(n, 1000.0), np.full(n, 1000.0)
    f_target[200:205] += 400.0 * shape
    f_neighbour[400:405] += 6000.0 * shape
    rng = np.random.default_rng(17)
    flux = (f_target[:, None, None] * psf(target) + f_neighbour[:, None, None] * psf(neighbour)
            + rng.normal(0.0, 2.0, (n, 11, 11))).astype(np.float32)
    time = 3418.5 + 0.02043359821692 * np.arange(n)
    columns = [fits.Column("TIME", "D", array=time), fits.Column("CADENCENO", "J", array=np.arange(n) + 1000),
               fits.Column("FLUX", "121E", dim="(11,11)", array=flux),
               fits.Column("FLUX_ERR", "121E", dim="(11,11)", array=np.full_like(flux, 2.0)),
               fits.Column("QUALITY", "J", array=np.zeros(n, np.int32))]
    table = fits.BinTableHDU.from_columns(columns, name="TARGETTABLES")
    table.header.update(TIMEDEL=0.02043359821692, BJDREFI=2454833, BJDREFF=0.0, TIMESYS="TDB")
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="Kepler", MISSION="K2", OBJECT="EPIC 211983544", KEPLERID=211983544,
                          CAMPAIGN=18, RA_OBJ=EPIC_POSITION[0], DEC_OBJ=EPIC_POSITION[1])
    rows, cols = np.indices((11, 11))
    bits = np.where(np.hypot(rows - target[0], cols - target[1]) <= 1.5, 3, 1).astype(np.int32)
    aperture = fits.ImageHDU(bits, name="APERTURE")
    aperture.header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=target[1] + 1, CRPIX2=target[0] + 1,
                           CRVAL1=EPIC_POSITION[0], CRVAL2=EPIC_POSITION[1], CDELT1=-3.98 / 3600, CDELT2=3.98 / 3600)
    fits.HDUList([primary, table, aperture]).writeto(path)
    return {"target_peak": time[200] + BKJD_TO_MJD, "neighbour_peak": time[400] + BKJD_TO_MJD}


def test_the_centroid_shift_on_each_detection_flags_the_neighbours_flare_not_the_targets(tmp_path,
                                                                                        empty_database_url):
    path = tmp_path / TPF_REAL
    peaks = write_two_star_tpf(path)
    config, data = ingest_and_run(tmp_path, path, empty_database_url)
    from virtualobserver.adapters.container import open_project

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", empty_database_url)
        container, project = open_project(config)
        try:
            [(_, detections)] = project.source_lightcurves("EPIC211983544")
        finally:
            container.database().close()

    def at(mjd):
        [found] = [d for d in detections if d.start_mjd - 1e-6 <= mjd <= d.end_mjd + 1e-6 and d.kind == "brightening"]
        return found

    own, neighbours = at(peaks["target_peak"]), at(peaks["neighbour_peak"])
    # The neighbour's flare: its light comes from 3 px (11.9 arcsec) away, many errors from the target.
    assert neighbours.centroid_offset_sigma > 10
    assert neighbours.centroid_offset_px == pytest.approx(3.0, abs=4 * neighbours.centroid_offset_err_px)
    assert neighbours.centroid_shift_px > 5 * neighbours.centroid_shift_err_px
    assert neighbours.centroid_shift_arcsec == pytest.approx(neighbours.centroid_shift_px * 3.98, rel=1e-3)
    # The target's own flare: its light comes from the target (the shift itself is not what flags).
    assert own.centroid_offset_sigma < 3
    assert own.centroid_offset_px < 0.5
