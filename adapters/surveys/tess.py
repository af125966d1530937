"""VirtualTESS: TESS SPOC 2-min and 20-s lightcurves from MAST, one lightcurve per sector."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from adapters.http.parameters import http_specs
from adapters.surveys.mast import filters
from adapters.surveys.mast_lightcurves import MastLightcurveClient
from adapters.surveys.spoc_format import MissionLightcurveFile
from adapters.surveys.tess_format import TESS
from adapters.surveys.tess_photometry import fill_missing_times, photometry
from adapters.surveys.tess_selection import PRODUCT_GROUPS, choose_tic, select_products
from domain.astrometry import propagate_position
from domain.parameters import Param, Parameters
from domain.rawdata import RawData
from domain.source import Source

__all__ = ["TessParameters", "VirtualTESS", "TIC_EPOCH", "TESS_DETREND_WINDOW_DAYS", "aperture_name",
           "fill_missing_times", "photometry"]

#: Julian year of TIC positions (TIC 8 gives ICRS positions at J2000.0).
TIC_EPOCH = 2000.0
#: Default width (days) of the sliding biweight that detrends TESS lightcurves before the search.
TESS_DETREND_WINDOW_DAYS = 0.3
_TIC_CONE = "Mast.Catalogs.Tic.Cone"
_OBSERVATIONS = "Mast.Caom.Filtered"


class TessParameters(Parameters):
    """Download parameters of TESS (MAST, SPOC lightcurves)."""

    SPECS = {
        # SPOC files are 2 MB (2-min cadence) to about 40 MB (20-s cadence); MAST query answers are smaller.
        **http_specs("https://mast.stsci.edu", rate_limit_per_s=5, max_concurrency=4, max_answer_mb=200.0,
                     deadline_s=900.0),
        "tic_radius_arcsec": Param(10.0, float, "Radius around the source (at J2000) in which to look for its TIC "
                                   "entry (arcsec).", minimum=0.01, maximum=600.0),
        "tic_mag_tolerance": Param(2.0, float, "A TIC star whose Tmag differs from the source mag by at most this is "
                                   "preferred over a nearer one that does not (mag).", minimum=0.0, maximum=30.0),
        "cadences": Param(["120"], list, "SPOC cadences to download (seconds): 120 (2-min) and/or 20 (fast).",
                          item_kind=str, choices=tuple(PRODUCT_GROUPS)),
        "flux_column": Param("pdcsap", str, "Flux of the lightcurves: pdcsap (systematics-corrected) or sap.",
                             choices=("pdcsap", "sap")),
        "quality_bitmask": Param("default", str, "QUALITY bits that flag a cadence, as lightkurve's presets.",
                                 choices=("default", "hard", "hardest", "none")),
        "sectors": Param([], list, "Sectors to download; empty means all.", item_kind=int),
    }

    def section_defaults(self) -> dict[str, dict[str, Any]]:
        """Return TESS's defaults of the analysis and histogram blocks.

        TESS stars rotate and spots drift within a sector, so the search runs
        on a biweight-detrended lightcurve (window :data:`TESS_DETREND_WINDOW_DAYS`);
        the histograms count the filters TESS lightcurves carry.

        Returns
        -------
        dict of str to dict
            ``analysis`` (``detrend``, ``detrend_window_days``) and ``histograms`` (``filters``).
        """
        bands = ["TESS"] + (["TESS-fast"] if "20" in self.cadences else [])
        return {"analysis": {"detrend": "biweight", "detrend_window_days": TESS_DETREND_WINDOW_DAYS},
                "histograms": {"filters": bands}}


class VirtualTESS(MastLightcurveClient):
    """TESS SPOC lightcurves from MAST.

    ``download`` finds the source's TIC entry (nearest within
    ``tic_radius_arcsec`` of the position moved to J2000, preferring a
    compatible Tmag), lists its SPOC lightcurve files and fetches each into
    the raw-answer cache, checking every HDU's FITS checksum. All cadences
    are kept in the raw table, including those with NaN times; ``reduce``
    flags rather than drops them. The 2-min lightcurve of a sector is in
    filter ``"TESS"``; 20-s data, which covers the same sector, is in
    ``"TESS-fast"`` so both can be stored. Magnitudes are at the TESS zero
    point (:data:`~adapters.surveys.tess_format.TESS_ZERO_POINT`).

    MAST query answers are also written to the cache, but only read from it
    in offline mode: online, the file list is always asked afresh so that new
    sectors appear, while the files themselves (immutable) come from the
    cache whenever present.

    Parameters
    ----------
    parameters : TessParameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session (tests pass one; a pooled one by default).
    sleep : callable
        Pause between retries and between MAST polls.
    """

    name = "tess"
    parameters_class = TessParameters
    mission = TESS
    id_key = "tic_id"
    id_prefix = "TIC"

    def band(self, cadence_s: float) -> str:
        """Return ``"TESS-fast"`` for 20-s data, ``"TESS"`` otherwise."""
        return "TESS-fast" if 0 < cadence_s < 60.0 else "TESS"

    def aperture_name(self, lc: MissionLightcurveFile) -> str:
        """Return the image name of a file's aperture (see the module function :func:`aperture_name`)."""
        return aperture_name(lc.season, lc.cadence_s)

    def download(self, source: Source) -> RawData:
        """Return every SPOC lightcurve cadence of ``source`` as one raw table.

        Parameters
        ----------
        source : Source
            Target; its proper motion and epoch move it to the TIC epoch, its mag helps pick the TIC entry.

        Returns
        -------
        RawData
            Columns of :data:`~adapters.surveys.tess_format.RAW_COLUMNS` (zero length if there is no
            TIC entry or no lightcurve); meta with the TIC entry and per file its headers; the
            aperture of each file under ``images``.

        Raises
        ------
        SurveyError
            On a permanent failure (MAST error, offline without a cached answer).
        TransientSurveyError
            When MAST keeps failing, or a file keeps arriving cut or corrupt.
        """
        star = self.resolve_tic(source)
        if star is None:
            return self._empty(source, {"tic_id": None, "tic_radius_arcsec": self.parameters.tic_radius_arcsec})
        tic = int(star["ID"])
        meta = {"tic_id": tic, "tic": star}
        products = self.list_products(tic, source.name)
        if not products:
            return self._empty(source, {**meta, "files": []})
        return self._download_products(source, tic, products, meta)

    def resolve_tic(self, source: Source) -> dict | None:
        """Return the TIC entry of ``source`` (a JSON-able dict with ``distance_arcsec``), or None.

        Parameters
        ----------
        source : Source
            Target.

        Returns
        -------
        dict or None
            The chosen TIC row's identity, position, Tmag and proper motion.
        """
        p = self.parameters
        ra, dec = source.ra, source.dec
        if source.epoch is not None:
            ra, dec = (float(v) for v in propagate_position(ra, dec, source.pmra, source.pmdec,
                                                             source.epoch, TIC_EPOCH))
        params = {"ra": ra, "dec": dec, "radius": p.tic_radius_arcsec / 3600.0}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        rows = self._query(_TIC_CONE, params, source.name, self.cache.path(self.name, source.name,
                                                                            f"tic_cone_{digest}.json"))
        return choose_tic(rows, ra, dec, p.tic_radius_arcsec, source.mag, p.tic_mag_tolerance)

    def list_products(self, tic: int, what: str = "") -> list[dict]:
        """Return the SPOC lightcurve products of a TIC star for the configured cadences and sectors.

        Parameters
        ----------
        tic : int
            TIC identifier.
        what : str
            Source name, for messages.

        Returns
        -------
        list of dict
            MAST product rows (``productFilename``, ``dataURI``, ``size``, ...), one per file, by file name.
        """
        p = self.parameters
        criteria: dict[str, Any] = dict(obs_collection="TESS", dataproduct_type="timeseries",
                                        target_name=str(tic), provenance_name="SPOC")
        if p.sectors:
            criteria["sequence_number"] = list(p.sectors)
        selection = hashlib.sha256(json.dumps([sorted(p.cadences), sorted(p.sectors)]).encode()).hexdigest()[:16]
        observations = self._query(_OBSERVATIONS, {"columns": "*", "filters": filters(**criteria)}, what,
                                   self.cache.path(self.name, self._key(tic), f"observations_{selection}.json"))
        obsids = [str(row["obsid"]) for row in observations if row.get("obsid") is not None]
        return select_products(self._product_rows(obsids, tic, what), p.cadences, p.sectors)


def aperture_name(sector: int, cadence_s: float) -> str:
    """Return the image name of a file's aperture: ``aperture_s0001`` (2-min) or ``aperture_s0001_fast`` (20-s).

    Parameters
    ----------
    sector : int
        Sector number.
    cadence_s : float
        Seconds per cadence.

    Returns
    -------
    str
        Image name in :attr:`RawData.images`.
    """
    return f"aperture_s{sector:04d}" + ("_fast" if cadence_s < 60.0 else "")
