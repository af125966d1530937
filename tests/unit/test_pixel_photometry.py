"""Aperture photometry of pixel cubes and the choice of aperture, against loop-by-loop definitions and hand-built images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.photometry import aperture_photometry, choose_aperture, circular_aperture, threshold_aperture
from virtualobserver.domain.pixels import PixelCube


def loop_photometry(flux, flux_err, aperture):
    """lightkurve's definition, spelled out pixel by pixel."""
    totals, errors = [], []
    for frame, frame_err in zip(flux, flux_err):
        values = [frame[r, c] for r, c in zip(*np.nonzero(aperture)) if not math.isnan(frame[r, c])]
        errs = [frame_err[r, c] for r, c in zip(*np.nonzero(aperture)) if not math.isnan(frame_err[r, c])]
        all_zero = all(v == 0 for v in frame.ravel())
        totals.append(sum(values) if values and not all_zero else math.nan)
        errors.append(math.sqrt(sum(e * e for e in errs)) if errs else math.nan)
    return np.array(totals), np.array(errors)


def test_aperture_sum_and_error_equal_the_pixel_by_pixel_definition():
    rng = np.random.default_rng(3)
    flux = rng.normal(100, 10, (40, 5, 7)).astype(np.float32)
    flux_err = rng.uniform(1, 3, flux.shape).astype(np.float32)
    flux[3, 2, 3] = np.nan                   # one NaN pixel: left out of the sum
    flux[5][:, :] = np.nan                   # a cadence without data: NaN
    flux_err[6][:, :] = np.nan
    flux[7] = 0.0                            # an uncalibrated cadence (all zero): NaN
    aperture = np.zeros((5, 7), bool)
    aperture[1:4, 2:5] = True
    got_flux, got_err = aperture_photometry(flux, flux_err, aperture)
    want_flux, want_err = loop_photometry(flux.astype(float), flux_err.astype(float), aperture)
    np.testing.assert_allclose(got_flux, want_flux, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got_err, want_err, rtol=1e-12, equal_nan=True)
    assert np.isnan(got_flux[[5, 7]]).all() and np.isnan(got_err[6]) and np.isfinite(got_flux[3])


def test_an_empty_aperture_is_refused():
    with pytest.raises(DataError, match="no pixel"):
        aperture_photometry(np.ones((2, 2, 2)), np.ones((2, 2, 2)), np.zeros((2, 2), bool))


def stars_image() -> np.ndarray:
    # Background of exactly 0 and +-1 (median 0, MAD 1: the cut is 3 * 1.4826 = 4.45), a 2x2 star at
    # rows 1-2, cols 1-2 and a brighter single-pixel neighbour at (5, 6), not touching it.
    image = np.tile([0.0, 1.0, -1.0, 0.0], 12)[:48].reshape(6, 8)
    image[1:3, 1:3] = [[20.0, 30.0], [25.0, 4.0]]   # 4.0 is under the cut
    image[5, 6] = 500.0
    image[0, 7] = np.nan
    return image


def test_threshold_aperture_keeps_the_region_nearest_the_target():
    image = stars_image()
    values = image[np.isfinite(image)]
    cut = np.median(values) + 3 * 1.4826 * np.median(np.abs(values - np.median(values)))
    assert 4.0 < cut < 20.0  # the hand-built image is what the test says it is
    everything = threshold_aperture(image)
    assert set(zip(*np.nonzero(everything))) == {(1, 1), (1, 2), (2, 1), (5, 6)}
    near_target = threshold_aperture(image, reference_pixel=(2.2, 1.4))
    assert set(zip(*np.nonzero(near_target))) == {(1, 1), (1, 2), (2, 1)}
    near_neighbour = threshold_aperture(image, reference_pixel=(4.6, 6.2))
    assert set(zip(*np.nonzero(near_neighbour))) == {(5, 6)}


def test_threshold_aperture_equals_lightkurves_create_threshold_mask():
    lk = pytest.importorskip("lightkurve")
    from astropy.io import fits

    rng = np.random.default_rng(5)
    images = rng.normal(0, 1, (30, 9, 11)).astype(np.float32)
    images[:, 3:6, 2:5] += 40.0
    images[:, 6:8, 8:10] += 60.0
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("TIME", "D", array=np.arange(30.0)), fits.Column("CADENCENO", "J", array=np.arange(30)),
        fits.Column("FLUX", "99E", dim="(11,9)", array=images),
        fits.Column("FLUX_ERR", "99E", dim="(11,9)", array=np.ones_like(images)),
        fits.Column("QUALITY", "J", array=np.zeros(30, np.int32))], name="TARGETTABLES")
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="Kepler", MISSION="K2", OBJECT="test", KEPLERID=1)
    tpf = lk.KeplerTargetPixelFile(fits.HDUList([primary, hdu, fits.ImageHDU(np.ones((9, 11), np.int32),
                                                                              name="APERTURE")]))
    for reference in ((4.0, 3.0), (7.0, 9.0)):
        theirs = tpf.create_threshold_mask(threshold=3, reference_pixel=(reference[1], reference[0]))
        ours = threshold_aperture(np.median(images, axis=0), 3.0, reference)
        np.testing.assert_array_equal(ours, theirs)


def test_circular_aperture_counts_pixel_centres_inside_the_circle():
    aperture = circular_aperture((20, 20), (9.5, 9.5), 4.0)
    rows, cols = np.indices((20, 20))
    assert aperture.sum() == sum(1 for r, c in zip(rows.ravel(), cols.ravel()) if (r - 9.5) ** 2 + (c - 9.5) ** 2 <= 16)
    # By hand, one quadrant: offsets 0.5 and 1.5 reach 4 pixels out, 2.5 three, 3.5 two: 4 x 13 = 52.
    assert aperture.sum() == 52
    assert aperture[9, 9] and not aperture[9, 14]


def cube_of(image: np.ndarray, aperture=None, target=None) -> PixelCube:
    flux = np.repeat(image[None], 5, axis=0)
    return PixelCube(times=np.arange(5.0), flux=flux, flux_err=np.ones_like(flux), quality=np.zeros(5, int),
                     aperture=aperture, target_pixel=target)


def test_the_pipeline_aperture_wins_then_the_threshold_then_a_circle():
    image = stars_image()
    pipeline = np.zeros(image.shape, bool)
    pipeline[0, 0] = True
    aperture, kind = choose_aperture(cube_of(image, pipeline, (2.0, 1.0)), quality_mask=0)
    assert kind == "pipeline" and aperture.sum() == 1
    aperture, kind = choose_aperture(cube_of(image, None, (2.0, 1.0)), quality_mask=0)
    assert kind == "threshold" and set(zip(*np.nonzero(aperture))) == {(1, 1), (1, 2), (2, 1)}
    flat = np.zeros((6, 8))
    aperture, kind = choose_aperture(cube_of(flat, None, (3.0, 4.0)), quality_mask=0)
    assert kind == "circle" and set(zip(*np.nonzero(aperture))) == {(2, 4), (3, 3), (3, 4), (3, 5), (4, 4),
                                                                    (2, 3), (2, 5), (4, 3), (4, 5)}


def test_the_threshold_ignores_bad_cadences():
    image = stars_image()
    cube = cube_of(np.zeros_like(image), None, (2.0, 1.0))
    cube.flux[:3] = image  # three good cadences with the stars, two bad ones without
    cube.quality[3:] = 4
    aperture, kind = choose_aperture(cube, quality_mask=4)
    assert kind == "threshold" and aperture.sum() == 3


def test_a_cube_with_inconsistent_shapes_is_refused():
    with pytest.raises(DataError, match="flux_err has shape"):
        PixelCube(times=np.arange(3.0), flux=np.zeros((3, 2, 2)), flux_err=np.zeros((3, 2, 3)), quality=np.zeros(3))
    with pytest.raises(DataError, match="expected \\(4, rows, cols\\)"):
        PixelCube(times=np.arange(4.0), flux=np.zeros((3, 2, 2)), flux_err=np.zeros((3, 2, 2)), quality=np.zeros(4))
