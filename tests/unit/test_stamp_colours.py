"""Stamps scaled for display: percentile stretch, a difference range symmetric around 0, colours at the ends."""

import numpy as np
import pytest

from virtualobserver.tui.stamp_colours import DIFFERENCE_COLOURS, IMAGE_COLOURS, NO_VALUE, difference_range, image_range, to_rgb


def test_image_range_is_the_percentiles_of_the_finite_pixels():
    image = np.arange(100.0).reshape(10, 10)
    image[0, 0] = np.nan
    finite = image[np.isfinite(image)]
    assert image_range(image) == pytest.approx((np.percentile(finite, 1.0), np.percentile(finite, 99.5)))
    assert image_range(np.full((3, 3), 7.0)) == (6.5, 7.5)  # a flat image still gets a range


def test_difference_range_is_symmetric_whatever_the_signs():
    difference = np.zeros((11, 11))
    difference[5, 8] = 40.0  # one bright pixel, nothing negative
    a = np.percentile(np.abs(difference), 99.5)
    assert difference_range(difference) == pytest.approx((-a, a))
    assert difference_range(np.zeros((2, 2))) == (-1.0, 1.0)


def test_colours_at_the_ends_the_middle_and_where_there_is_no_value():
    image = np.array([[-5.0, 0.0, 5.0, np.nan, 50.0]])
    rgb = to_rgb(image, (-5.0, 5.0), DIFFERENCE_COLOURS)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 5, 3)
    assert tuple(rgb[0, 0]) == DIFFERENCE_COLOURS[0][1] and tuple(rgb[0, 2]) == DIFFERENCE_COLOURS[-1][1]
    assert tuple(rgb[0, 1]) == (0, 0, 0)  # zero change is black, in the middle of the scale
    assert tuple(rgb[0, 3]) == NO_VALUE and tuple(rgb[0, 4]) == DIFFERENCE_COLOURS[-1][1]  # clipped
    # Halfway between the image scale's stops 0.35 (120, 28, 109) and 0.7 (237, 105, 37): their mean
    # (178.5, 66.5, 73), rounded either way.
    half = to_rgb(np.array([[0.525]]), (0.0, 1.0), IMAGE_COLOURS)
    assert half[0, 0].tolist() == pytest.approx([178.5, 66.5, 73.0], abs=0.5)
