"""Write a synthetic, deterministic demo catalog (CSV) with Gaia-like columns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_path

__all__ = ["write_demo_catalog"]


def write_demo_catalog(path: str | Path, rows: int = 2400, seed: int = 42) -> int:
    """Write ``rows`` sources uniformly over the sky with a realistic magnitude distribution.

    Parameters
    ----------
    path : str or pathlib.Path
        Output CSV file (written atomically).
    rows : int
        Number of sources.
    seed : int
        Random seed; the same seed gives the same file.

    Returns
    -------
    int
        Number of rows written.
    """
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, rows)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rows)))
    # Number counts rise steeply towards faint magnitudes (log N ~ 0.3 m), as in a magnitude-limited survey.
    u = rng.uniform(0.0, 1.0, rows)
    lo, hi, slope = 12.0, 20.5, 0.3 * np.log(10)
    mag = lo + np.log1p(u * np.expm1(slope * (hi - lo))) / slope
    mag_err = 0.002 + 0.02 * 10 ** (0.4 * (mag - 20.0))
    parallax = np.abs(rng.lognormal(0.0, 1.0, rows))
    pmra, pmdec = rng.normal(0, 5, rows), rng.normal(0, 5, rows)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax"])
            for i in range(rows):
                writer.writerow([f"DEMO-{i + 1:06d}", f"{ra[i]:.6f}", f"{dec[i]:.6f}", f"{mag[i]:.3f}",
                                 f"{mag_err[i]:.4f}", f"{pmra[i]:.3f}", f"{pmdec[i]:.3f}", f"{parallax[i]:.3f}"])
    return rows
