"""Segments' per-lightcurve statistics against one numpy call per segment (mutation testing).

The expected values are ``numpy.median`` of each segment's slice, ``numpy.median`` of the slice with
one element deleted, or counts written out by hand: never :mod:`domain.segments` itself. The layouts
cover uniform lengths (a plain reshape), mixed lengths (padding), lengths so unequal that medians are
taken by classes of lengths, and empty segments.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import median_abs_deviation

from virtualobserver.domain.segments import Segments

LAYOUTS = {
    "uniform-odd": [5, 5, 5],
    "uniform-even": [4, 4],
    "mixed": [1, 2, 3, 4, 5, 6, 7],
    "with-empty": [3, 0, 4, 0, 2],
    "by-length-classes": [1, 2, 40, 3, 5, 9, 17, 1],
    "one": [6],
}


def _values(rng, size):
    return rng.permutation(np.round(rng.normal(10.0, 3.0, size), 1))


def _slices(lengths):
    stops = np.cumsum(lengths)
    return list(zip((stops - np.asarray(lengths)).tolist(), stops.tolist()))


def _np_median(x):
    return float(np.median(x)) if len(x) else np.nan


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bookkeeping_by_hand(layout):
    lengths = LAYOUTS[layout]
    s = Segments(lengths)
    bounds = _slices(lengths)
    assert s.count == len(lengths) and s.size == sum(lengths) and s.width == max(lengths)
    assert s.uniform == (len(set(lengths)) == 1)
    assert s.bounds == bounds
    assert s.ids.tolist() == [i for i, n in enumerate(lengths) for _ in range(n)]
    values = np.arange(float(sum(lengths)))
    assert [p.tolist() for p in s.split(values)] == [values[a:b].tolist() for a, b in bounds]
    assert s.spread(np.arange(len(lengths))).tolist() == s.ids.tolist()
    mask = (np.arange(sum(lengths)) % 3) == 0
    counts = [int(mask[a:b].sum()) for a, b in bounds]
    assert s.counts(mask).tolist() == counts
    assert s.any(mask).tolist() == [c > 0 for c in counts]
    firsts = [values[a:b][mask[a:b]][0] if mask[a:b].any() else -1.0 for a, b in bounds]
    assert s.first(values, mask, -1.0).tolist() == firsts
    assert s.first(values, np.zeros(sum(lengths), bool), 7.5).tolist() == [7.5] * len(lengths)


def test_no_segments():
    s = Segments([])
    assert (s.count, s.size, s.width, s.uniform) == (0, 0, 0, False)
    assert s.median(np.array([])).size == 0
    medians, counts = s.leave_one_out_median(np.array([]), np.array([], bool))
    assert medians.size == 0 and counts.size == 0


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(3))
def test_median_equals_numpy_per_segment(layout, seed):
    lengths = LAYOUTS[layout]
    rng = np.random.default_rng(seed)
    values = _values(rng, sum(lengths))
    s = Segments(lengths)
    expected = [_np_median(values[a:b]) for a, b in _slices(lengths)]
    np.testing.assert_array_equal(s.median(values), expected)
    mask = rng.random(values.size) < 0.6
    expected = [_np_median(values[a:b][mask[a:b]]) for a, b in _slices(lengths)]
    np.testing.assert_array_equal(s.median(values, mask), expected)


@pytest.mark.parametrize("layout", ["mixed", "by-length-classes", "uniform-even"])
def test_a_nan_makes_its_segment_median_nan_unless_masked_out(layout):
    lengths = LAYOUTS[layout]
    values = _values(np.random.default_rng(9), sum(lengths))
    values[sum(lengths[:-1])] = np.nan  # first element of the last segment
    s = Segments(lengths)
    medians = s.median(values)
    assert np.isnan(medians[-1]) and not np.isnan(medians[:-1]).any()
    mask = ~np.isnan(values)
    expected = [_np_median(values[a:b][mask[a:b]]) for a, b in _slices(lengths)]
    np.testing.assert_array_equal(s.median(values, mask), expected)
    # A NaN that the mask lets in still makes the median NaN.
    assert np.isnan(s.median(values, np.ones(values.size, bool))[-1])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(3))
def test_leave_one_out_median_equals_numpy_without_the_element(layout, seed):
    lengths = LAYOUTS[layout]
    rng = np.random.default_rng(10 + seed)
    values = _values(rng, sum(lengths))
    mask = rng.random(values.size) < 0.7
    medians, counts = Segments(lengths).leave_one_out_median(values, mask)
    for a, b in _slices(lengths):
        for i in range(a, b):
            others = [values[j] for j in range(a, b) if mask[j] and j != i]
            assert counts[i] == len(others)
            if others:
                assert medians[i] == np.median(others), (layout, i)
            else:
                assert np.isnan(medians[i])


def test_leave_one_out_median_by_hand():
    medians, counts = Segments([5, 2]).leave_one_out_median(
        np.array([5.0, 1.0, 4.0, 2.0, 3.0, 8.0, 6.0]), np.ones(7, bool))
    # Without 5: 1 2 3 4 -> 2.5; without 1: 2 3 4 5 -> 3.5; without 4: 1 2 3 5 -> 2.5; without 2 -> 3.5; without 3 -> 3.
    assert medians.tolist() == [2.5, 3.5, 2.5, 3.5, 3.0, 6.0, 8.0]
    assert counts.tolist() == [4, 4, 4, 4, 4, 1, 1]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_robust_location_scale_equals_numpy_and_scipy_per_segment(layout):
    lengths = LAYOUTS[layout]
    rng = np.random.default_rng(20)
    values = _values(rng, sum(lengths))
    values[rng.random(values.size) < 0.15] = np.inf
    mask = rng.random(values.size) < 0.8
    s = Segments(lengths)
    for m in (None, mask):
        centre, scale = s.robust_location_scale(values, m)
        for k, (a, b) in enumerate(_slices(lengths)):
            keep = np.isfinite(values[a:b]) & (True if m is None else m[a:b])
            x = values[a:b][keep]
            if x.size == 0:
                assert np.isnan(centre[k]) and np.isnan(scale[k])
                continue
            assert centre[k] == np.median(x)
            assert scale[k] == pytest.approx(median_abs_deviation(x, scale="normal"), rel=1e-12, abs=1e-300)


def test_first_returns_floats_whatever_the_default():
    # An integer default must not make the result an integer array (which would truncate the values).
    s = Segments([2, 1])
    result = s.first(np.array([2.5, 3.5, 4.5]), np.array([False, True, False]), 0)
    assert result.dtype == float and result.tolist() == [3.5, 0.0]
