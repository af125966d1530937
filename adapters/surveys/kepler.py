"""VirtualKepler and VirtualK2: Kepler and K2 pipeline lightcurves from MAST, one lightcurve per quarter or campaign."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Sequence

from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.surveys.kepler_format import K2, KEPLER, campaign_from_filename, season_from_description
from virtualobserver.adapters.surveys.kepler_selection import CADENCE_SUFFIXES, choose_target, select_products
from virtualobserver.adapters.surveys.mast import filters
from virtualobserver.adapters.surveys.mast_lightcurves import MastLightcurveClient
from virtualobserver.adapters.surveys.spoc_format import MissionLightcurveFile
from virtualobserver.domain.astrometry import propagate_position
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source

__all__ = ["K2Parameters", "K2_DETREND_WINDOW_DAYS", "KEPLER_DETREND_WINDOW_DAYS", "KeplerParameters",
           "TARGET_EPOCH", "VirtualK2", "VirtualKepler"]

#: Julian year of KIC and EPIC positions (ICRS at J2000.0).
TARGET_EPOCH = 2000.0
#: Default width (days) of the sliding biweight that detrends Kepler lightcurves before the search.
KEPLER_DETREND_WINDOW_DAYS = 0.5
#: Default width (days) of the sliding biweight that detrends K2 lightcurves before the search.
K2_DETREND_WINDOW_DAYS = 0.5
#: Cadences shorter than this (seconds) are short cadence (58.8 s); long cadence is 1765.5 s.
_SHORT_CADENCE_BELOW_S = 300.0
_POSITION_SEARCH = "Mast.Caom.Filtered.Position"


def _specs(seasons_key: str, seasons_word: str) -> dict[str, Param]:
    return {
        # Long-cadence files are about 0.5 MB, short-cadence ones up to about 20 MB.
        **http_specs("https://mast.stsci.edu", rate_limit_per_s=5, max_concurrency=4, max_answer_mb=100.0,
                     deadline_s=600.0),
        "radius_arcsec": Param(4.0, float, "Radius around the source (at J2000) in which the nearest mission "
                               "target is taken as the source (arcsec; a Kepler pixel is 3.98 arcsec).",
                               minimum=0.01, maximum=600.0),
        "cadences": Param(["long"], list, "Cadences to download: long (29.4 min) and/or short (1 min).",
                          item_kind=str, choices=tuple(CADENCE_SUFFIXES)),
        "flux_column": Param("pdcsap", str, "Flux of the lightcurves: pdcsap (systematics-corrected) or sap.",
                             choices=("pdcsap", "sap")),
        "quality_bitmask": Param("default", str, "SAP_QUALITY bits that flag a cadence, as lightkurve's "
                                 "KeplerQualityFlags presets.", choices=("default", "hard", "hardest", "none")),
        seasons_key: Param([], list, f"{seasons_word} to download; empty means all.", item_kind=int),
    }


def _section_defaults(window_days: float, cadences: Sequence[str]) -> dict[str, dict[str, Any]]:
    bands = ["Kepler"] + (["Kepler-short"] if "short" in cadences else [])
    return {"analysis": {"detrend": "biweight", "detrend_window_days": window_days},
            "histograms": {"filters": bands}}


class KeplerParameters(Parameters):
    """Download parameters of Kepler (MAST, pipeline lightcurves of the prime mission)."""

    SPECS = _specs("quarters", "Quarters")

    def section_defaults(self) -> dict[str, dict[str, Any]]:
        """Return Kepler's defaults of the analysis and histogram blocks.

        Spotted stars rotate within a quarter, so the search runs on a biweight-detrended
        lightcurve (window :data:`KEPLER_DETREND_WINDOW_DAYS`); the histograms count the
        filters Kepler lightcurves carry.

        Returns
        -------
        dict of str to dict
            ``analysis`` (``detrend``, ``detrend_window_days``) and ``histograms`` (``filters``).
        """
        return _section_defaults(KEPLER_DETREND_WINDOW_DAYS, self.cadences)


class K2Parameters(Parameters):
    """Download parameters of K2 (MAST, pipeline lightcurves of the two-wheel mission)."""

    SPECS = _specs("campaigns", "Campaigns")

    def section_defaults(self) -> dict[str, dict[str, Any]]:
        """Return K2's defaults of the analysis and histogram blocks.

        As Kepler's (same photometer, same band), with the window :data:`K2_DETREND_WINDOW_DAYS`.

        Returns
        -------
        dict of str to dict
            ``analysis`` (``detrend``, ``detrend_window_days``) and ``histograms`` (``filters``).
        """
        return _section_defaults(K2_DETREND_WINDOW_DAYS, self.cadences)


class VirtualKepler(MastLightcurveClient):
    """Kepler pipeline lightcurves (``kplr*_llc.fits``, ``kplr*_slc.fits``) from MAST.

    ``download`` asks MAST for the mission's observations around the source
    (moved to J2000), takes the nearest target within ``radius_arcsec``,
    lists its lightcurve files of the configured cadences and quarters and
    fetches each into the raw-answer cache, checked by size, FITS checksum
    and KEPLERID. Cadences are never dropped: ``reduce`` gives one lightcurve
    per quarter and cadence with SAP_QUALITY masked by a lightkurve preset,
    and NaN times or fluxes flagged. Times are BKJD in the files, MJD (TDB)
    on the lightcurves; magnitudes are Kp at
    :data:`~adapters.surveys.kepler_format.KEPLER_ZERO_POINT`. Long cadence
    is in filter ``"Kepler"``, short cadence (three monthly files per quarter,
    one lightcurve) in ``"Kepler-short"``.

    Parameters
    ----------
    parameters : KeplerParameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session.
    sleep : callable
        Pause between retries and between MAST polls.
    """

    name = "kepler"
    parameters_class = KeplerParameters
    mission = KEPLER
    id_key = "kepler_id"
    id_prefix = "KIC"
    #: MAST ``obs_collection`` and ``target_name`` prefix of the mission's targets.
    collection: ClassVar[str] = "Kepler"
    target_prefix: ClassVar[str] = "kplr"
    #: The download parameter that lists the wanted seasons.
    seasons_parameter: ClassVar[str] = "quarters"

    def band(self, cadence_s: float) -> str:
        """Return ``"Kepler-short"`` for short cadence, ``"Kepler"`` otherwise (K2 flew the same band)."""
        return "Kepler-short" if 0 < cadence_s < _SHORT_CADENCE_BELOW_S else "Kepler"

    def aperture_name(self, lc: MissionLightcurveFile) -> str:
        """Return the image name of a file's aperture.

        ``aperture_q05`` (long cadence of quarter 5; K2: ``aperture_c04``); short cadence comes in
        one file a month, each with its aperture, told apart by the file's first cadence number:
        ``aperture_q05_short_16373``.

        Parameters
        ----------
        lc : MissionLightcurveFile
            A file read by :func:`~adapters.surveys.spoc_format.read_mission_file`.

        Returns
        -------
        str
            Image name in :attr:`RawData.images`.
        """
        name = f"aperture_{self.mission.season_column[0]}{lc.season:02d}"
        if 0 < lc.cadence_s < _SHORT_CADENCE_BELOW_S:
            first = int(lc.columns["cadenceno"][0]) if lc.columns["cadenceno"].size else 0
            name += f"_short_{first}"
        return name

    def download(self, source: Source) -> RawData:
        """Return every pipeline lightcurve cadence of ``source`` as one raw table.

        Parameters
        ----------
        source : Source
            Target; its proper motion and epoch move it to J2000, the epoch of KIC and EPIC positions.

        Returns
        -------
        RawData
            Columns of the mission's raw columns (zero length if no target is near or it has no
            lightcurve); meta with the target and per file its headers; each file's aperture
            under ``images``.

        Raises
        ------
        SurveyError
            On a permanent failure (MAST error, offline without a cached answer, a file of another target).
        TransientSurveyError
            When MAST keeps failing, or a file keeps arriving cut or corrupt.
        """
        target = self.resolve_target(source)
        if target is None:
            return self._empty(source, {self.id_key: None, "radius_arcsec": self.parameters.radius_arcsec})
        target_id = int(target["id"])
        meta = {self.id_key: target_id, "target": target}
        products = self.list_products(target, source.name)
        if not products:
            return self._empty(source, {**meta, "files": []})
        return self._download_products(source, target_id, products, meta)

    def resolve_target(self, source: Source) -> dict | None:
        """Return the mission target of ``source`` (a JSON-able dict with ``distance_arcsec``), or None.

        Parameters
        ----------
        source : Source
            Target.

        Returns
        -------
        dict or None
            As :func:`~adapters.surveys.kepler_selection.choose_target`.
        """
        radius = self.parameters.radius_arcsec
        ra, dec = source.ra, source.dec
        if source.epoch is not None:
            ra, dec = (float(v) for v in propagate_position(ra, dec, source.pmra, source.pmdec,
                                                             source.epoch, TARGET_EPOCH))
        params = {"columns": "*", "position": f"{ra!r}, {dec!r}, {radius / 3600.0!r}",
                  "filters": filters(obs_collection=self.collection, dataproduct_type=["cube", "timeseries"])}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        rows = self._query(_POSITION_SEARCH, params, source.name,
                           self.cache.path(self.name, source.name, f"position_{digest}.json"))
        return choose_target(rows, ra, dec, radius, self.target_prefix)

    def list_products(self, target: dict, what: str = "") -> list[dict]:
        """Return the lightcurve products of a target for the configured cadences and seasons.

        Parameters
        ----------
        target : dict
            From :meth:`resolve_target` (``id`` and ``obsids``).
        what : str
            Source name, for messages.

        Returns
        -------
        list of dict
            MAST product rows (``productFilename``, ``dataURI``, ``size``, ...), one per file, by file name.
        """
        p = self.parameters
        rows = self._product_rows(target["obsids"], int(target["id"]), what)
        return select_products(rows, self.target_prefix, int(target["id"]), p.cadences, self._seasons(),
                               self._season_of)

    def _seasons(self) -> list[int]:
        return list(getattr(self.parameters, self.seasons_parameter))

    def _season_of(self, row: dict) -> int | None:
        # Kepler file names carry no quarter; MAST's description does ("... (CLC) - Q4").
        return season_from_description(row.get("description"))

    def _wanted_files(self, files: list[MissionLightcurveFile]) -> list[MissionLightcurveFile]:
        # The header's QUARTER/CAMPAIGN is the authority where the product row could not tell.
        seasons = set(self._seasons())
        return [f for f in files if not seasons or f.season in seasons]


class VirtualK2(VirtualKepler):
    """K2 pipeline lightcurves (``ktwo*_llc.fits``, ``ktwo*_slc.fits``) from MAST, one lightcurve per campaign.

    As :class:`VirtualKepler`, with EPIC targets, campaigns as seasons and the
    ``MISSION = 'K2'`` files; the band is Kepler's (``"Kepler"``, ``"Kepler-short"``).

    Parameters
    ----------
    parameters : K2Parameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session.
    sleep : callable
        Pause between retries and between MAST polls.
    """

    name = "k2"
    parameters_class = K2Parameters
    mission = K2
    id_key = "epic_id"
    id_prefix = "EPIC"
    collection = "K2"
    target_prefix = "ktwo"
    seasons_parameter = "campaigns"

    def _season_of(self, row: dict) -> int | None:
        campaign = campaign_from_filename(str(row.get("productFilename") or ""))
        return campaign if campaign is not None else season_from_description(row.get("description"))
