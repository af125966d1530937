"""Synthetic lightcurves and catalogs with fixed seeds."""

from __future__ import annotations

import numpy as np

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.lightcurve import Lightcurve


def flat_lightcurve(n: int = 200, flux: float = 100.0, sigma: float = 1.0, seed: int = 0,
                    survey: str = "test", filter: str = "g") -> Lightcurve:
    """A constant source with Gaussian noise of known sigma (and matching quoted errors)."""
    rng = np.random.default_rng(seed)
    mjd = 59000.0 + np.arange(n, dtype=float)
    f = flux + rng.normal(0.0, sigma, n)
    mag = 25.0 - 2.5 * np.log10(np.clip(f, 1e-9, None))
    return Lightcurve(survey, filter, 0, {
        "mjd": mjd, "flux": f, "fluxerr": np.full(n, sigma), "mag": mag,
        "magerr": np.full(n, 1.0857 * sigma / flux), "flag": np.zeros(n, int), "exptime": np.full(n, 30.0),
    }, source_name="flat")


def small_catalog(n: int = 10) -> Catalog:
    """A catalog of ``n`` sources named S000..., magnitudes 14..19."""
    return Catalog({
        "name": [f"S{i:03d}" for i in range(n)],
        "ra": np.linspace(1, 359, n), "dec": np.linspace(-60, 60, n), "mag": np.linspace(14, 19, n),
    }, name="small.csv")


def writable_columns(lightcurve) -> dict:
    """Return copies of a lightcurve's (read-only) columns to edit and assign back whole."""
    return {name: values.copy() for name, values in lightcurve.columns.items()}
