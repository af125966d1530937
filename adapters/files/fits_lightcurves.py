"""Lightcurves as FITS: one binary table per lightcurve in one file, or one lightkurve-readable file each.

Both layouts carry the provenance keywords in the primary header and the FITS time keywords in each
table's header (``TIMESYS``, ``TIMEREF``, ``TREFPOS``, ``TIMEUNIT``, ``TIMEPIXR``, ``MJDREF`` and
``TCTYPn``/``TCUNIn`` on the time column), so that astropy's native reader
(``Table.read(path, hdu=k, astropy_native=True)``) gives the times as ``Time`` on their scale, and
never a ``CREATOR`` keyword: lightkurve's ``read`` then takes a file for a generic lightcurve instead
of an official Kepler/TESS product, which would need keywords only the missions' pipelines write.

* ``write_lightcurves_fits``: extension ``k`` (``EXTNAME='LIGHTCURVE'``, ``EXTVER=k``) holds the
  k-th lightcurve with the export's column names (``mjd``, ``flux``, ``fluxerr``, ...) and
  ``MJDREF = 0``, so ``mjd`` is the time itself. lightkurve reads one with
  ``lk.read(path, ext=k, time_column="mjd", flux_err_column="fluxerr", quality_column="flag")``.
* ``write_lightkurve_files``: one file per lightcurve in a folder, extension 1 named ``LIGHTCURVE``
  with lightkurve's columns ``TIME``, ``FLUX``, ``FLUX_ERR``, ``QUALITY`` (plus ``MAG``, ``MAG_ERR``,
  ``EXPTIME`` and any optional columns). TDB times are written as their mission writes them, BTJD
  for TESS (``BJDREFI = 2457000``, ``MJDREF = 56999.5``) and BKJD for Kepler and K2
  (``BJDREFI = 2454833``, ``MJDREF = 54832.5``), UTC times as MJD; ``lk.read(path)`` reads each
  and ``lk.LightCurveCollection`` gathers them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_folder, atomic_path
from virtualobserver.adapters.files.tables import primary_hdu, read_table, table_hdu
from virtualobserver.domain.naming import safe_key
from virtualobserver.services.product_tables import time_frame

__all__ = ["write_lightcurves_fits", "read_lightcurves_fits", "write_lightkurve_files", "lightkurve_layout",
           "BTJD_OFFSET", "BJD_REFERENCES"]

#: BTJD = BJD - 2457000 = MJD - 56999.5 (TESS's time reference).
BTJD_OFFSET = 2457000.0 - 2400000.5


#: Reference (BJD) of the missions' time stamps: BTJD = BJD - 2457000, BKJD = BJD - 2454833.
BJD_REFERENCES = {"tess": 2457000, "kepler": 2454833, "k2": 2454833}


def _bjd_reference(table) -> int | None:
    # TDB times are written as their mission writes them (BTJD or BKJD; BTJD for any other TDB survey).
    if str(table.meta.get("TIMESYS", "UTC")).upper() != "TDB":
        return None
    return BJD_REFERENCES.get(str(table.meta.get("SURVEY", "")).lower(), 2457000)


def _time_keywords(table, time_values: np.ndarray, *, bjdref: int | None) -> dict:
    scale = str(table.meta.get("TIMESYS", "UTC")).upper()
    frame = time_frame(scale, str(table.meta.get("SURVEY", "")))
    keywords = {**frame, **{k: table.meta[k] for k in frame if k in table.meta}}
    if bjdref is not None:
        # MJDREF for astropy and the FITS standard (which have no BJDREFI), BJDREFI/F for lightkurve.
        keywords.update(MJDREF=(bjdref - 2400000.5, "[d] MJD of time zero (BJD - 2400000.5)"),
                        BJDREFI=bjdref, BJDREFF=0.0)
    else:
        keywords.update(MJDREF=(0.0, "[d] times are MJD themselves"))
    if len(time_values) and np.isfinite(time_values).any():
        keywords.update(TSTART=float(np.nanmin(time_values)), TSTOP=float(np.nanmax(time_values)))
    return keywords


def write_lightcurves_fits(tables: Iterable, path: str | Path, meta: dict) -> int:
    """Write lightcurve tables to one FITS file, one binary-table extension each, atomically.

    Parameters
    ----------
    tables : iterable of astropy.table.Table
        From ``Products.lightcurve_tables`` (units and identity in each table's metadata).
    path : str or pathlib.Path
        Output file.
    meta : dict
        Provenance for the primary header.

    Returns
    -------
    int
        Lightcurves written.
    """
    from astropy.io import fits

    hdus = [primary_hdu(meta)]
    for number, table in enumerate(tables, start=1):
        extra = {"EXTNAME": "LIGHTCURVE", "EXTVER": number,
                 **_time_keywords(table, np.asarray(table["mjd"]), bjdref=None)}
        hdus.append(table_hdu(table, extra))
    with atomic_path(Path(path)) as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
    return len(hdus) - 1


def read_lightcurves_fits(path: str | Path) -> list:
    """Read every lightcurve of a file from :func:`write_lightcurves_fits`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    list of astropy.table.Table
        One per lightcurve, with units and metadata.
    """
    from astropy.io import fits

    with fits.open(path) as hdul:
        count = len(hdul) - 1
    return [read_table(path, "fits", hdu=number) for number in range(1, count + 1)]


def lightkurve_layout(table):
    """Return a lightcurve table in lightkurve's layout, with the header keywords of its extension.

    Parameters
    ----------
    table : astropy.table.Table
        From ``services.product_tables.lightcurve_table``.

    Returns
    -------
    tuple
        ``(astropy.table.Table, dict of header keywords)``.
    """
    from astropy.table import Table

    bjdref = _bjd_reference(table)
    time = np.asarray(table["mjd"], dtype=np.float64) - (0.0 if bjdref is None else bjdref - 2400000.5)
    flag = np.asarray(table["flag"])
    # lightkurve and the missions use 32-bit QUALITY; keep 64 bits only if a flag needs them.
    quality = flag.astype(np.int32) if flag.size == 0 or np.abs(flag).max() < 2**31 else flag
    out = Table({"TIME": time, "FLUX": table["flux"], "FLUX_ERR": table["fluxerr"], "QUALITY": quality,
                 "MAG": table["mag"], "MAG_ERR": table["magerr"], "EXPTIME": table["exptime"]})
    out["TIME"].unit = "d"
    for name in table.colnames:
        if name not in ("mjd", "flux", "fluxerr", "flag", "mag", "magerr", "exptime"):
            out[name.upper()] = table[name]
    out.meta.update(table.meta)
    return out, _time_keywords(table, time, bjdref=bjdref)


def write_lightkurve_files(tables: Iterable, folder: str | Path) -> list[Path]:
    """Write each lightcurve to its own lightkurve-readable FITS file in ``folder``, atomically.

    Parameters
    ----------
    tables : iterable of astropy.table.Table
        From ``Products.lightcurve_tables``.
    folder : str or pathlib.Path
        Output folder (created if needed).

    Returns
    -------
    list of pathlib.Path
        The files, named ``<source>_<survey>_<filter>_season<n>_lc.fits`` (the source part made safe).
    """
    from astropy.io import fits

    folder = Path(folder)
    written = []
    # The files gather in a staging folder and move into place together: an export killed part-way
    # leaves no folder of some lightcurves passing for the whole export (the next export sweeps it).
    with atomic_folder(folder) as staging:
        for table in tables:
            layout, keywords = lightkurve_layout(table)
            meta = dict(table.meta)
            primary = primary_hdu({**meta, "TELESCOP": str(meta.get("SURVEY", "")).upper()})
            extension = table_hdu(layout, {"EXTNAME": "LIGHTCURVE", **keywords}, time_names=("TIME",))
            name = (f"{safe_key(str(meta.get('OBJECT', 'source')))}_{_slug(meta.get('SURVEY', ''))}_"
                    f"{_slug(meta.get('FILTER', ''))}_season{int(meta.get('SEASON', 0))}_lc.fits")
            with atomic_path(staging / name) as tmp:
                fits.HDUList([primary, extension]).writeto(tmp, overwrite=True)
            written.append(folder / name)
    return written


def _slug(text) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(text)).strip("-.") or "x"
