"""Images put on one grid: whole-pixel shifts copy values, sub-pixel shifts keep a smooth image's centroid."""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.domain.centroid_shift import flux_weighted_centroid
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.image_stack import aligned_stack, grid_centre


def _gaussian(shape, centre, sigma=1.5):
    rows, cols = np.indices(shape)
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma ** 2))


def test_a_whole_pixel_shift_copies_the_values_and_nan_marks_what_is_outside():
    image = np.arange(30.0).reshape(5, 6)
    [frame] = aligned_stack([image], [(1.0, 1.0)], (3, 3))
    np.testing.assert_array_equal(frame, image[0:3, 0:3])
    [edge] = aligned_stack([image], [(0.0, 5.0)], (3, 3))
    assert np.isnan(edge[0]).all() and np.isnan(edge[:, 2]).all()
    np.testing.assert_array_equal(edge[1:, :2], image[0:2, 4:6])


@pytest.mark.parametrize("offset", [(0.3, -0.4), (-0.5, 0.5), (0.25, 0.1)])
def test_a_sub_pixel_shift_puts_a_star_at_the_grid_centre(offset):
    # The star sits at (10, 12) + offset in its image; on the 11x11 grid it must be at the centre (5, 5).
    star = (10.0 + offset[0], 12.0 + offset[1])
    image = _gaussian((21, 25), star)
    [frame] = aligned_stack([image], [star], (11, 11))
    row, col = flux_weighted_centroid(frame)
    # Bilinear interpolation of a sigma-1.5 Gaussian: the centroid lands within 0.02 px of the centre.
    assert (float(row), float(col)) == pytest.approx(grid_centre((11, 11)), abs=0.02)


def test_images_and_positions_must_match():
    with pytest.raises(DataError, match="2 images for 1 positions"):
        aligned_stack([np.zeros((3, 3))] * 2, [(1.0, 1.0)], (3, 3))
    with pytest.raises(DataError, match="expected 2-D"):
        aligned_stack([np.zeros((2, 3, 3))], [(1.0, 1.0)], (3, 3))
