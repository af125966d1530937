"""The demo survey's synthetic images: one cube per lightcurve, consistent with the lightcurve, a neighbour's flare on the neighbour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from virtualobserver.adapters.surveys.demo import BAD_IMAGE_FLAG, DemoParameters, VirtualDemoObs
from virtualobserver.adapters.surveys.demo_pixels import neighbour_of
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source

SOURCE = Source("DEMO-7", 150.0, 2.0, mag=16.0)


def test_without_images_the_demo_has_no_cubes_and_its_table_is_unchanged():
    plain = VirtualDemoObs(DemoParameters())
    assert not plain.has_images and plain.pixel_cubes(plain.download(SOURCE)) == {}
    # Images on but no neighbour flares: the epoch table is the one without images, to the bit.
    imaged = VirtualDemoObs(DemoParameters(images=True, neighbour_flare_fraction=0.0))
    a, b = plain.download(SOURCE).columns, imaged.download(SOURCE).columns
    assert all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def test_one_cube_per_lightcurve_with_its_epochs_and_the_target_flux_in_its_aperture():
    client = VirtualDemoObs(DemoParameters(images=True, neighbour_flare_fraction=0.0))
    raw = client.download(SOURCE)
    lightcurves = client.reduce(raw, ReductionParameters())
    cubes = client.pixel_cubes(raw)
    assert sorted(cubes) == sorted((lc.filter, lc.season) for lc in lightcurves)
    neighbour = neighbour_of(SOURCE.name, 0, raw.columns["mjd"], 0.0)
    for lc in lightcurves:
        cube, bad = cubes[(lc.filter, lc.season)]
        assert bad == BAD_IMAGE_FLAG and cube.image_shape == (11, 11) and cube.target_pixel == (5.0, 5.0)
        np.testing.assert_array_equal(cube.times, lc.mjds)
        # Gaussian PSF of sigma 1.2 px on 3x3 pixels centred on it: erf(1.5 / (1.2 sqrt 2))**2 of the flux.
        inside = math.erf(1.5 / (1.2 * math.sqrt(2))) ** 2
        quiet = np.median(lc.flux)
        total = cube.flux[:, cube.aperture].sum(axis=1)
        # The aperture also holds the neighbour's wing (a constant) and noise (a third of the error per pixel).
        wing = neighbour.wing * neighbour.brightness * quiet
        np.testing.assert_allclose(np.median(total - inside * lc.flux), wing, atol=0.2 * np.median(lc.fluxerr))


def test_a_neighbours_flare_brightens_the_neighbour_and_leaks_into_the_targets_lightcurve():
    client = VirtualDemoObs(DemoParameters(images=True, neighbour_flare_fraction=1.0, flare_fraction=0.0,
                                           dip_fraction=0.0, flag_fraction=0.0))
    raw = client.download(SOURCE)
    mjd = raw.columns["mjd"]
    neighbour = neighbour_of(SOURCE.name, 0, mjd, 1.0)
    assert neighbour.flares and 2.7 <= math.hypot(neighbour.d_row, neighbour.d_col) <= 3.3
    plain = VirtualDemoObs(DemoParameters(flare_fraction=0.0, dip_fraction=0.0, flag_fraction=0.0)).download(SOURCE)
    peak = int(np.flatnonzero(mjd == neighbour.peak_mjd)[0])
    band = raw.columns["filter"][peak]
    quiet = 10 ** (-0.4 * (SOURCE.mag + {"g": 0.35, "r": 0.0}[band] - 25.0))
    # In the lightcurve: the amplitude (relative to the target) at the peak epoch, nothing far from it.
    assert raw.columns["flux"][peak] - plain.columns["flux"][peak] == pytest.approx(neighbour.amplitude * quiet)
    far = np.abs(mjd - neighbour.peak_mjd) > 30 * neighbour.decay_days
    np.testing.assert_array_equal(raw.columns["flux"][far], plain.columns["flux"][far])
    # In the images: the frame at the peak minus the season's median is brightest at the neighbour's pixel.
    [(cube, _)] = [v for (f, _), v in client.pixel_cubes(raw).items() if f == band and neighbour.peak_mjd in v[0].times]
    frame = int(np.flatnonzero(cube.times == neighbour.peak_mjd)[0])
    difference = cube.flux[frame] - cube.median_image()
    row, col = np.unravel_index(np.argmax(difference), difference.shape)
    assert (row, col) == (round(5 + neighbour.d_row), round(5 + neighbour.d_col))
