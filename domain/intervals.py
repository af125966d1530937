"""Confidence intervals for counts: Poisson (Feldman–Cousins with a known background, Garwood) and binomial (Wilson).

Only ``math``, ``statistics`` and numpy: the regularized incomplete gamma function is computed here
(series below ``x = a + 1``, Lentz's continued fraction above, as in Numerical Recipes §6.2), and the
quantiles the intervals need are found from it by bisection. The Poisson CDF is
``P(N <= n | mu) = Q(n + 1, mu)``, so the Garwood limits are gamma (that is, chi-square / 2) quantiles.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "regularized_gamma_p",
    "regularized_gamma_q",
    "gamma_quantile",
    "poisson_cdf",
    "normal_quantile",
    "garwood_interval",
    "feldman_cousins_interval",
    "wilson_interval",
]

_EPS = 1e-15
_MAX_ITERATIONS = 1_000_000


def _check_level(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")


def _prefactor(a: float, x: float) -> float:
    # x**a e**-x / Gamma(a), in logs so that large a and x neither overflow nor underflow early.
    return math.exp(a * math.log(x) - x - math.lgamma(a))


def _gamma_series(a: float, x: float) -> float:
    # P(a, x) = x**a e**-x / Gamma(a) * sum_k x**k / (a (a+1) ... (a+k)); converges fast for x < a + 1.
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * _prefactor(a, x)
    raise ArithmeticError(f"incomplete gamma series did not converge for a={a}, x={x}")


def _gamma_continued_fraction(a: float, x: float) -> float:
    # Q(a, x) by the modified Lentz method on the continued fraction; converges fast for x > a + 1.
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h * _prefactor(a, x)
    raise ArithmeticError(f"incomplete gamma continued fraction did not converge for a={a}, x={x}")


def regularized_gamma_p(a: float, x: float) -> float:
    """Return the regularized lower incomplete gamma function ``P(a, x) = gamma(a, x) / Gamma(a)``.

    Parameters
    ----------
    a : float
        Shape, positive.
    x : float
        Argument, non-negative.

    Returns
    -------
    float
        ``P(a, x)`` in [0, 1]: the CDF at ``x`` of a Gamma(a, 1) variable (a chi-square variable of
        ``2a`` degrees of freedom at ``2x``).

    Raises
    ------
    ValueError
        If ``a <= 0`` or ``x < 0``.

    Examples
    --------
    >>> round(regularized_gamma_p(1.0, 2.0), 6)  # 1 - exp(-2)
    0.864665
    """
    if not a > 0 or not x >= 0:
        raise ValueError(f"regularized gamma needs a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 0.0
    if x < a + 1.0:
        return min(1.0, _gamma_series(a, x))
    return max(0.0, 1.0 - _gamma_continued_fraction(a, x))


def regularized_gamma_q(a: float, x: float) -> float:
    """Return the regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    Computed directly where it is small (no cancellation in ``1 - P``).

    Parameters
    ----------
    a : float
        Shape, positive.
    x : float
        Argument, non-negative.

    Returns
    -------
    float
        ``Q(a, x)`` in [0, 1].

    Raises
    ------
    ValueError
        If ``a <= 0`` or ``x < 0``.
    """
    if not a > 0 or not x >= 0:
        raise ValueError(f"regularized gamma needs a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_series(a, x))
    return min(1.0, _gamma_continued_fraction(a, x))


def poisson_cdf(n: int, mu: float) -> float:
    """Return ``P(N <= n)`` for ``N`` Poisson with mean ``mu``: ``Q(n + 1, mu)``.

    Parameters
    ----------
    n : int
        Count (a negative count has probability 0).
    mu : float
        Mean, non-negative.

    Returns
    -------
    float
        The cumulative probability.
    """
    if n < 0:
        return 0.0
    return 1.0 if mu == 0 else regularized_gamma_q(n + 1.0, mu)


def gamma_quantile(a: float, p: float) -> float:
    """Return ``x`` with ``P(a, x) = p``, by bisection (the chi-square quantile of ``2a`` d.o.f. is twice it).

    Parameters
    ----------
    a : float
        Shape, positive.
    p : float
        Probability in [0, 1).

    Returns
    -------
    float
        The quantile, to a relative precision of about 1e-12.

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1).

    Examples
    --------
    >>> round(2 * gamma_quantile(5.0, 0.95), 3)  # chi-square, 10 degrees of freedom, 95 %
    18.307
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"probability must be in [0, 1), got {p}")
    if p == 0.0:
        return 0.0
    low, high = 0.0, a + 10.0 * math.sqrt(a) + 20.0
    while regularized_gamma_p(a, high) < p:
        low, high = high, 2.0 * high
    for _ in range(400):
        middle = 0.5 * (low + high)
        if regularized_gamma_p(a, middle) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * high:
            break
    return 0.5 * (low + high)


def normal_quantile(p: float) -> float:
    """Return the standard normal quantile (``statistics.NormalDist``, Wichura's AS 241).

    Parameters
    ----------
    p : float
        Probability in (0, 1).

    Returns
    -------
    float
        ``z`` with ``Phi(z) = p``.
    """
    return NormalDist().inv_cdf(p)


def garwood_interval(n: int, confidence: float) -> tuple[float, float]:
    """Return the central (Garwood 1936) confidence interval of a Poisson mean after observing ``n``.

    Each tail holds ``(1 - confidence) / 2``: the lower limit solves ``P(N >= n | mu) = alpha / 2`` (0 for
    ``n = 0``), the upper ``P(N <= n | mu) = alpha / 2``. These are Gehrels' (1986) tabulated limits.

    Parameters
    ----------
    n : int
        Observed count (non-negative).
    confidence : float
        Confidence level in (0, 1), e.g. 0.9.

    Returns
    -------
    tuple of float
        (lower, upper) limits of the mean.

    Raises
    ------
    ValueError
        If ``n`` is negative or ``confidence`` is not in (0, 1).

    Examples
    --------
    >>> [round(v, 3) for v in garwood_interval(0, 0.9)]  # -ln(0.05)
    [0.0, 2.996]
    """
    _check_level(confidence)
    if n < 0:
        raise ValueError(f"a count cannot be negative, got {n}")
    tail = 0.5 * (1.0 - confidence)
    lower = 0.0 if n == 0 else gamma_quantile(float(n), tail)
    return lower, gamma_quantile(n + 1.0, 1.0 - tail)


@functools.lru_cache(maxsize=8)
def _log_factorials(size: int) -> np.ndarray:
    # log(k!) for k < size: a cumulative sum of logs, exact enough for ratios of Poisson probabilities.
    table = np.zeros(size)
    table[1:] = np.cumsum(np.log(np.arange(1, size)))
    return table


def _inside(mus: np.ndarray, n0: int, background: float, confidence: float) -> np.ndarray:
    """Whether the Feldman–Cousins acceptance region of each signal mean in ``mus`` holds the count ``n0``.

    Counts enter a region in decreasing order of the likelihood ratio ``R(n) = P(n | mu + b) / P(n | mu_best
    + b)`` until it holds ``confidence``, so ``n0`` is in it exactly when the counts ranked above it hold
    less than ``confidence``. Vectorised over the means (no sorting): one matrix of counts per chunk.
    """
    lams = np.asarray(mus, dtype=float) + background
    out = np.empty(lams.size, dtype=bool)
    for start in range(0, lams.size, 256):
        lam = lams[start:start + 256, None]
        low, high = float(lam.min()), float(lam.max())
        # Counts beyond 8 standard deviations (plus 30) of every mean hold less than 1e-14 of it.
        n = np.arange(min(n0, max(0, int(low - 8.0 * math.sqrt(low) - 30.0))),
                      max(n0, int(high + 8.0 * math.sqrt(high) + 30.0)) + 1)
        log_fact = _log_factorials(1 << max(10, int(n[-1] + 1).bit_length()))[n]
        best = np.maximum(n - background, 0.0) + background  # mu_best + b, the likeliest mean given n
        with np.errstate(divide="ignore", invalid="ignore"):
            log_best = np.where(best > 0, n * np.log(np.where(best > 0, best, 1.0)) - best, 0.0)
            log_p = np.where(lam > 0, n * np.log(np.where(lam > 0, lam, 1.0)) - lam,
                             np.where(n == 0, 0.0, -np.inf))
        log_ratio = log_p - log_best  # the factorials cancel
        where = n0 - int(n[0])
        above = log_ratio > log_ratio[:, where:where + 1]
        held = np.sum(np.where(above, np.exp(log_p - log_fact), 0.0), axis=1)
        out[start:start + 256] = held < confidence
    return out


def _edge(inside: float, outside: float, n: int, background: float, confidence: float) -> float:
    # Bisect between a mean whose acceptance region holds n and one whose region does not.
    for _ in range(60):
        middle = 0.5 * (inside + outside)
        if _inside(np.array([middle]), n, background, confidence)[0]:
            inside = middle
        else:
            outside = middle
        if abs(outside - inside) <= 1e-7 * max(1.0, abs(inside)):
            break
    return 0.5 * (inside + outside)


@functools.lru_cache(maxsize=4096)
def feldman_cousins_interval(n: int, background: float, confidence: float) -> tuple[float, float]:
    """Return the Feldman–Cousins (1998) interval of a Poisson signal mean over a known background.

    For each signal mean ``mu`` the acceptance region collects counts in decreasing order of the
    likelihood ratio ``P(n | mu + b) / P(n | mu_best + b)``, ``mu_best = max(0, n - b)``, until they hold
    ``confidence``; the interval runs from the smallest to the largest ``mu`` whose region holds the
    observed ``n`` (FC's own rule where the belt is not monotonic, as in their Table IV). It covers the
    true mean with at least that probability, is never empty (even when fewer events than the
    background are seen), and passes from an upper limit (lower end 0) to a two-sided interval as the
    data decide, without the "flip-flopping" of choosing between them after looking. Means are
    scanned on a grid of step 0.005 (FC's) for small counts, at most 5,000 points (steps grow as
    ``sqrt(n)`` for large counts, where the belt is smooth), then each end is bisected to 1e-7.

    Parameters
    ----------
    n : int
        Observed count (non-negative).
    background : float
        Expected background count, known (non-negative).
    confidence : float
        Confidence level in (0, 1).

    Returns
    -------
    tuple of float
        (lower, upper) limits of the signal mean; lower is 0 for an upper limit.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Examples
    --------
    >>> [round(v, 2) for v in feldman_cousins_interval(0, 0.0, 0.9)]
    [0.0, 2.44]
    """
    _check_level(confidence)
    if n < 0 or not background >= 0:
        raise ValueError(f"need a count >= 0 and a background >= 0, got n={n}, background={background}")
    n, background = int(n), float(background)
    width = 12.0 * math.sqrt(n + 1.0) + 12.0
    start, stop = max(0.0, n - background - width), max(n - background, 0.0) + width
    grid = np.linspace(start, stop, int(min(5_000, max(400, (stop - start) / 0.005))) + 1)
    inside = _inside(grid, n, background, confidence)
    if not inside.any():  # the likeliest mean always holds n; add it where the grid stepped over it
        grid = np.sort(np.append(grid, max(n - background, 0.0)))
        inside = _inside(grid, n, background, confidence)
    first, last = int(np.argmax(inside)), int(grid.size - 1 - np.argmax(inside[::-1]))
    if first == 0 and start > 0 or last == grid.size - 1:
        raise ArithmeticError(f"the Feldman-Cousins scan for n={n}, background={background} missed an end")
    lower = 0.0 if first == 0 else _edge(grid[first], grid[first - 1], n, background, confidence)
    return max(0.0, float(lower)), float(_edge(grid[last], grid[last + 1], n, background, confidence))


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Return the Wilson (1927) score interval of a binomial proportion.

    Parameters
    ----------
    successes, trials : int
        Counts, ``0 <= successes <= trials`` and ``trials > 0``.
    confidence : float
        Confidence level in (0, 1).

    Returns
    -------
    tuple of float
        (lower, upper), within [0, 1]; lower is 0 when ``successes == 0`` and upper 1 when all succeed.

    Raises
    ------
    ValueError
        If the counts are inconsistent or ``confidence`` is not in (0, 1).

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(5, 10, 0.95)]
    [0.2366, 0.7634]
    """
    _check_level(confidence)
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    z = normal_quantile(0.5 * (1.0 + confidence))
    z2 = z * z
    centre = (successes + 0.5 * z2) / (trials + z2)
    half = z * math.sqrt(successes * (trials - successes) / trials + 0.25 * z2) / (trials + z2)
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper
