"""Choosing from MAST answers: the TIC entry of a source, and the SPOC lightcurve files worth fetching."""

from __future__ import annotations

from typing import Sequence

from virtualobserver.adapters.surveys.spoc_format import json_number
from virtualobserver.adapters.surveys.tess_format import sector_from_filename
from virtualobserver.domain.astrometry import ARCSEC_PER_DEG, angular_separation_deg

__all__ = ["PRODUCT_GROUPS", "choose_tic", "json_number", "select_products", "separation_arcsec"]

#: MAST ``productSubGroupDescription`` of the SPOC lightcurve of each cadence (seconds, as configured).
PRODUCT_GROUPS = {"120": "LC", "20": "FAST-LC"}
#: TIC rows that are not a star of their own (TIC 8 ``disposition``).
_NOT_A_STAR = {"DUPLICATE", "ARTIFACT"}


def choose_tic(rows: Sequence[dict], ra: float, dec: float, radius_arcsec: float, mag: float | None,
               mag_tolerance: float) -> dict | None:
    """Pick the TIC entry of a source from a TIC cone answer.

    The nearest star within ``radius_arcsec``; if the source has a
    magnitude, the nearest whose Tmag is within ``mag_tolerance`` of it is
    preferred, and the nearest of all is the fallback. Rows marked as
    duplicates or artifacts are not stars of their own and are skipped.

    Parameters
    ----------
    rows : sequence of dict
        MAST TIC rows (``ID``, ``ra``, ``dec``, ``Tmag``, ...).
    ra, dec : float
        Source position at J2000 (degrees).
    radius_arcsec : float
        Largest separation accepted.
    mag : float or None
        Source magnitude.
    mag_tolerance : float
        Largest |Tmag - mag| counted as compatible.

    Returns
    -------
    dict or None
        ``tic_id``-bearing summary: ``ID``, ``ra``, ``dec``, ``Tmag``, ``pmRA``, ``pmDEC``,
        ``distance_arcsec``, ``mag_compatible``; None when no star is close enough.
    """
    candidates = []
    for row in rows:
        if row.get("ID") is None or row.get("ra") is None or row.get("dec") is None:
            continue
        if str(row.get("disposition") or "").upper() in _NOT_A_STAR:
            continue
        distance = separation_arcsec(ra, dec, float(row["ra"]), float(row["dec"]))
        if distance <= radius_arcsec:
            candidates.append((distance, row))
    if not candidates:
        return None
    candidates.sort(key=lambda item: (item[0], int(item[1]["ID"])))

    def compatible(row: dict) -> bool:
        tmag = row.get("Tmag")
        return mag is not None and isinstance(tmag, (int, float)) and abs(float(tmag) - mag) <= mag_tolerance

    distance, row = next(((d, r) for d, r in candidates if compatible(r)), candidates[0])
    return {"ID": int(row["ID"]), "ra": float(row["ra"]), "dec": float(row["dec"]),
            "Tmag": json_number(row.get("Tmag")), "pmRA": json_number(row.get("pmRA")),
            "pmDEC": json_number(row.get("pmDEC")), "distance_arcsec": float(distance),
            "mag_compatible": compatible(row)}


def select_products(rows: Sequence[dict], cadences: Sequence[str], sectors: Sequence[int]) -> list[dict]:
    """Keep the SPOC lightcurve files of the wanted cadences and sectors, one row per file.

    Parameters
    ----------
    rows : sequence of dict
        Mast.Caom.Products rows.
    cadences : sequence of str
        ``"120"`` and/or ``"20"``.
    sectors : sequence of int
        Wanted sectors; empty means all.

    Returns
    -------
    list of dict
        Rows sorted by file name.
    """
    groups = {PRODUCT_GROUPS[c] for c in cadences}
    chosen: dict[str, dict] = {}
    for row in rows:
        name = str(row.get("productFilename") or "")
        if row.get("productSubGroupDescription") not in groups or not name.endswith(".fits") or not row.get("dataURI"):
            continue
        if "/" in name or name.startswith("."):
            continue  # only plain file names go into the cache
        if sectors and sector_from_filename(name) not in set(sectors):
            continue
        chosen.setdefault(name, row)
    return [chosen[name] for name in sorted(chosen)]


def separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Return the angular distance between two positions (degrees in) in arcseconds.

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : float
        Positions in degrees.

    Returns
    -------
    float
        Separation in arcseconds.

    Examples
    --------
    >>> round(separation_arcsec(10.0, 0.0, 10.0, 1 / 3600), 6)
    1.0
    """
    return float(angular_separation_deg(ra1, dec1, ra2, dec2)) * ARCSEC_PER_DEG
