"""``robust_location_scale``'s ordered fast path gives the general path's values bit for bit."""

import numpy as np
import pytest

from virtualobserver.domain import statistics
from virtualobserver.domain.statistics import MAD_TO_SIGMA, median, robust_location_scale


def _general(values):
    # The general path: median of the finite values, then of their absolute deviations.
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    centre = median(finite)
    return centre, float(MAD_TO_SIGMA * median(np.abs(finite - centre)))


def _bits(pair):
    return np.array(pair, dtype=float).tobytes()


def _samples():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 5, 99, 100, 255, 256, 257, 258, 1001, 1002):
        yield rng.normal(100.0, 5.0, n)
        yield np.round(rng.normal(18.0, 0.1, n), 1)  # ties
        yield rng.integers(-2, 3, n).astype(float)  # zero medians, both signs of zero
    with_zeros = np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0])
    yield with_zeros
    yield -with_zeros
    for bad in (np.nan, np.inf, -np.inf):
        for n in (1, 4, 7, 300):
            values = rng.normal(0.0, 1.0, n)
            values[rng.integers(0, n)] = bad
            yield values
    yield np.array([1e308, -1e308, 1e308])  # deviations overflow
    yield np.zeros(0)


@pytest.mark.parametrize("values", list(_samples()))
def test_location_scale_matches_the_reference(values):
    with np.errstate(over="ignore"):  # the overflowing deviations warn in both
        assert _bits(robust_location_scale(values)) == _bits(_general(values))


def test_location_scale_leaves_its_input_alone():
    values = np.array([3.0, 1.0, 2.0])
    values.setflags(write=False)
    robust_location_scale(values)
    assert values.tolist() == [3.0, 1.0, 2.0]


def test_the_fast_path_takes_samples_of_finite_values_with_a_nonzero_median():
    assert statistics._ordered_location_scale(np.array([3.0, 1.0, 2.0])) is not None
    for values in (np.array([np.nan, 1.0, 2.0]), np.array([-1.0, 0.0, 1.0]), np.zeros(0), np.ones((2, 2))):
        assert statistics._ordered_location_scale(values) is None
