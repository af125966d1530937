"""The statistics of rates against values checked independently: closed forms, printed tables, exact coverage.

Tables: chi-square quantiles (any statistics table), Gehrels (1986, ApJ 303, 336) Tables 1-2 for the
Garwood limits (single-sided 0.95, that is a two-sided 90 % interval), Feldman & Cousins (1998, PRD 57,
3873) Table IV for their 90 % intervals, and Wilson intervals as in Newcombe (1998, Stat. Med. 17, 857).
"""

import math

import numpy as np
import pytest

from virtualobserver.domain.intervals import (
    feldman_cousins_interval,
    gamma_quantile,
    garwood_interval,
    normal_quantile,
    poisson_cdf,
    regularized_gamma_p,
    regularized_gamma_q,
    wilson_interval,
)


def _poisson_cdf_by_sum(n: int, mu: float) -> float:
    # The definition, summed term by term (independent of the incomplete gamma function).
    return sum(math.exp(-mu) * mu**k / math.factorial(k) for k in range(n + 1))


@pytest.mark.parametrize("x", [1e-6, 0.1, 0.9, 2.0, 7.5, 30.0])
def test_incomplete_gamma_matches_its_closed_forms(x):
    assert regularized_gamma_p(1.0, x) == pytest.approx(-math.expm1(-x), rel=1e-12)
    assert regularized_gamma_p(0.5, x) == pytest.approx(math.erf(math.sqrt(x)), rel=1e-12)
    for n in (0, 1, 4, 20):
        assert regularized_gamma_q(n + 1.0, x) == pytest.approx(_poisson_cdf_by_sum(n, x), rel=1e-10, abs=1e-300)
        assert poisson_cdf(n, x) == pytest.approx(_poisson_cdf_by_sum(n, x), rel=1e-10, abs=1e-300)
    for a in (0.5, 3.0, 40.0):  # both branches (series below a + 1, continued fraction above) sum to one
        assert regularized_gamma_p(a, x) + regularized_gamma_q(a, x) == pytest.approx(1.0, abs=1e-14)


def test_incomplete_gamma_is_accurate_for_large_counts():
    # P(a, a) = 1/2 + 1/(3 sqrt(2 pi a)) + O(1/a) (Temme's expansion); at a = 10^6 the O(1/a) term is < 1e-6.
    a = 1e6
    assert regularized_gamma_p(a, a) == pytest.approx(0.5 + 1.0 / (3.0 * math.sqrt(2.0 * math.pi * a)), abs=1e-6)
    with pytest.raises(ValueError, match="a > 0"):
        regularized_gamma_p(0.0, 1.0)


@pytest.mark.parametrize("dof, p, table", [
    (1, 0.95, 3.841), (1, 0.99, 6.635), (2, 0.95, 5.991), (10, 0.05, 3.940), (10, 0.95, 18.307),
    (20, 0.975, 34.170), (30, 0.5, 29.336),
])
def test_chi_square_quantiles_from_the_gamma_quantile_match_the_tables(dof, p, table):
    assert 2.0 * gamma_quantile(dof / 2.0, p) == pytest.approx(table, abs=6e-4)


def test_normal_quantile():
    assert normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.95) == pytest.approx(1.644854, abs=1e-6)


# Gehrels (1986) Tables 1 and 2, S = 1.645 (CL 0.95 on each side).
_GEHRELS = {0: (0.0, 2.996), 1: (0.0513, 4.744), 2: (0.355, 6.296), 3: (0.818, 7.754), 4: (1.366, 9.154),
            5: (1.970, 10.513), 10: (5.425, 16.962), 20: (13.255, 29.062)}


@pytest.mark.parametrize("n", sorted(_GEHRELS))
def test_garwood_limits_match_gehrels_and_their_definition(n):
    lower, upper = garwood_interval(n, 0.90)
    assert (lower, upper) == pytest.approx(_GEHRELS[n], abs=1.5e-3)
    assert _poisson_cdf_by_sum(n, upper) == pytest.approx(0.05, abs=1e-9)  # P(N <= n | upper) = alpha / 2
    if n:
        assert 1.0 - _poisson_cdf_by_sum(n - 1, lower) == pytest.approx(0.05, abs=1e-9)  # P(N >= n | lower)


# Feldman & Cousins (1998) Table IV (90 % CL): {background: {n: (lower, upper)}}. The b = 3.5, n = 0 upper
# limit 1.06 is the one their non-monotonic belt gives (a window of accepted means past the first exit),
# which only the "largest accepted mean" rule finds (gammapy's fc_fix_limits documents the case).
_FC_TABLE = {
    0.0: {0: (0.00, 2.44), 1: (0.11, 4.36), 2: (0.53, 5.91), 3: (1.10, 7.42), 4: (1.47, 8.60), 5: (1.84, 9.99),
          6: (2.21, 11.47), 7: (3.56, 12.53), 8: (3.96, 13.99), 9: (4.36, 15.30), 10: (5.50, 16.50)},
    0.5: {0: (0.00, 1.94), 1: (0.00, 3.86), 2: (0.03, 5.41)},
    1.0: {0: (0.00, 1.61), 1: (0.00, 3.36), 2: (0.00, 4.91)},
    3.0: {1: (0.00, 1.88), 2: (0.00, 3.04), 3: (0.00, 4.42), 4: (0.00, 5.60), 5: (0.00, 6.99), 6: (0.15, 8.47)},
    3.5: {0: (0.00, 1.06)},
}


@pytest.mark.parametrize("background, n", [(b, n) for b, rows in _FC_TABLE.items() for n in rows])
def test_feldman_cousins_matches_their_table(background, n):
    lower, upper = feldman_cousins_interval(n, background, 0.90)
    expected = _FC_TABLE[background][n]
    assert lower == pytest.approx(expected[0], abs=0.006) and upper == pytest.approx(expected[1], abs=0.006)


@pytest.mark.parametrize("background", [0.0, 0.5, 3.0])
def test_feldman_cousins_covers_at_least_its_level_exactly(background):
    # Coverage computed exactly, not sampled: sum over n of P(n | mu + b) for the n whose interval holds mu.
    # 0.9 is guaranteed by construction; an inversion that lost part of a belt would fall below it.
    intervals = {n: feldman_cousins_interval(n, background, 0.9) for n in range(60)}
    for mu in np.linspace(0.0, 12.0, 61):
        pmf = [math.exp(-(mu + background)) * (mu + background)**n / math.factorial(n) for n in range(60)]
        covered = sum(p for n, p in enumerate(pmf) if intervals[n][0] - 1e-6 <= mu <= intervals[n][1] + 1e-6)
        assert covered >= 0.9 - 1e-6, (mu, covered)


def test_feldman_cousins_is_never_empty_where_garwood_minus_background_is():
    # Seeing fewer events than the background: Garwood's upper limit minus b is below zero (an empty
    # interval, clipped to 0); Feldman-Cousins still gives a positive upper limit.
    low, high = garwood_interval(0, 0.9)
    assert high - 5.0 < 0
    lower, upper = feldman_cousins_interval(0, 5.0, 0.9)
    assert lower == 0.0 and 0.5 < upper < 1.0


def test_feldman_cousins_for_large_counts_is_close_to_the_gaussian_interval():
    lower, upper = feldman_cousins_interval(10_000, 50.0, 0.9)
    half = 1.645 * math.sqrt(10_000)
    assert lower == pytest.approx(9950 - half, abs=2.0) and upper == pytest.approx(9950 + half, abs=2.0)


@pytest.mark.parametrize("k, n, level, expected", [
    (5, 10, 0.95, (0.2366, 0.7634)), (0, 10, 0.95, (0.0, 0.2775)), (10, 10, 0.95, (0.7225, 1.0)),
    (81, 263, 0.95, (0.2553, 0.3662)),  # Newcombe (1998) example: 81 of 263
])
def test_wilson_interval_matches_published_values(k, n, level, expected):
    assert wilson_interval(k, n, level) == pytest.approx(expected, abs=1e-4)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="confidence"):
        garwood_interval(3, 1.0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10, 0.9)
    with pytest.raises(ValueError, match="count"):
        feldman_cousins_interval(-1, 0.0, 0.9)
