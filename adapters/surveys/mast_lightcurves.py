"""What the MAST mission clients (TESS, Kepler, K2) share: cached queries, checked file downloads, reading and reduction."""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher, OfflineError
from virtualobserver.adapters.surveys.fits_checksum import verify_fits_checksums
from virtualobserver.adapters.surveys.mast import MastApi
from virtualobserver.adapters.surveys.pixel_format import is_pixel_file, pixel_cube, read_pixel_file
from virtualobserver.adapters.surveys.pixel_lightcurves import pixel_entry, pixel_images, pixel_photometry
from virtualobserver.adapters.surveys.spoc_format import (
    Mission,
    MissionLightcurveFile,
    cadence_seconds,
    json_number,
    read_mission_file,
)
from virtualobserver.adapters.surveys.spoc_photometry import photometry
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import SurveyClient

__all__ = ["DOWNLOAD_PATH", "MastLightcurveClient", "OBSID_BATCH", "write_atomically"]

#: Path of MAST's file download endpoint, relative to the archive's base URL.
DOWNLOAD_PATH = "api/v0.1/Download/file"
_PRODUCTS = "Mast.Caom.Products"
#: Observations per Mast.Caom.Products request (astroquery batches the same way).
OBSID_BATCH = 500
_UNKNOWN_CADENCE = -1.0


class MastLightcurveClient(SurveyClient):
    """A client of one mission's pipeline lightcurve files at MAST.

    Subclasses find a source's target and its product rows (``download``)
    and name the filter of each cadence (``band``); this class fetches each
    file into the raw-answer cache (checked by size, FITS checksum and
    target identifier, written atomically), reads files the user has,
    merges answers and reduces them to one lightcurve per season and cadence,
    every cadence kept and bad ones flagged.

    MAST query answers are written to the cache, but only read from it in
    offline mode: online, the file list is always asked afresh so that new
    seasons appear, while the files themselves (immutable) come from the
    cache whenever present.

    Parameters
    ----------
    parameters : Parameters, optional
        Download parameters (with ``flux_column``, ``quality_bitmask`` and the HTTP settings).
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session (tests pass one; a pooled one by default).
    sleep : callable
        Pause between retries and between MAST polls.
    """

    #: The mission's file layout and constants.
    mission: ClassVar[Mission]
    #: Key of the target identifier in the raw data's meta (``tic_id``, ``kepler_id``, ...).
    id_key: ClassVar[str] = "target_id"
    #: Catalog prefix of the identifier, for cache keys and messages (``TIC``, ``KIC``, ``EPIC``).
    id_prefix: ClassVar[str] = ""

    def __init__(self, parameters=None, *, cache: RawCache | None = None, session=None, sleep=time.sleep):
        super().__init__(parameters)
        if cache is None:
            self._cache_dir = tempfile.TemporaryDirectory(prefix=f"vo-{self.name}-cache-")
            cache = RawCache(Path(self._cache_dir.name))
        self.cache = cache
        # One "mast" service for every mission: they share MAST's rate and concurrency limits.
        self.fetcher = HttpFetcher("mast", self.parameters, session=session, sleep=sleep)
        self.mast = MastApi(self.fetcher, sleep=sleep)

    def close(self) -> None:
        """Close the HTTP session and remove the temporary cache, if this client made one."""
        self.fetcher.close()
        if hasattr(self, "_cache_dir"):
            self._cache_dir.cleanup()

    @abc.abstractmethod
    def band(self, cadence_s: float) -> str:
        """Return the filter name of this mission's lightcurves of one cadence (seconds)."""

    @abc.abstractmethod
    def aperture_name(self, lc: MissionLightcurveFile) -> str:
        """Return the image name under which a file's aperture is kept in :attr:`RawData.images`."""

    # -- MAST queries and files ----------------------------------------------------------------------------------

    def _query(self, service: str, params: dict, what: str, cached: Path) -> list[dict]:
        if self.parameters.offline:
            try:
                return json.loads(cached.read_text())["rows"]
            except FileNotFoundError:
                raise OfflineError(f"mast: {what}: {service} answer is not in the cache "
                                   "(offline mode makes no requests)") from None
            except (ValueError, KeyError, TypeError) as exc:
                raise SurveyError(f"{cached}: unreadable cached MAST answer ({exc})") from None
        rows = self.mast.invoke(service, params, what=what).rows
        write_atomically(cached, json.dumps({"service": service, "params": params, "rows": rows}))
        return rows

    def _product_rows(self, obsids: Sequence[str], target_id: int, what: str) -> list[dict]:
        """Return the Mast.Caom.Products rows of some observations (asked in batches, each answer cached)."""
        rows: list[dict] = []
        obsids = sorted(set(obsids))
        for start in range(0, len(obsids), OBSID_BATCH):
            batch = obsids[start:start + OBSID_BATCH]
            batch_key = hashlib.sha256(",".join(batch).encode()).hexdigest()[:16]
            rows += self._query(_PRODUCTS, {"obsid": ",".join(batch)}, what,
                                self.cache.path(self.name, self._key(target_id), f"products_{batch_key}.json"))
        return rows

    def _key(self, target_id: int) -> str:
        return f"{self.id_prefix}{target_id}"

    def _download_products(self, source: Source, target_id: int, products: Sequence[dict], meta: dict) -> RawData:
        """Fetch and read each product file of ``target_id``; return them as one raw table of ``source``."""
        files = []
        for product in products:
            path = self._fetch_product(target_id, product, f"{source.name}: {product['productFilename']}")
            try:
                files.append(read_mission_file(path, self.mission))
            except DataError as exc:
                raise SurveyError(f"{self.name}: {source.name}: {exc}") from None
        files = self._wanted_files(files)
        raw = self._raw_from_files(files, source.name, source.ra, source.dec, meta)
        by_name = {product["productFilename"]: product for product in products}
        for entry in raw.meta["files"]:
            product = by_name[entry["file"]]
            entry.update(uri=product["dataURI"], size=product.get("size"), obsid=product.get("obsID"))
        return raw

    def _wanted_files(self, files: list[MissionLightcurveFile]) -> list[MissionLightcurveFile]:
        """Keep the files of the configured seasons (a subclass whose product rows can't tell them apart filters here)."""
        return files

    def _fetch_product(self, target_id: int, product: dict, what: str) -> Path:
        dest = self.cache.path(self.name, self._key(target_id), product["productFilename"])
        if dest.exists() and not _is_valid_fits(dest):
            # A damaged cache entry (disk error, foreign write) is dropped and fetched again.
            dest.unlink(missing_ok=True)
        size = product.get("size")
        return self.fetcher.download(DOWNLOAD_PATH, dest, params={"uri": product["dataURI"]},
                                     validate=lambda path: self._validate_download(path, target_id),
                                     expected_size=int(size) if isinstance(size, (int, float)) and size > 0 else None,
                                     what=what)

    def _validate_download(self, path: Path, target_id: int) -> None:
        try:
            verify_fits_checksums(path)
            lc = read_mission_file(path, self.mission)
        except DataError as exc:
            raise BadAnswer(str(exc), retry=True) from None
        if lc.target_id is not None and lc.target_id != target_id:
            # An intact file of another star: asking again would give the same wrong file.
            raise BadAnswer(f"file is of {self.id_prefix} {lc.target_id}, not {self.id_prefix} {target_id}")

    def _empty(self, source: Source, meta: dict) -> RawData:
        return RawData(self.name, source.name, "", self.mission.empty_columns(), ra=source.ra, dec=source.dec,
                       meta=meta)

    def _raw_from_files(self, files: Sequence[MissionLightcurveFile], source_name: str, ra: float, dec: float,
                        meta: dict) -> RawData:
        files = sorted(files, key=lambda f: (f.season, -f.cadence_s, f.path.name))
        columns = {name: np.concatenate([f.columns[name] for f in files]) if files else np.zeros(0, dtype)
                   for name, dtype in self.mission.raw_columns.items()}
        entries = [{"file": f.path.name, self.mission.season_column: f.season,
                    "cadence_s": json_number(f.cadence_s), self.id_key: f.target_id,
                    "primary": f.primary, "lightcurve": f.lightcurve} for f in files]
        images = {self.aperture_name(f): f.aperture for f in files if f.aperture is not None}
        for f, entry in zip(files, entries):
            if f.pixels is not None:
                pixels, entry["pixels"] = pixel_images(f, self.aperture_name(f))
                images.update(pixels)
        return RawData(self.name, source_name, "", columns, ra=ra, dec=dec, meta={**meta, "files": entries},
                       images=images)

    # -- files the user has --------------------------------------------------------------------------------------

    def parse_file(self, path) -> RawData:
        """Read a mission lightcurve file or target pixel file the user already has.

        A target pixel file (``*_lpd-targ.fits``, ``*_tp.fits``, a TESScut cutout) keeps its images as
        raw data; its lightcurve is made from them by :meth:`reduce`.

        Parameters
        ----------
        path : str or pathlib.Path
            A lightcurve file or target pixel file of this mission.

        Returns
        -------
        RawData
            ``source_name`` empty, ``ra``/``dec`` from RA_OBJ/DEC_OBJ, meta with the target identifier.

        Raises
        ------
        SurveyError
            If the file is corrupt (an HDU with a CHECKSUM that fails) or not a lightcurve of this mission.
        """
        try:
            verify_fits_checksums(path, require=False)
            read = read_pixel_file if is_pixel_file(path) else read_mission_file
            lc = read(path, self.mission)
            return self._raw_from_files([lc], "", lc.ra, lc.dec, {self.id_key: lc.target_id})
        except DataError as exc:
            raise SurveyError(f"{self.name}: {exc}") from None

    def combine(self, raws: Sequence[RawData]) -> RawData:
        """Merge answers about one source (e.g. one ingested file per season) into one raw table.

        Parameters
        ----------
        raws : sequence of RawData
            Raw data of this survey, all of one source.

        Returns
        -------
        RawData
            Columns concatenated, file entries and images of all of them; a file seen twice is kept once.
        """
        if len(raws) == 1:
            return raws[0]
        seen: set[str] = set()
        keep = []
        for raw in raws:
            names = [entry["file"] for entry in raw.meta.get("files", [])]
            if names and set(names) <= seen:
                continue
            seen.update(names)
            keep.append(raw)
        columns = {name: np.concatenate([np.asarray(r.columns[name], dtype) for r in keep])
                   for name, dtype in self.mission.raw_columns.items()}
        first = keep[0]
        ids = sorted({r.meta.get(self.id_key) for r in keep if r.meta.get(self.id_key) is not None})
        meta = {self.id_key: ids[0] if len(ids) == 1 else ids or None,
                "files": [entry for r in keep for entry in r.meta.get("files", [])]}
        images = {name: image for r in keep for name, image in r.images.items()}
        return RawData(first.survey, first.source_name, first.version, columns, ra=first.ra, dec=first.dec,
                       meta=meta, images=images)

    # -- reduction -----------------------------------------------------------------------------------------------

    has_images = True

    def pixel_cubes(self, raw: RawData) -> dict[tuple[str, int], tuple[PixelCube, int]]:
        """Return the images of each target pixel file in the raw data, by the lightcurve they reduce to.

        Parameters
        ----------
        raw : RawData
            Loaded raw data.

        Returns
        -------
        dict
            ``(filter, season)`` -> the file's :class:`~domain.pixels.PixelCube` (times MJD on TDB, as the
            lightcurve's) and the configured quality preset's bits.
        """
        c, season_column = raw.columns, self.mission.season_column
        mask = self.mission.quality_mask(self.parameters.quality_bitmask)
        cubes = {}
        for entry in raw.meta.get("files", []):
            if not entry.get("pixels"):
                continue
            season, cadence = int(entry[season_column]), _cadence_key(entry.get("cadence_s"))
            rows = ((np.asarray(c[season_column]) == season)
                    & (np.nan_to_num(np.asarray(c["cadence_s"], dtype=float), nan=_UNKNOWN_CADENCE) == cadence))
            cubes[(self.band(cadence), season)] = (
                pixel_cube(raw.images, entry, c["mjd_tdb"][rows], c["quality"][rows]), mask)
        return cubes

    def reduce(self, raw: RawData, parameters: ReductionParameters) -> list[Lightcurve]:
        """Return one lightcurve per season and cadence, every cadence kept.

        The flux is the configured SAP or PDCSAP flux (e-/s), or for a target pixel file the sum of its
        images over the pipeline's aperture (over an aperture chosen from the images when the file has
        none: :func:`domain.photometry.choose_aperture`); ``mag`` is
        ``zero_point - 2.5 log10(flux)`` (NaN where flux <= 0). ``flag`` is the
        quality column masked by the configured preset, plus
        :data:`~adapters.surveys.spoc_format.NAN_FLAG` where the time or the flux
        is NaN. Times are MJD on TDB. Each cadence has its own filter name
        (:meth:`band`), so that two cadences of one season can both be stored.

        Parameters
        ----------
        raw : RawData
            Loaded raw data from :meth:`download` or :meth:`parse_file`.
        parameters : ReductionParameters
            ``min_epochs`` drops a season with fewer cadences.

        Returns
        -------
        list of Lightcurve
            Ordered by season, then cadence (longest first); ``season`` is the sector, quarter or campaign.
        """
        c = raw.columns
        if raw.num_epochs == 0:
            return []
        flux_name = f"{self.parameters.flux_column}_flux"
        mask = self.mission.quality_mask(self.parameters.quality_bitmask)
        season_column = self.mission.season_column
        season = np.asarray(c[season_column], dtype=np.int64)
        # An unknown cadence (no TIMEDEL in the file) groups under -1 rather than NaN, which equals nothing.
        cadence = np.nan_to_num(np.asarray(c["cadence_s"], dtype=float), nan=_UNKNOWN_CADENCE)
        entries: dict[tuple[int, float], list[dict]] = {}
        for e in raw.meta.get("files", []):
            entries.setdefault((int(e[season_column]), _cadence_key(e.get("cadence_s"))), []).append(e)
        headers = {key: group[-1].get("lightcurve") or {} for key, group in entries.items()}
        lightcurves = []
        for s, cad in sorted({(int(a), float(b)) for a, b in zip(season, cadence)}, key=lambda k: (k[0], -k[1])):
            rows = (season == s) & (cadence == cad)
            if rows.sum() < parameters.min_epochs:
                continue
            exptime = cadence_seconds(headers[(s, cad)]) if (s, cad) in headers else np.nan
            if not np.isfinite(exptime):
                exptime = cad if cad > 0 else np.nan
            flux, flux_err = c[flux_name][rows], c[f"{flux_name}_err"][rows]
            pixels = pixel_entry(entries.get((s, cad), []), f"raw data of {raw.source_name!r}, "
                                 f"{self.mission.season_word} {s}")
            if pixels is not None:
                flux, flux_err, _ = pixel_photometry(raw, rows, pixels, mask)
            lc_columns = photometry(c["mjd_tdb"][rows], c["cadenceno"][rows], flux, flux_err, c["quality"][rows],
                                    mask, exptime, self.mission.zero_point)
            lightcurves.append(Lightcurve(self.name, self.band(cad), s, lc_columns,
                                          source_name=raw.source_name or None, time_scale="tdb"))
        return lightcurves


def _cadence_key(value) -> float:
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else _UNKNOWN_CADENCE


def _is_valid_fits(path: Path) -> bool:
    try:
        verify_fits_checksums(path)
    except DataError:
        return False
    return True


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a unique temporary file, fsynced and renamed.

    Parameters
    ----------
    path : pathlib.Path
        Destination; its folder must exist.
    text : str
        Content (UTF-8).
    """
    # A unique temporary name: two threads may cache the same answer (two sources, one star) at once.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
