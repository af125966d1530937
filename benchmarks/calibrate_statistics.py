"""Calibrate the finder's small-sample statistics by Monte Carlo (prints tables to paste into the domain).

Run ``python benchmarks/calibrate_statistics.py gate [SAMPLES [SIZES]]`` or ``... location [SAMPLES]``
(SIZES: comma-separated numbers of epochs, default the table's; the table in the domain was made with
``gate 200000 10,14,20,28,40,56,80,113`` and ``gate 100000 160,226,320,452,640``):

* **gate**: the null distribution of the excess-scatter statistic ``g`` (1.4826 x MAD of the
  single-epoch S/N computed with the errors alone) on pure Gaussian noise with right errors, per
  number of good epochs, computed with the finder's own scoring (``excess_scatter=False``, so the S/N
  is that statistic's input). Prints ``_GATE_TABLE`` of :mod:`domain.analysis.calibration`: the
  quantiles at the one-sided Gaussian tails of 1, 2 and 3 sigma, as ``(q - 1) sqrt(n) / 1.1664``;
  4 and 5 sigma are extrapolated from the 2 and 3 sigma columns (measuring them would take 10^8
  lightcurves).
* **location**: ``n Var(location) / sigma**2`` of the median and of the biweight (cval 5) of ``n``
  Gaussian values, against :func:`domain.analysis.baselines.median_variance_factor` and
  :func:`~domain.analysis.baselines.biweight_variance_factor`.

The seeds are fixed: a rerun prints the same numbers.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from virtualobserver.domain.analysis.baselines import (  # noqa: E402
    _biweight_rows,
    biweight_variance_factor,
    median_variance_factor,
)
from virtualobserver.domain.analysis.calibration import _GATE_SIZES, MAD_SD_FACTOR  # noqa: E402
from virtualobserver.domain.analysis.finder import AnalysisParameters, score_many  # noqa: E402
from virtualobserver.domain.lightcurve import Lightcurve  # noqa: E402
from virtualobserver.domain.statistics import MAD_TO_SIGMA  # noqa: E402

_LEVELS = (1.0, 2.0, 3.0)


def noise_lightcurves(n: int, count: int, rng: np.random.Generator) -> list[Lightcurve]:
    """Return ``count`` lightcurves of ``n`` epochs of Gaussian noise with right, unequal errors."""
    mjd = np.arange(n, dtype=float)
    errors = rng.uniform(0.8, 1.25, (count, n))
    fluxes = 100.0 + rng.standard_normal((count, n)) * errors
    columns = {"mjd": mjd, "mag": np.full(n, 20.0), "magerr": np.full(n, 0.01), "flag": np.zeros(n, np.int64),
               "exptime": np.full(n, 30.0)}
    return [Lightcurve._adopt("calibration", "g", 0, {**{k: v.copy() for k, v in columns.items()},
                                                      "flux": f, "fluxerr": e})
            for f, e in zip(fluxes, errors)]


def gate(samples: int, sizes=_GATE_SIZES) -> None:
    """Print the quantile table of the excess-scatter statistic under pure noise (``samples`` lightcurves per size)."""
    rng = np.random.default_rng(20261207)
    parameters = AnalysisParameters(excess_scatter=False)
    tails = [0.5 * math.erfc(level / math.sqrt(2)) for level in _LEVELS]
    rows = []
    for n in sizes:
        count = samples
        values = []
        for start in range(0, count, 20_000):
            batch = noise_lightcurves(n, min(20_000, count - start), rng)
            for scores in score_many(batch, parameters):
                z = scores.snr[np.isfinite(scores.snr)]
                values.append(MAD_TO_SIGMA * np.median(np.abs(z - np.median(z))))
        values = np.array(values)
        quantiles = [float(np.quantile(values, 1.0 - tail)) for tail in tails]
        scaled = [(q - 1.0) * math.sqrt(n) / MAD_SD_FACTOR for q in quantiles]
        # 4 and 5 sigma: linear in the significance from the 2- and 3-sigma values.
        slope = scaled[2] - scaled[1]
        scaled += [scaled[2] + slope, scaled[2] + 2 * slope]
        rows.append(scaled)
        print(f"# n={n:4d} lightcurves={values.size:7d} median g={np.median(values):.4f} "
              f"quantiles={[round(q, 4) for q in quantiles]}", flush=True)
    print("_GATE_TABLE = np.array([")
    for n, row in zip(sizes, rows):
        print("    [" + ", ".join(f"{v:.3f}" for v in row) + f"],  # n = {n}")
    print("])")


def location(samples: int) -> None:
    """Print the measured variance factors of the median and the biweight next to the domain's."""
    rng = np.random.default_rng(7)
    print("n  median(measured, domain)  biweight(measured, domain)")
    for n in (4, 5, 6, 8, 10, 15, 20, 21, 33, 50, 100, 200):
        count = max(samples * 20 // n, 2000)
        x = rng.standard_normal((count, n))
        med = n * np.median(x, axis=1).var()
        bw = n * _biweight_rows(x, np.full(count, n), 5.0)[0].var()
        print(f"{n:4d}  {med:.4f} {float(median_variance_factor(n)):.4f}   "
              f"{bw:.4f} {float(biweight_variance_factor(n)):.4f}", flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "gate"
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    if what == "gate" and len(sys.argv) > 3:
        gate(size, tuple(int(n) for n in sys.argv[3].split(",")))
    else:
        {"gate": gate, "location": location}[what](size)
