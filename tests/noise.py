"""Pure Gaussian noise lightcurves (right, unequal errors) and the Gaussian tail, for false-alarm tests."""

from __future__ import annotations

import math

import numpy as np

from virtualobserver.domain.lightcurve import Lightcurve

__all__ = ["noise_lightcurves", "two_sided_tail", "assert_tail"]


def noise_lightcurves(n: int, count: int, rng: np.random.Generator, cadence: float = 1.0,
                      flux: float = 100.0) -> list[Lightcurve]:
    """Return ``count`` lightcurves of ``n`` epochs of Gaussian noise whose quoted errors are right.

    Errors differ from epoch to epoch (uniform in 0.8-1.25), so the inverse-variance weights matter.
    """
    mjd = 59000.0 + cadence * np.arange(n, dtype=float)
    errors = rng.uniform(0.8, 1.25, (count, n))
    fluxes = flux + rng.standard_normal((count, n)) * errors
    template = Lightcurve("noise", "g", 0, {"mjd": mjd, "flux": np.full(n, flux), "fluxerr": np.ones(n),
                                            "mag": np.full(n, 20.0), "magerr": np.full(n, 0.01),
                                            "flag": np.zeros(n, np.int64), "exptime": np.full(n, 30.0)})
    # Copies share the template's times and flags (read-only), as injected copies do: cheap to make.
    magnitudes, magnitude_errors = template.mag, template.magerr
    return [template.with_photometry(f, e, magnitudes, magnitude_errors) for f, e in zip(fluxes, errors)]


def two_sided_tail(threshold: float) -> float:
    """P(|z| >= threshold) for z ~ N(0, 1)."""
    return math.erfc(threshold / math.sqrt(2.0))


def assert_tail(count: int, trials: int, threshold: float, *, min_expected: float) -> None:
    """Assert ``count`` of ``trials`` is within 3 binomial standard errors of the Gaussian tail.

    ``min_expected`` states the test's power: with E expected counts, a rate 20 % off is
    ``0.2 E / sqrt(E)`` standard errors away; E >= 500 makes that 4.5 (caught with 93 % probability),
    E >= 225 makes it 3 (caught half the time). The test refuses to run on fewer expected counts, and
    never passes on zero counts.
    """
    p = two_sided_tail(threshold)
    expected = trials * p
    assert expected >= min_expected, f"only {expected:.0f} expected counts: too few to test"
    standard_error = math.sqrt(trials * p * (1 - p))
    assert count > 0
    assert abs(count - expected) < 3 * standard_error, (
        f"|S/N| >= {threshold}: {count} of {trials} against {expected:.1f} +- {standard_error:.1f} "
        f"({(count / expected - 1) * 100:+.1f} %)")
