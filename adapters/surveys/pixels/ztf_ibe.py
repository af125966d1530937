"""IRSA IBE for ZTF: the metadata search of science exposures at a position, and their image URLs."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from astropy.io import ascii

from virtualobserver.domain.errors import DataError

__all__ = ["MJD_TO_JD", "SEARCH_PATH", "ZtfExposure", "parse_exposures", "science_image_path", "where_near"]

#: IBE metadata search of science exposures, relative to the IRSA base URL.
SEARCH_PATH = "ibe/search/ztf/products/sci"
#: IBE folder of science products, relative to the IRSA base URL.
DATA_PATH = "ibe/data/ztf/products/sci"
#: JD = MJD + MJD_TO_JD.
MJD_TO_JD = 2400000.5
#: Metadata columns the cutouts need.
COLUMNS = ("field", "ccdid", "qid", "filtercode", "obsjd", "filefracday", "imgtypecode")
_FILEFRACDAY = re.compile(r"^\d{14}$")
_FILTERCODE = re.compile(r"^z[gri]$")
_IMGTYPE = re.compile(r"^[a-z]$")


@dataclass(frozen=True)
class ZtfExposure:
    """One ZTF science image (one CCD quadrant of one exposure) covering a position.

    Attributes
    ----------
    field, ccdid, qid : int
        ZTF field, CCD (1-16) and quadrant (1-4).
    filtercode : str
        ``zg``, ``zr`` or ``zi``.
    obsjd : float
        Start of the exposure (JD, UTC).
    filefracday : str
        ``YYYYMMDDFFFFFF``: year, month, day and fraction of day, as in the file names.
    imgtypecode : str
        Image type (``o`` for science images).
    """

    field: int
    ccdid: int
    qid: int
    filtercode: str
    obsjd: float
    filefracday: str
    imgtypecode: str = "o"

    @property
    def file_name(self) -> str:
        """Return the science image's file name, e.g. ``ztf_20180528322824_000784_zr_c10_o_q4_sciimg.fits``."""
        return (f"ztf_{self.filefracday}_{self.field:06d}_{self.filtercode}_c{self.ccdid:02d}_"
                f"{self.imgtypecode}_q{self.qid}_sciimg.fits")


def science_image_path(exposure: ZtfExposure) -> str:
    """Return the image's path relative to the IRSA base URL (``ibe/data/ztf/products/sci/YYYY/MMDD/FFFFFF/...``).

    Parameters
    ----------
    exposure : ZtfExposure
        A row of the metadata search.

    Returns
    -------
    str
        The path; append ``?center=...&size=...`` for a cutout.

    Examples
    --------
    >>> science_image_path(ZtfExposure(784, 10, 4, "zr", 2458266.8228, "20180528322824"))
    'ibe/data/ztf/products/sci/2018/0528/322824/ztf_20180528322824_000784_zr_c10_o_q4_sciimg.fits'
    """
    f = exposure.filefracday
    return f"{DATA_PATH}/{f[:4]}/{f[4:8]}/{f[8:]}/{exposure.file_name}"


def where_near(times_jd: Sequence[float], window_days: float) -> str:
    """Return an IBE ``WHERE`` clause keeping exposures within ``window_days`` of any of the times.

    Parameters
    ----------
    times_jd : sequence of float
        Times of interest (JD, UTC), e.g. detection peaks.
    window_days : float
        Half-width of each window (days).

    Returns
    -------
    str
        ``obsjd BETWEEN a AND b OR ...`` with overlapping windows merged.

    Examples
    --------
    >>> where_near([2459000.5, 2459000.6, 2459100.0], 0.5)
    '(obsjd BETWEEN 2459000.000000 AND 2459001.100000) OR (obsjd BETWEEN 2459099.500000 AND 2459100.500000)'
    """
    spans: list[list[float]] = []
    for t in sorted(float(t) for t in times_jd if np.isfinite(t)):
        if spans and t - window_days <= spans[-1][1]:
            spans[-1][1] = t + window_days
        else:
            spans.append([t - window_days, t + window_days])
    if not spans:
        raise ValueError("no finite time to search around")
    return " OR ".join(f"(obsjd BETWEEN {a:.6f} AND {b:.6f})" for a, b in spans)


def parse_exposures(body: bytes) -> list[ZtfExposure]:
    """Parse an IBE metadata answer (IPAC table) into exposures, sorted by time.

    Parameters
    ----------
    body : bytes
        The answer.

    Returns
    -------
    list of ZtfExposure
        One per row (empty for a table without rows).

    Raises
    ------
    DataError
        Not an IPAC table, a needed column missing, or a value that cannot name a file.
    """
    text = body.decode("utf-8", "replace")
    if "|" not in text:
        raise DataError("IBE answer is not an IPAC table (no column header line)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy warns about IPAC keywords it does not use
            table = ascii.read(text, format="ipac", guess=False)
    except Exception as exc:  # astropy's readers raise many kinds for a malformed table
        raise DataError(f"IBE answer is not a readable IPAC table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in COLUMNS if c not in table.colnames]
    if missing:
        raise DataError(f"IBE answer lacks the columns {missing}")
    exposures = []
    for row in table:
        day, code = str(row["filefracday"]).strip(), str(row["filtercode"]).strip()
        kind = str(row["imgtypecode"]).strip()
        if not _FILEFRACDAY.match(day) or not _FILTERCODE.match(code) or not _IMGTYPE.match(kind):
            raise DataError(f"IBE row with filefracday {day!r}, filtercode {code!r}, imgtypecode {kind!r} "
                            "names no image")
        exposures.append(ZtfExposure(int(row["field"]), int(row["ccdid"]), int(row["qid"]), code,
                                     float(row["obsjd"]), day, kind))
    return sorted(exposures, key=lambda e: (e.obsjd, e.file_name))
