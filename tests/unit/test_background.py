"""Sky background of cutouts that keep it (TESScut): expected values from a hand-built star on a flat sky.

A Gaussian star (sigma 1 px) of known flux on a sky of 100 e-/s per pixel with unit noise. The flux
inside the aperture is the star's flux times the PSF's share of the aperture, summed here from the
noiseless PSF; the stated error must match the scatter of the fluxes over many cadences.
"""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.photometry import (
    aperture_photometry,
    background_pixels,
    circular_aperture,
    needs_background,
    subtract_background,
)
from virtualobserver.domain.pixels import PixelCube

SHAPE, CENTRE, STAR, SKY, NOISE, N = (11, 11), (5.0, 5.0), 2000.0, 100.0, 1.0, 600


def _psf() -> np.ndarray:
    rows, cols = np.indices(SHAPE)
    psf = np.exp(-((rows - CENTRE[0]) ** 2 + (cols - CENTRE[1]) ** 2) / 2.0)
    return psf / psf.sum()


def _cube(background=None, seed=3) -> PixelCube:
    rng = np.random.default_rng(seed)
    flux = STAR * _psf() + SKY + rng.normal(0.0, NOISE, (N, *SHAPE))
    return PixelCube(times=np.arange(N) * 0.01, flux=flux, flux_err=np.full(flux.shape, NOISE),
                     quality=np.zeros(N, dtype=int), background=background, target_pixel=CENTRE)


def test_the_sky_is_removed_and_the_star_flux_in_the_aperture_is_left():
    cube = _cube(background=np.zeros((N, *SHAPE)))
    aperture = circular_aperture(SHAPE, CENTRE, 2.5)
    raw, raw_err = aperture_photometry(cube.flux, cube.flux_err, aperture)
    flux, flux_err = subtract_background(cube, aperture, raw, raw_err, quality_mask=0)
    expected = STAR * _psf()[aperture].sum()
    # Without subtraction the sum is off by 21 pixels x 100 e-/s; with it, unbiased to the mean's error.
    assert raw.mean() - expected == pytest.approx(aperture.sum() * SKY, rel=0.01)
    assert flux.mean() == pytest.approx(expected, abs=4 * flux.std() / np.sqrt(N))
    # Stated error = scatter over cadences (Poisson-free noise: pixel noise plus the sky level's error), to 10 %.
    assert flux_err.mean() == pytest.approx(flux.std(), rel=0.10)
    assert flux_err.mean() > raw_err.mean()  # the sky level's error is added


def test_sky_pixels_stay_away_from_every_star_and_the_aperture():
    neighbour = np.zeros(SHAPE)
    neighbour[1, 8] = 300.0  # a faint neighbour in a corner of the stamp
    image = STAR * _psf() + SKY + neighbour
    aperture = circular_aperture(SHAPE, CENTRE, 1.0)
    sky = background_pixels(image, aperture)
    assert not (sky & aperture).any()
    assert not any(sky[r, c] for r, c in [(1, 8), (0, 8), (2, 8), (1, 7), (1, 9)])  # the neighbour, its 4 sides
    # What is left is sky to a hundredth of the noise: the star's wings there are below 0.01 e-/s.
    assert (image[sky] - SKY).max() < 0.01 * NOISE
    assert sky.sum() >= 30  # enough for a level to a fifth of the noise


def test_only_cubes_without_a_subtracted_background_need_one():
    assert needs_background(_cube(background=None))
    assert needs_background(_cube(background=np.zeros((N, *SHAPE))))
    assert not needs_background(_cube(background=np.full((N, *SHAPE), 10.0)))


def test_an_aperture_filling_the_stamp_is_refused_with_a_hint():
    cube = _cube()
    aperture = np.ones(SHAPE, dtype=bool)
    aperture[0, :3] = False
    flux, err = aperture_photometry(cube.flux, cube.flux_err, aperture)
    with pytest.raises(DataError, match="larger cutout"):
        subtract_background(cube, aperture, flux, err, quality_mask=0)
