"""VirtualTESS: TESS SPOC 2-min and 20-s lightcurves from MAST, one lightcurve per sector."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.surveys.pixel_format import read_pixel_file
from virtualobserver.adapters.surveys.pixels.tesscut import TesscutClient, TesscutParameters
from virtualobserver.adapters.surveys.mast import filters
from virtualobserver.adapters.surveys.mast_lightcurves import MastLightcurveClient
from virtualobserver.adapters.surveys.spoc_format import MissionLightcurveFile
from virtualobserver.adapters.surveys.tess_format import TESS
from virtualobserver.adapters.surveys.tess_photometry import fill_missing_times, photometry
from virtualobserver.adapters.surveys.tess_selection import PRODUCT_GROUPS, choose_tic, select_products
from virtualobserver.domain.astrometry import propagate_position
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source

__all__ = ["TessParameters", "VirtualTESS", "TIC_EPOCH", "TESS_DETREND_WINDOW_DAYS", "FFI_MIN_CADENCE_S",
           "LIGHTCURVE_SOURCES", "aperture_name", "fill_missing_times", "photometry"]

#: Julian year of TIC positions (TIC 8 gives ICRS positions at J2000.0).
TIC_EPOCH = 2000.0
#: Default width (days) of the sliding biweight that detrends TESS lightcurves before the search.
TESS_DETREND_WINDOW_DAYS = 0.3
#: Shortest cadence (s) of the full-frame images (200 s from sector 56; 10 and 30 min before): SPOC's
#: target pixel cadences are 120 s and 20 s, so the cadence alone tells FFI photometry apart.
FFI_MIN_CADENCE_S = 150.0
#: Where TESS lightcurves may come from: SPOC's lightcurve files, photometry of TESScut cutouts, or both.
LIGHTCURVE_SOURCES = ("spoc", "ffi", "both")
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
        "lightcurve_source": Param("spoc", str, "Where the lightcurves come from: spoc (the SPOC lightcurve files "
                                   "of 2-min and 20-s targets), ffi (aperture photometry of TESScut cutouts of the "
                                   "full-frame images, filter TESS-FFI: every star TESS looked at, most of which "
                                   "have no SPOC lightcurve) or both.", choices=LIGHTCURVE_SOURCES),
        "ffi_url": Param("https://mast.stsci.edu/tesscut/api/v0.1", str, "Root URL of TESScut (full-frame image "
                         "cutouts).", science=False),
        "ffi_size_px": Param(11, int, "Side of the TESScut cutouts (TESS pixels of 21 arcsec): room for the "
                             "target and the sky around it.", minimum=5, maximum=100),
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
        spoc = (["TESS"] + (["TESS-fast"] if "20" in self.cadences else [])) if self.lightcurve_source != "ffi" else []
        bands = spoc + (["TESS-FFI"] if self.lightcurve_source != "spoc" else [])
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
        """Return ``"TESS-fast"`` for 20-s data, ``"TESS-FFI"`` for full-frame images, ``"TESS"`` otherwise."""
        if cadence_s >= FFI_MIN_CADENCE_S:
            return "TESS-FFI"
        return "TESS-fast" if 0 < cadence_s < 60.0 else "TESS"

    def aperture_name(self, lc: MissionLightcurveFile) -> str:
        """Return the image name of a file's aperture (see the module function :func:`aperture_name`)."""
        return aperture_name(lc.season, lc.cadence_s)

    def download(self, source: Source) -> RawData:
        """Return every cadence of ``source`` from the configured lightcurve source as one raw table.

        Parameters
        ----------
        source : Source
            Target; its proper motion and epoch move it to the TIC epoch, its mag helps pick the TIC entry.

        Returns
        -------
        RawData
            Columns of :data:`~adapters.surveys.tess_format.RAW_COLUMNS` (zero length if there is no
            TIC entry or no lightcurve); meta with the TIC entry and per file its headers; the
            aperture of each file under ``images``, and the images of each TESScut cutout.

        Raises
        ------
        SurveyError
            On a permanent failure (MAST error, offline without a cached answer).
        TransientSurveyError
            When MAST keeps failing, or a file keeps arriving cut or corrupt.
        """
        which = self.parameters.lightcurve_source
        spoc = self._spoc(source) if which != "ffi" else None
        if which == "spoc":
            return spoc
        cutouts = self._raw_from_files(self._cutouts(source), source.name, source.ra, source.dec, {})
        if spoc is None:
            star = self.resolve_tic(source)
            meta = {"tic_id": int(star["ID"]) if star else None, "tic": star, "files": cutouts.meta["files"]}
            return RawData(self.name, source.name, "", cutouts.columns, ra=source.ra, dec=source.dec, meta=meta,
                           images=cutouts.images)
        return _joined(spoc, cutouts)

    def _spoc(self, source: Source) -> RawData:
        """Return the SPOC lightcurve files of ``source`` as one raw table."""
        star = self.resolve_tic(source)
        if star is None:
            return self._empty(source, {"tic_id": None, "tic_radius_arcsec": self.parameters.tic_radius_arcsec})
        tic = int(star["ID"])
        meta = {"tic_id": tic, "tic": star}
        products = self.list_products(tic, source.name)
        if not products:
            return self._empty(source, {**meta, "files": []})
        return self._download_products(source, tic, products, meta)

    def _cutouts(self, source: Source) -> list[MissionLightcurveFile]:
        """Return one TESScut cutout per sector of ``source`` (fetched unless stored), read as pixel files.

        Where several camera/CCD cutouts cover a sector (a target near a CCD edge), the one whose
        target pixel lies farthest inside its stamp is kept.
        """
        by_sector: dict[int, MissionLightcurveFile] = {}
        for record in self.tesscut.download(source):
            try:
                lc = _with_cadence(read_pixel_file(record.path, self.mission))
            except DataError as exc:
                raise SurveyError(f"{self.name}: {source.name}: {exc}") from None
            kept = by_sector.get(lc.season)
            if kept is None or _inside(lc) > _inside(kept):
                by_sector[lc.season] = lc
        return [by_sector[sector] for sector in sorted(by_sector)]

    @property
    def tesscut(self) -> TesscutClient:
        """The TESScut client (made when first asked), sharing this client's cache and offline mode."""
        if getattr(self, "_tesscut", None) is None:
            p = self.parameters
            self._tesscut = TesscutClient(
                TesscutParameters(base_url=p.ffi_url, columns=p.ffi_size_px, rows=p.ffi_size_px,
                                  sectors=list(p.sectors), offline=p.offline, retries=p.retries,
                                  backoff_s=p.backoff_s, backoff_max_s=p.backoff_max_s,
                                  # TESScut's own limits (1 request/s, 2 at once) unless limits are off.
                                  rate_limit_per_s=min(p.rate_limit_per_s, 1.0) if p.rate_limit_per_s > 0 else 0.0,
                                  max_concurrency=min(p.max_concurrency, 2)),
                cache=self.cache, sleep=self.mast.sleep)
        return self._tesscut

    def close(self) -> None:
        """Close the HTTP sessions (MAST and TESScut) and remove the temporary cache, if this client made one."""
        if getattr(self, "_tesscut", None) is not None:
            self._tesscut.fetcher.close()
        super().close()

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
    """Return the image name of a file's aperture: ``aperture_s0001`` (2-min), ``aperture_s0001_fast`` (20-s), ``aperture_s0001_ffi`` (a TESScut cutout).

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
    if cadence_s >= FFI_MIN_CADENCE_S:
        return f"aperture_s{sector:04d}_ffi"
    return f"aperture_s{sector:04d}" + ("_fast" if cadence_s < 60.0 else "")


def _with_cadence(lc: MissionLightcurveFile) -> MissionLightcurveFile:
    """Give a cutout without TIMEDEL the median spacing of its times as cadence (its filter depends on it)."""
    if np.isfinite(lc.cadence_s):
        return lc
    times = np.asarray(lc.columns["mjd_tdb"], dtype=float)
    steps = np.diff(times[np.isfinite(times)])
    cadence = float(np.median(steps) * 86400.0) if steps.size else float("nan")
    columns = {**lc.columns, "cadence_s": np.full(times.size, cadence)}
    return dataclasses.replace(lc, cadence_s=cadence, columns=columns)


def _inside(lc: MissionLightcurveFile) -> float:
    """Distance (pixels) from the target's pixel to the nearest edge of the stamp; -inf when unknown."""
    target = lc.pixels.target_pixel if lc.pixels is not None else None
    if target is None:
        return float("-inf")
    rows, cols = lc.pixels.image_shape
    return min(target[0] + 0.5, rows - 0.5 - target[0], target[1] + 0.5, cols - 0.5 - target[1])


def _joined(spoc: RawData, cutouts: RawData) -> RawData:
    """Return SPOC's raw table with the cutouts' rows, file entries and images added (meta from SPOC)."""
    columns = {name: np.concatenate([np.asarray(spoc.columns[name]), np.asarray(cutouts.columns[name])])
               for name in spoc.columns}
    meta = {**spoc.meta, "files": list(spoc.meta.get("files", [])) + list(cutouts.meta.get("files", []))}
    return RawData(spoc.survey, spoc.source_name, spoc.version, columns, ra=spoc.ra, dec=spoc.dec, meta=meta,
                   images={**spoc.images, **cutouts.images})
