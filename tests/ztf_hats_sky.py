"""A synthetic ZTF sky for bulk tests and benchmarks: a catalog and its epochs in the columns of the IRSA answer.

Sources sit on a jittered grid (180 arcsec apart, so no cone holds two stars); each has a g and an r ZTF
object of ``epochs`` epochs every 3 days, a few per cent of them on bad images (catflags 32768), positions
scattered by 0.1 arcsec. Every ``flare_every``-th source has a flare: 1.5 mag brighter for three r epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from virtualobserver.adapters.surveys.ztf_format import ZTF_DTYPES

__all__ = ["synthetic_ztf_sky", "write_catalog"]

SPACING_DEG = 0.05


def synthetic_ztf_sky(n: int, *, epochs: int = 30, flare_every: int = 1000, seed: int = 11,
                      ra0: float = 100.0, dec0: float = 10.0):
    """Return the catalog (names, ra, dec, mag), the epoch columns and the indices of the flaring sources.

    Parameters
    ----------
    n : int
        Sources.
    epochs : int
        Epochs per ZTF object (two objects per source: zg and zr).
    flare_every : int
        One source in this many has a flare (source indices 0, flare_every, ...).
    seed : int
        Random seed.
    ra0, dec0 : float
        Corner of the grid (degrees).

    Returns
    -------
    tuple
        ``(catalog, columns, flaring)``: catalog a dict of arrays, columns the epoch rows (24 IRSA columns),
        flaring the indices of the sources with a flare.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    dec = dec0 + (i // side) * SPACING_DEG + rng.uniform(-0.005, 0.005, n)
    ra = ra0 + (i % side) * SPACING_DEG / np.cos(np.radians(dec)) + rng.uniform(-0.005, 0.005, n)
    mag = rng.uniform(14.0, 18.0, n)
    catalog = {"name": np.array([f"Z{k:07d}" for k in i]), "ra": ra, "dec": dec, "mag": mag}

    objects = 2 * n
    source_of = np.repeat(i, 2)
    band = np.tile(np.array([1, 2]), n)
    rows = objects * epochs
    obj = np.repeat(np.arange(objects), epochs)
    k = np.tile(np.arange(epochs), objects)
    mjd = 58300.2 + 3.0 * k + 0.04 * band[obj] + rng.uniform(0.0, 0.01, rows)
    bad = rng.uniform(size=rows) < 0.04
    src = source_of[obj]
    magerr = 0.01 + 0.02 * 10 ** (0.4 * (mag[src] - 18.0))
    values = mag[src] + 0.1 * (band[obj] == 1) + rng.normal(0.0, 1.0, rows) * magerr
    flaring = np.arange(0, n, flare_every)
    flare = np.isin(src, flaring) & (band[obj] == 2) & (k >= epochs // 2) & (k < epochs // 2 + 3)
    values = values - 1.5 * flare
    bad &= ~flare
    scatter = 0.1 / 3600.0
    columns = {
        "oid": (633_000_000_000_000 + obj).astype(np.int64), "expid": (60_000_000 + k).astype(np.int64),
        "hjd": mjd + 2400000.5, "mjd": mjd, "mag": values, "magerr": magerr,
        "catflags": np.where(bad, 32768, 0).astype(np.int64),
        "filtercode": np.where(band[obj] == 1, "zg", "zr"),
        "ra": ra[src] + rng.normal(0.0, scatter, rows) / np.cos(np.radians(dec[src])),
        "dec": dec[src] + rng.normal(0.0, scatter, rows),
        "chi": np.ones(rows), "sharp": np.zeros(rows), "filefracday": (20180701000000 + k).astype(np.int64),
        "field": np.full(rows, 633, np.int64), "ccdid": np.full(rows, 3, np.int64), "qid": np.full(rows, 2, np.int64),
        "limitmag": np.where(bad, 18.9, 20.8), "magzp": np.where(bad, 24.9, 26.2), "magzprms": np.full(rows, 0.03),
        "clrcoeff": np.full(rows, -0.05), "clrcounc": np.full(rows, 1e-5), "exptime": np.full(rows, 30.0),
        "airmass": np.full(rows, 1.2), "programid": np.ones(rows, np.int64),
    }
    assert list(columns) == list(ZTF_DTYPES)
    return catalog, columns, flaring


def write_catalog(path: Path, catalog: dict) -> Path:
    """Write the catalog as CSV (name, ra, dec, mag) and return its path.

    Parameters
    ----------
    path : pathlib.Path
        File to write.
    catalog : dict
        As :func:`synthetic_ztf_sky` returns it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    lines = ["name,ra,dec,mag"] + [f"{n},{r!r},{d!r},{m:.3f}" for n, r, d, m in
                                   zip(catalog["name"], catalog["ra"].tolist(), catalog["dec"].tolist(),
                                       catalog["mag"].tolist())]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)
