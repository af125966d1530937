"""The images' WCS on the pixel cube: read from a target pixel file, kept through the stored raw data, as lightkurve's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from virtualobserver.adapters.surveys.kepler_format import K2
from virtualobserver.adapters.surveys.pixel_format import pixel_cube, read_pixel_file
from virtualobserver.adapters.surveys.pixel_lightcurves import pixel_images
from tests.integration.test_target_pixel_files import TPF_REAL

# Pixel centres (col, row), 0-based, across the real file's 5 x 7 cutout.
PIXELS = np.array([[0.0, 0.0], [6.0, 4.0], [3.0, 2.0], [0.0, 4.0], [6.0, 0.0]])


def _sky(wcs: WCS) -> np.ndarray:
    world = wcs.pixel_to_world(PIXELS[:, 0], PIXELS[:, 1])
    return np.column_stack([world.ra.deg, world.dec.deg])


def test_the_cubes_wcs_places_the_real_files_pixels_where_lightkurve_does(shared_data):
    lk = pytest.importorskip("lightkurve")
    cube = read_pixel_file(shared_data / TPF_REAL, K2).pixels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lk.read(str(shared_data / TPF_REAL)).wcs
    ours = WCS(fits.Header(cube.wcs_header))
    assert ours.naxis == 2
    np.testing.assert_allclose(_sky(ours), _sky(theirs), rtol=0, atol=1e-9)


def test_the_wcs_comes_back_with_the_cube_rebuilt_from_stored_raw_data(shared_data):
    pixel_file = read_pixel_file(shared_data / TPF_REAL, K2)
    images, entry = pixel_images(pixel_file, "aperture_c18")
    images["aperture_c18"] = pixel_file.aperture  # kept beside them by the client, as every file's APERTURE
    n = pixel_file.pixels.num_cadences
    rebuilt = pixel_cube(images, {"file": TPF_REAL, "pixels": entry}, np.arange(n, dtype=float), np.zeros(n, int))
    assert rebuilt.wcs_header == pixel_file.pixels.wcs_header
    assert rebuilt.wcs_header["CTYPE1"] == "RA---TAN" and rebuilt.wcs_header["CTYPE2"] == "DEC--TAN"


def test_a_file_without_a_celestial_wcs_gives_a_cube_without_one(tmp_path, shared_data):
    with fits.open(shared_data / TPF_REAL) as hdus:
        for hdu in (hdus["APERTURE"], hdus[1]):
            for key in [k for k in hdu.header if k.startswith(("CTYPE", "1CTYP", "2CTYP"))]:
                del hdu.header[key]
        hdus.writeto(tmp_path / TPF_REAL)
    cube = read_pixel_file(tmp_path / TPF_REAL, K2).pixels
    assert cube.wcs_header is None and cube.target_pixel is None
