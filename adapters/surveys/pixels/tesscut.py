"""TesscutClient: cutouts of the TESS full-frame images from MAST's TESScut, one zip per sector, unpacked atomically."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import requests

from virtualobserver.adapters.files.atomic import atomic_folder
from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher, OfflineError
from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.surveys.mast_lightcurves import write_atomically
from virtualobserver.adapters.surveys.pixels.checks import check_cube
from virtualobserver.adapters.surveys.pixels.common import path_lock, position_at, request_digest
from virtualobserver.adapters.surveys.pixels.records import PixelFile
from virtualobserver.adapters.surveys.pixels.unpack import unzip_fits_members
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.source import Source

__all__ = ["CUTOUT_PATH", "SECTOR_PATH", "TesscutClient", "TesscutParameters"]

#: TESScut endpoints, relative to the base URL.
CUTOUT_PATH = "astrocut"
SECTOR_PATH = "sector"
#: Survey folder of the raw-answer cache (TESScut cutouts sit beside the SPOC files).
SURVEY = "tess"
#: TESS pixels are 21 arcsec.
PIXEL_ARCSEC = 21.0
_ZIP = "answer.zip"


class TesscutParameters(Parameters):
    """Where and how to ask TESScut for cutouts of the TESS full-frame images."""

    SPECS = {
        # A cutout of 11 x 11 pixels over a 200-s sector is ~100 MB; MAST asks for small cutouts, one sector each.
        **http_specs("https://mast.stsci.edu/tesscut/api/v0.1", rate_limit_per_s=1, max_concurrency=2,
                     timeout_s=600.0, max_answer_mb=1000.0, deadline_s=3600.0),
        "columns": Param(11, int, "Cutout width (TESS pixels of 21 arcsec).", minimum=1, maximum=100),
        "rows": Param(11, int, "Cutout height (TESS pixels).", minimum=1, maximum=100),
        "sectors": Param([], list, "Sectors to cut; empty means every sector that covers the source.",
                         item_kind=int),
        "max_unpacked_mb": Param(4000.0, float, "Largest size of a zip's cutout files once unpacked (MB); a "
                                 "larger answer is refused (a zip bomb).", minimum=0.001, maximum=1e6,
                                 science=False),
        "max_members": Param(16, int, "Most files one sector's zip may hold.", minimum=1, maximum=1000,
                             science=False),
        "position_epoch": Param(2021.0, float, "Julian year the source is moved to (its proper motion) for the "
                                "cutout centre.", minimum=1900.0, maximum=2100.0),
    }


class TesscutClient:
    """TESS full-frame-image cutouts of sources, stored in the raw-answer cache, one folder per sector.

    For each sector, one ``astrocut`` request returns a zip of cutout files
    (one per camera/CCD covering the position). The zip is unpacked into a
    staging folder, every member checked (:func:`~adapters.surveys.pixels.checks.check_cube`:
    readable FITS, PIXELS table, APERTURE with a WCS), and the folder appears whole
    or not at all (``adapters.files.atomic.atomic_folder``). A stored sector is never
    asked again, so a resumed run costs only the sector list. A cut answer, a corrupt zip or
    member and a 5xx are retried by the fetcher; nothing half-unpacked is kept.

    Parameters
    ----------
    parameters : TesscutParameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session.
    sleep : callable
        Pause between retries.
    """

    name = "tesscut"

    def __init__(self, parameters: TesscutParameters | None = None, *, cache: RawCache | None = None,
                 session: requests.Session | None = None, sleep=time.sleep):
        self.parameters = parameters if parameters is not None else TesscutParameters()
        if cache is None:
            self._cache_dir = tempfile.TemporaryDirectory(prefix="vo-tesscut-cache-")
            cache = RawCache(Path(self._cache_dir.name))
        self.cache = cache
        self.fetcher = HttpFetcher(self.name, self.parameters, session=session, sleep=sleep)

    def close(self) -> None:
        """Close the HTTP session and remove the temporary cache, if this client made one."""
        self.fetcher.close()
        if hasattr(self, "_cache_dir"):
            self._cache_dir.cleanup()

    def sectors(self, source: Source) -> list[int]:
        """Return the sectors whose full-frame images cover ``source`` (TESScut's ``sector`` service).

        Online the list is always asked (new sectors appear); it is cached for offline mode.

        Parameters
        ----------
        source : Source
            Target.

        Returns
        -------
        list of int
            Sector numbers, sorted, each once.

        Raises
        ------
        SurveyError, TransientSurveyError, OfflineError
            As :meth:`HttpFetcher.fetch`; SurveyError also for an answer without ``results``.
        """
        ra, dec = position_at(source, self.parameters.position_epoch)
        radius_arcmin = max(self.parameters.columns, self.parameters.rows) * PIXEL_ARCSEC / 120.0
        params = {"ra": f"{ra:.7f}", "dec": f"{dec:.7f}", "radius": f"{radius_arcmin:.2f}m"}
        cached = self.cache.path(SURVEY, source.name, f"tesscut_sectors_{request_digest(params)}.json")
        if self.parameters.offline:
            try:
                body = cached.read_bytes()
            except FileNotFoundError:
                raise OfflineError(f"tesscut: {source.name}: sector list is not in the cache "
                                   "(offline mode makes no requests)") from None
        else:
            body = self.fetcher.fetch(SECTOR_PATH, params=params, validate=_sector_list, what=source.name)
            write_atomically(cached, body.decode("utf-8"))
        try:
            return _sector_list(body)
        except BadAnswer as bad:  # only a damaged cached answer gets here: the fetcher checked the fresh one
            raise SurveyError(f"tesscut: {source.name}: {cached}: {bad.reason}") from None

    def download(self, source: Source, sectors: list[int] | None = None) -> list[PixelFile]:
        """Return the cutouts of ``source``, fetching those not stored yet.

        Parameters
        ----------
        source : Source
            Target; the cutout is centred on its position at ``position_epoch``.
        sectors : list of int, optional
            Sectors to cut; by default the ``sectors`` parameter, or when that is empty every
            sector of :meth:`sectors`.

        Returns
        -------
        list of PixelFile
            Kind ``tesscut``, one per cutout file, by sector then file name; ``shape`` is
            ``(cadences, rows, columns)``, ``meta`` has ``camera``, ``ccd``, ``size_px``
            (the ``(columns, rows)`` asked) and ``file`` (the name TESScut gave).

        Raises
        ------
        SurveyError
            A permanent failure (TESScut refuses the request, a zip bomb).
        TransientSurveyError
            When TESScut keeps failing or answering cut or corrupt zips.
        OfflineError
            In offline mode, for a sector not stored.
        """
        wanted = sectors if sectors is not None else (list(self.parameters.sectors) or self.sectors(source))
        found = []
        for sector in sorted(set(int(s) for s in wanted)):
            found += self._sector(source, sector)
        return found

    def _sector(self, source: Source, sector: int) -> list[PixelFile]:
        p = self.parameters
        ra, dec = position_at(source, p.position_epoch)
        params = {"ra": f"{ra:.7f}", "dec": f"{dec:.7f}", "y": str(p.rows), "x": str(p.columns), "units": "px",
                  "sector": str(sector)}
        folder = self.cache.path(SURVEY, source.name, f"tesscut_s{sector:04d}_{p.columns}x{p.rows}_"
                                                      f"{request_digest(params)}")
        # RawCache.path makes the folder of a file; this name is a folder of files: it appears whole, by rename.
        folder.parent.mkdir(parents=True, exist_ok=True)
        with path_lock(folder):
            if folder.is_dir():  # asked under the lock: another thread may have stored it meanwhile
                try:
                    return self._records(folder, source, sector)
                except DataError:
                    shutil.rmtree(folder)  # a damaged cache entry (disk error, foreign write) is fetched again
            self._fetch_into(folder, params, f"{source.name}: sector {sector}")
            try:
                return self._records(folder, source, sector)
            except DataError as exc:
                raise SurveyError(f"tesscut: {source.name}: stored cutout unreadable: {exc}") from None

    def _fetch_into(self, folder: Path, params: dict, what: str) -> None:
        p = self.parameters
        if p.offline:
            raise OfflineError(f"tesscut: {what}: cutout is not in the cache (offline mode makes no requests)")
        limit = int(p.max_unpacked_mb * 1_000_000)

        with atomic_folder(folder) as staging:
            def validate(zip_path: Path) -> None:
                for old in staging.glob("*.fits"):  # what a failed attempt unpacked
                    old.unlink()
                try:
                    members = unzip_fits_members(zip_path, staging, max_bytes=limit, max_members=p.max_members)
                except DataError as exc:
                    # Too big is what the archive sent on purpose; a garbled zip may come right next time.
                    raise BadAnswer(str(exc), retry="more than" not in str(exc)) from None
                for member in members:
                    try:
                        check_cube(member)
                    except DataError as exc:
                        raise BadAnswer(f"corrupt cutout in the zip: {exc}", retry=True) from None

            self.fetcher.download(CUTOUT_PATH, staging / _ZIP, params=params, validate=validate, what=what)
            (staging / _ZIP).unlink()

    def _records(self, folder: Path, source: Source, sector: int) -> list[PixelFile]:
        found = []
        for path in sorted(folder.glob("*.fits")):
            summary = check_cube(path, checksums=False)  # whole pixels read: a cut file fails
            primary = summary.primary
            found.append(PixelFile(path, SURVEY, source.name, "tesscut", summary.shape, season=sector,
                                   meta={"camera": primary.get("CAMERA"), "ccd": primary.get("CCD"),
                                         "file": path.name, "size_px": [self.parameters.columns,
                                                                        self.parameters.rows]}))
        if not found:
            raise DataError(f"{folder}: no cutout file")
        return found


def _sector_list(body: bytes) -> list[int]:
    try:
        results = json.loads(body)["results"]
        return sorted({int(row["sector"]) for row in results})
    except (ValueError, KeyError, TypeError) as exc:
        raise BadAnswer(f"TESScut sector answer is not the expected JSON ({type(exc).__name__}: {exc})",
                        retry=True) from None
