"""Choosing from MAST answers for Kepler and K2: the mission target of a source, and the lightcurve files to fetch."""

from __future__ import annotations

import re
from typing import Callable, Sequence

from virtualobserver.adapters.surveys.tess_selection import separation_arcsec

__all__ = ["CADENCE_SUFFIXES", "choose_target", "select_products"]

#: File-name suffix of each cadence's lightcurve (long: 29.4 min, short: 58.8 s).
CADENCE_SUFFIXES = {"long": "llc", "short": "slc"}


def choose_target(rows: Sequence[dict], ra: float, dec: float, radius_arcsec: float, prefix: str) -> dict | None:
    """Pick the mission target nearest to a source from a Mast.Caom.Filtered.Position answer.

    Only observations of the mission's own targets count (``target_name``
    ``kplr`` or ``ktwo`` followed by the nine-digit KIC or EPIC number);
    every observation of the chosen target is listed, so that all its
    quarters or campaigns are asked for.

    Parameters
    ----------
    rows : sequence of dict
        Observation rows (``obsid``, ``target_name``, ``s_ra``, ``s_dec``, ...).
    ra, dec : float
        Source position at the catalog's epoch of the targets, J2000 (degrees).
    radius_arcsec : float
        Largest separation accepted.
    prefix : str
        ``"kplr"`` (Kepler) or ``"ktwo"`` (K2).

    Returns
    -------
    dict or None
        ``id`` (int), ``target_name``, ``ra``, ``dec``, ``distance_arcsec`` and ``obsids`` (sorted
        strings); None when no target is close enough.
    """
    name_pattern = re.compile(rf"^{re.escape(prefix)}(\d{{9}})$")
    targets: dict[str, dict] = {}
    for row in rows:
        name = str(row.get("target_name") or "").strip().lower()
        match = name_pattern.match(name)
        if match is None or row.get("s_ra") is None or row.get("s_dec") is None or row.get("obsid") is None:
            continue
        distance = separation_arcsec(ra, dec, float(row["s_ra"]), float(row["s_dec"]))
        target = targets.setdefault(name, {"id": int(match.group(1)), "target_name": name,
                                           "ra": float(row["s_ra"]), "dec": float(row["s_dec"]),
                                           "distance_arcsec": distance, "obsids": set()})
        target["obsids"].add(str(row["obsid"]))
        if distance < target["distance_arcsec"]:
            target.update(ra=float(row["s_ra"]), dec=float(row["s_dec"]), distance_arcsec=distance)
    near = [t for t in targets.values() if t["distance_arcsec"] <= radius_arcsec]
    if not near:
        return None
    best = min(near, key=lambda t: (t["distance_arcsec"], t["id"]))
    return {**best, "obsids": sorted(best["obsids"])}


def select_products(rows: Sequence[dict], prefix: str, target_id: int, cadences: Sequence[str],
                    seasons: Sequence[int], season_of: Callable[[dict], int | None]) -> list[dict]:
    """Keep the pipeline lightcurve files of one target, wanted cadences and seasons, one row per file.

    Parameters
    ----------
    rows : sequence of dict
        Mast.Caom.Products rows.
    prefix : str
        ``"kplr"`` or ``"ktwo"``.
    target_id : int
        KIC or EPIC number: files of other targets (neighbours sharing an observation) are left out.
    cadences : sequence of str
        ``"long"`` and/or ``"short"``.
    seasons : sequence of int
        Wanted quarters or campaigns; empty means all. A row whose season ``season_of`` cannot
        tell is kept (its file's header decides after the download).
    season_of : callable
        Product row -> season, or None.

    Returns
    -------
    list of dict
        Rows sorted by file name.
    """
    suffixes = "|".join(CADENCE_SUFFIXES[c] for c in cadences)
    pattern = re.compile(rf"^{re.escape(prefix)}{target_id:09d}-[0-9a-z]+_({suffixes})\.fits$")
    chosen: dict[str, dict] = {}
    for row in rows:
        name = str(row.get("productFilename") or "")
        if not pattern.match(name) or not row.get("dataURI"):
            continue  # target pixel files, other targets, HLSPs, compressed or odd names
        season = season_of(row)
        if seasons and season is not None and season not in set(seasons):
            continue
        chosen.setdefault(name, row)
    return [chosen[name] for name in sorted(chosen)]
