"""Stamps of an event: the reference is the median of the frames around it, the peak the nearest good frame.

Expected values are built by hand from a cube whose frames are constant images plus a known bump.
"""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.stamps import Stamps, event_stamps


def _cube(n: int = 40, quality: np.ndarray | None = None) -> PixelCube:
    times = np.arange(n, dtype=float) * 0.1  # 0.1 d cadence
    base = np.arange(12, dtype=float).reshape(3, 4)
    flux = np.repeat(base[None], n, axis=0)
    flux[20, 1, 2] += 50.0   # the event: one frame, one pixel
    flux[21, 1, 2] += 20.0
    flux[12] += 1000.0       # a frame inside the reference window (a cosmic ray): the median ignores it
    return PixelCube(times=times, flux=flux, flux_err=np.ones_like(flux),
                     quality=np.zeros(n, dtype=int) if quality is None else quality,
                     target_pixel=(1.0, 2.0), pixel_scale_arcsec=3.98)


def test_the_difference_shows_only_the_light_that_changed_at_the_peak():
    stamps = event_stamps(_cube(), start=2.0, end=2.1, peak_time=2.01, bad_bits=1)
    expected = np.zeros((3, 4))
    expected[1, 2] = 50.0
    assert stamps.peak_time == pytest.approx(2.0)
    np.testing.assert_array_equal(stamps.reference, np.arange(12, dtype=float).reshape(3, 4))
    np.testing.assert_array_equal(stamps.difference, expected)
    # 1-day baseline each side of [2.0, 2.1]: frames 10-19 and 22-31 are out of the event.
    assert stamps.reference_frames == 20
    assert stamps.shape == (3, 4) and stamps.target_pixel == (1.0, 2.0)


def test_the_peak_stamp_is_the_nearest_good_frame():
    quality = np.zeros(40, dtype=int)
    quality[20] = 8
    stamps = event_stamps(_cube(quality=quality), start=2.0, end=2.1, peak_time=2.0, bad_bits=8)
    assert stamps.peak_time == pytest.approx(2.1)
    assert stamps.difference[1, 2] == 20.0


def test_no_stamps_without_a_good_frame_in_the_event():
    quality = np.zeros(40, dtype=int)
    quality[20:22] = 8
    assert event_stamps(_cube(quality=quality), start=2.0, end=2.1, peak_time=2.0, bad_bits=8) is None


def test_stamps_of_different_shapes_are_refused():
    with pytest.raises(DataError, match="one shape"):
        Stamps(reference=np.zeros((3, 4)), peak=np.zeros((3, 4)), difference=np.zeros((4, 3)), peak_time=0.0,
               reference_frames=3)
