"""The flux-weighted centroid shift on synthetic images: a flare on the target and one on a neighbour 3 px away.

Expected values come from the first moments of two point sources, derived by hand: for images
``F_t PSF(x - t) + F_n PSF(x - n)`` fully inside the stamp, the flux-weighted centroid is
``(F_t t + F_n n) / (F_t + F_n)`` (the pixel-integrated Gaussian keeps its first moment to ~1e-9 px at
sigma = 1 px), so a flare of ``dF`` on the neighbour moves it by ``(n - t) (F_n + dF) / (F_t + F_n + dF)
- (n - t) F_n / (F_t + F_n)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from virtualobserver.domain.centroid_shift import centroid_shift, event_centroid_shift, event_frames, flux_weighted_centroid
from virtualobserver.domain.errors import DataError

SHAPE = (13, 13)
TARGET = np.array([5.3, 4.6])
#: 3 px from the target, along a diagonal, so both axes are tested.
NEIGHBOUR = TARGET + np.array([1.8, 2.4])
F_TARGET, F_NEIGHBOUR, FLARE = 1000.0, 800.0, 500.0
NOISE, JITTER, SIGMA_PSF = 2.0, 0.01, 1.0
N_FRAMES = 400
TARGET_EVENT, NEIGHBOUR_EVENT = slice(100, 105), slice(300, 305)


def _pixel_integral(centre: float, size: int) -> np.ndarray:
    edges = np.arange(size + 1) - 0.5
    cdf = np.array([0.5 * (1 + math.erf((e - centre) / (SIGMA_PSF * math.sqrt(2)))) for e in edges])
    return np.diff(cdf)


def psf(centre: np.ndarray) -> np.ndarray:
    """A unit-flux Gaussian integrated over each pixel."""
    return np.outer(_pixel_integral(centre[0], SHAPE[0]), _pixel_integral(centre[1], SHAPE[1]))


def cube(seed: int = 1, n: int = N_FRAMES, flares: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f_target, f_neighbour = np.full(n, F_TARGET), np.full(n, F_NEIGHBOUR)
    if flares:
        f_target[TARGET_EVENT] += FLARE
        f_neighbour[NEIGHBOUR_EVENT] += FLARE
    jitter = rng.normal(0.0, JITTER, (n, 2))  # pointing: both stars move together
    images = np.array([ft * psf(TARGET + j) + fn * psf(NEIGHBOUR + j)
                       for ft, fn, j in zip(f_target, f_neighbour, jitter)])
    return images + rng.normal(0.0, NOISE, images.shape)


def expected_shift(flare_on_neighbour: bool) -> np.ndarray:
    out = (F_TARGET * TARGET + F_NEIGHBOUR * NEIGHBOUR) / (F_TARGET + F_NEIGHBOUR)
    f_t, f_n = (F_TARGET, F_NEIGHBOUR + FLARE) if flare_on_neighbour else (F_TARGET + FLARE, F_NEIGHBOUR)
    return (f_t * TARGET + f_n * NEIGHBOUR) / (f_t + f_n) - out


def frames(event: slice) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(N_FRAMES, dtype=float)
    return event_frames(times, np.ones(N_FRAMES, bool), event.start, event.stop - 1, baseline=40.0)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return cube()


def test_the_neighbours_flare_moves_the_centroid_towards_the_neighbour_far_beyond_its_error(images):
    inside, outside = frames(NEIGHBOUR_EVENT)
    shift = centroid_shift(images, inside, outside, pixel_scale_arcsec=3.98, target_pixel=tuple(TARGET))
    measured, expected = np.array([shift.d_row, shift.d_col]), expected_shift(True)
    assert np.all(np.abs(measured - expected) < 4 * np.array([shift.err_row, shift.err_col]))
    towards = (NEIGHBOUR - TARGET) / 3.0
    assert measured @ towards / np.linalg.norm(measured) > 0.98  # it points at the neighbour
    assert shift.significance > 10 and shift.pixels > 8 * shift.error
    assert shift.arcsec == pytest.approx(shift.pixels * 3.98) and shift.arcsec_error == pytest.approx(shift.error * 3.98)
    # The changing light comes from the neighbour, 3 px (11.9 arcsec) from the target.
    assert np.hypot(shift.source_row - NEIGHBOUR[0], shift.source_col - NEIGHBOUR[1]) < 4 * shift.offset_error
    assert shift.offset_pixels == pytest.approx(3.0, abs=4 * shift.offset_error)
    assert shift.offset_significance > 10 and shift.offset_arcsec == pytest.approx(shift.offset_pixels * 3.98)
    assert (shift.in_frames, shift.out_frames) == (5, 80)


def test_the_targets_flare_is_not_flagged(images):
    inside, outside = frames(TARGET_EVENT)
    shift = centroid_shift(images, inside, outside, pixel_scale_arcsec=3.98, target_pixel=tuple(TARGET))
    measured, expected = np.array([shift.d_row, shift.d_col]), expected_shift(False)
    assert np.all(np.abs(measured - expected) < 4 * np.array([shift.err_row, shift.err_col]))
    # The centroid does move (towards the target: the neighbour's share of the light drops), which is
    # why the flag is the offset of the changing light from the target, not the shift alone.
    assert measured @ (NEIGHBOUR - TARGET) < 0
    assert shift.offset_significance < 3
    assert np.hypot(shift.source_row - TARGET[0], shift.source_col - TARGET[1]) < 4 * shift.offset_error


def test_weighing_only_the_targets_pixels_shrinks_the_shift_of_the_targets_flare(images):
    inside, outside = frames(TARGET_EVENT)
    aperture = np.hypot(*(np.indices(SHAPE) - TARGET[:, None, None])) <= 1.5
    everything = centroid_shift(images, inside, outside)
    own = centroid_shift(images, inside, outside, pixels=aperture)
    assert own.pixels < everything.pixels / 2


def test_the_error_is_calibrated_on_frames_without_an_event():
    # 200 cubes without flares, 5 "in-event" frames each: the significance is a chi with 2 degrees of
    # freedom, so sig**2 averages 2 (standard error 2 / sqrt(200) = 0.14) and exceeds 9 with
    # probability exp(-4.5) = 1.1 % (2.2 of 200 expected; 10 or more has probability below 1e-4).
    values = []
    for seed in range(200):
        images = cube(seed + 10, n=60, flares=False)
        inside, outside = event_frames(np.arange(60.0), np.ones(60, bool), 28, 32, baseline=30)
        values.append(centroid_shift(images, inside, outside).significance ** 2)
    values = np.array(values)
    assert 1.5 < values.mean() < 2.6, values.mean()
    assert (values > 9).sum() < 10


def test_flux_weighted_centroid_is_the_first_moment():
    image = np.zeros((3, 4))
    image[0, 1], image[2, 3], image[1, 0] = 2.0, 1.0, np.nan
    row, col = flux_weighted_centroid(image)
    assert (float(row), float(col)) == pytest.approx(((0 * 2 + 2 * 1) / 3, (1 * 2 + 3 * 1) / 3))
    only = np.zeros((3, 4), bool)
    only[0, 1] = True
    assert tuple(map(float, flux_weighted_centroid(image, only))) == (0.0, 1.0)
    rows, cols = flux_weighted_centroid(np.stack([image, np.zeros((3, 4))]))
    assert rows[0] == pytest.approx(2 / 3) and np.isnan(rows[1]) and np.isnan(cols[1])


def test_event_frames_take_good_frames_on_both_sides():
    times = np.arange(10.0)
    good = np.ones(10, bool)
    good[2] = False
    inside, outside = event_frames(times, good, 4.0, 5.0, baseline=2.0)
    assert np.flatnonzero(inside).tolist() == [4, 5]
    assert np.flatnonzero(outside).tolist() == [3, 6, 7]


def test_too_few_frames_or_overlapping_selections_are_refused():
    images = np.zeros((6, 2, 2))
    one = np.array([1, 0, 0, 0, 0, 0], bool)
    with pytest.raises(DataError, match="3 out-of-event frames"):
        centroid_shift(images, one, np.array([0, 1, 1, 0, 0, 0], bool))
    with pytest.raises(DataError, match="overlap"):
        centroid_shift(images, one, np.array([1, 1, 1, 1, 0, 0], bool))


def test_event_centroid_shift_uses_good_frames_around_the_event_and_needs_enough_of_them(images):
    from virtualobserver.domain.pixels import PixelCube

    times = np.arange(N_FRAMES) * 0.02  # 0.02-day cadence: the 1-day minimum baseline is 50 frames a side
    quality = np.zeros(N_FRAMES, int)
    quality[250:300] = 8                # bad frames before the neighbour's event (frames 300-304)
    cube = PixelCube(times=times, flux=images, flux_err=np.ones_like(images), quality=quality,
                     target_pixel=tuple(TARGET), pixel_scale_arcsec=3.98)
    shift = event_centroid_shift(cube, times[300], times[304], bad_bits=8)
    assert (shift.in_frames, shift.out_frames) == (5, 50)  # 305-354: the 50 frames before are bad
    assert shift.offset_significance > 10
    assert event_centroid_shift(cube, times[300], times[304], bad_bits=0).out_frames == 100
    assert event_centroid_shift(cube, 100.0, 101.0, bad_bits=0) is None  # no frame in the event


def test_a_detection_keeps_the_statistic_and_none_where_it_is_not_finite():
    from virtualobserver.domain.centroid_shift import CentroidShift
    from virtualobserver.domain.detection import CENTROID_FIELDS, Detection

    detection = Detection("brightening", 1.0, 0.9, 1.1, 8.0, 2.0, -0.5, 3, 1.0)
    assert all(getattr(detection, name) is None for name in CENTROID_FIELDS)
    detection.set_centroid_shift(CentroidShift(0.3, 0.4, 0.01, 0.01, 0.5, 0.01, 50.0, None, None, 5, 80,
                                               offset_pixels=3.0, offset_error=0.1, offset_significance=30.0))
    assert [getattr(detection, name) for name in CENTROID_FIELDS] == [0.5, 0.01, None, None, 3.0, 0.1, 30.0]
