"""Robust statistics against numpy and scipy, on the samples that tell their paths apart (mutation testing).

Every expected value comes from ``numpy.median`` / ``numpy.nanmedian`` or scipy's
``median_abs_deviation(scale="normal")``, never from :mod:`domain.statistics` itself. The samples
cover both lengths around the sort/partition switch (256), odd and even sizes, NaN and infinities at
either end, a zero median (the ordered path's fallback) and 2-D input.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import median_abs_deviation

from virtualobserver.domain.statistics import median, nanmedian, robust_location_scale, robust_std

SIZES = [1, 2, 3, 4, 5, 6, 255, 256, 257, 258, 301, 600]


def _sample(rng, n):
    # Shuffled, with a skew and repeated values, so that the middle pair's two values differ.
    return rng.permutation(np.round(rng.lognormal(0.0, 1.0, n) * 10.0 + 3.0, 1))


def _mad_sigma(values):
    return float(median_abs_deviation(values, scale="normal"))


@pytest.mark.parametrize("n", SIZES)
def test_median_equals_numpy_on_odd_and_even_sizes(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = _sample(rng, n)
        assert median(x) == np.median(x)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 257, 258])
def test_a_nan_anywhere_makes_the_median_nan(n):
    rng = np.random.default_rng(n)
    for where in (0, n // 2, n - 1):
        x = _sample(rng, n)
        x[where] = np.nan
        assert np.isnan(median(x))
        expected = np.nanmedian(x)
        assert nanmedian(x) == expected


def test_median_of_an_empty_sample_is_nan_and_of_a_small_one_by_hand():
    assert np.isnan(median([]))
    assert np.isnan(nanmedian([np.nan, np.nan]))
    assert median([7.0]) == 7.0
    assert median([1.0, 4.0]) == 2.5
    assert median([[3.0, 1.0], [2.0, 10.0]]) == 2.5  # flattened
    assert nanmedian([np.nan, 1.0, 4.0, 9.0]) == 4.0


@pytest.mark.parametrize("n", SIZES)
def test_robust_std_is_scipy_normal_scaled_mad(n):
    rng = np.random.default_rng(100 + n)
    x = _sample(rng, n)
    assert robust_std(x) == pytest.approx(_mad_sigma(x), rel=1e-12, abs=0.0)
    with_bad = np.concatenate([x, [np.nan, np.inf, -np.inf]])
    assert robust_std(with_bad) == pytest.approx(_mad_sigma(x), rel=1e-12, abs=0.0)
    assert np.isnan(robust_std(np.array([np.nan, np.inf])))


def test_robust_std_by_hand():
    # median 3, deviations 2, 1, 0, 1, 97 -> MAD 1.
    assert robust_std(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(1.482602218505602, rel=1e-15)


@pytest.mark.parametrize("n", SIZES)
def test_robust_location_scale_equals_numpy_and_scipy(n):
    rng = np.random.default_rng(200 + n)
    for _ in range(3):
        x = _sample(rng, n)
        centre, scale = robust_location_scale(x)
        assert centre == np.median(x)
        assert scale == pytest.approx(_mad_sigma(x), rel=1e-12, abs=0.0)


@pytest.mark.parametrize("n", [3, 4, 257, 258])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_robust_location_scale_leaves_out_non_finite_values_at_either_end(n, bad):
    rng = np.random.default_rng(300 + n)
    x = _sample(rng, n)
    for where in (0, n // 2, n - 1):
        y = np.insert(x, where, bad)
        centre, scale = robust_location_scale(y)
        assert centre == np.median(x)
        assert scale == pytest.approx(_mad_sigma(x), rel=1e-12, abs=0.0)


def test_robust_location_scale_with_a_zero_median_and_on_two_dimensions():
    x = np.array([-3.0, -1.0, 0.0, 0.0, 2.0, 5.0, 8.0])
    assert robust_location_scale(x) == (0.0, pytest.approx(_mad_sigma(x), rel=1e-15))
    grid = np.array([[1.0, 2.0, 9.0], [4.0, 5.0, 30.0]])
    centre, scale = robust_location_scale(grid)
    assert centre == 4.5
    assert scale == pytest.approx(_mad_sigma(grid.ravel()), rel=1e-15)
    assert all(np.isnan(v) for v in robust_location_scale(np.array([np.nan, np.inf])))
    assert all(np.isnan(v) for v in robust_location_scale(np.array([])))


def test_robust_location_scale_does_not_reorder_its_input():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    robust_location_scale(x)
    assert x.tolist() == [5.0, 1.0, 4.0, 2.0, 3.0]


def test_median_converts_to_float_before_averaging_the_middle_pair():
    # Booleans would add as a logical or, and large int64 would wrap around, if averaged as they are.
    assert median([True, True]) == 1.0
    assert nanmedian([True, True]) == 1.0
    big = np.array([2**62, 2**62 + 2**12], dtype=np.int64)
    assert median(big) == float(2**62 + 2**11)
    assert nanmedian(big) == float(2**62 + 2**11)


def test_nanmedian_reads_missing_values_of_an_object_column_as_nan():
    # An object column (a table read with missing cells) holds None: as float it is NaN, and is left out.
    # Expected by hand: the median of 1, 3, 8 is 3; numpy.nanmedian of the float column agrees.
    column = np.array([1.0, None, 8.0, 3.0], dtype=object)
    assert nanmedian(column) == 3.0 == np.nanmedian(column.astype(float))
    assert nanmedian([None, 2.0, 4.0]) == 3.0
