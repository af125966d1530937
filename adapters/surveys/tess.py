"""VirtualTESS: TESS SPOC 2-min and 20-s lightcurves from MAST, one lightcurve per sector."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from adapters.http.cache import RawCache
from adapters.http.fetcher import BadAnswer, HttpFetcher, OfflineError
from adapters.http.parameters import http_specs
from adapters.surveys.mast import MastApi, filters
from adapters.surveys.tess_format import (
    RAW_COLUMNS,
    TessLightcurveFile,
    cadence_seconds,
    empty_columns,
    quality_mask,
    read_lightcurve_file,
    verify_fits_checksums,
)
from adapters.surveys.tess_photometry import fill_missing_times, photometry
from adapters.surveys.tess_selection import PRODUCT_GROUPS, choose_tic, json_number, select_products
from domain.astrometry import propagate_position
from domain.errors import DataError, SurveyError
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.rawdata import RawData
from domain.reduction import ReductionParameters
from domain.source import Source
from services.ports import SurveyClient

__all__ = ["TessParameters", "VirtualTESS", "TIC_EPOCH", "aperture_name", "fill_missing_times", "photometry"]

#: Julian year of TIC positions (TIC 8 gives ICRS positions at J2000.0).
TIC_EPOCH = 2000.0
_TIC_CONE = "Mast.Catalogs.Tic.Cone"
_OBSERVATIONS = "Mast.Caom.Filtered"
_PRODUCTS = "Mast.Caom.Products"
_DOWNLOAD_PATH = "api/v0.1/Download/file"
#: Observations per Mast.Caom.Products request (astroquery batches the same way).
_OBSID_BATCH = 500
_UNKNOWN_CADENCE = -1.0


class TessParameters(Parameters):
    """Download parameters of TESS (MAST, SPOC lightcurves)."""

    SPECS = {
        **http_specs("https://mast.stsci.edu", rate_limit_per_s=5, max_concurrency=4),
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


class VirtualTESS(SurveyClient):
    """TESS SPOC lightcurves from MAST.

    ``download`` finds the source's TIC entry (nearest within
    ``tic_radius_arcsec`` of the position moved to J2000, preferring a
    compatible Tmag), lists its SPOC lightcurve files and fetches each into
    the raw-answer cache, checking every HDU's FITS checksum. All cadences
    are kept in the raw table, including those with NaN times; ``reduce``
    flags rather than drops them.

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

    def __init__(self, parameters: TessParameters | None = None, *, cache: RawCache | None = None,
                 session=None, sleep=time.sleep):
        super().__init__(parameters)
        if cache is None:
            self._cache_dir = tempfile.TemporaryDirectory(prefix="vo-tess-cache-")
            cache = RawCache(Path(self._cache_dir.name))
        self.cache = cache
        self.fetcher = HttpFetcher("mast", self.parameters, session=session, sleep=sleep)
        self.mast = MastApi(self.fetcher, sleep=sleep)

    def close(self) -> None:
        """Close the HTTP session and remove the temporary cache, if this client made one."""
        self.fetcher.close()
        if hasattr(self, "_cache_dir"):
            self._cache_dir.cleanup()

    # -- download ------------------------------------------------------------------------------------------------

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
        files = []
        for product in products:
            path = self._fetch_product(tic, product, source.name)
            try:
                files.append(read_lightcurve_file(path))
            except DataError as exc:
                raise SurveyError(f"tess: {source.name}: {exc}") from None
        raw = self._raw_from_files(files, source.name, source.ra, source.dec, meta)
        by_name = {product["productFilename"]: product for product in products}
        for entry in raw.meta["files"]:
            product = by_name[entry["file"]]
            entry.update(uri=product["dataURI"], size=product.get("size"), obsid=product.get("obsID"))
        return raw

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
        key = f"TIC{tic}"
        selection = hashlib.sha256(json.dumps([sorted(p.cadences), sorted(p.sectors)]).encode()).hexdigest()[:16]
        observations = self._query(_OBSERVATIONS, {"columns": "*", "filters": filters(**criteria)}, what,
                                   self.cache.path(self.name, key, f"observations_{selection}.json"))
        obsids = sorted({str(row["obsid"]) for row in observations if row.get("obsid") is not None})
        rows: list[dict] = []
        for start in range(0, len(obsids), _OBSID_BATCH):
            batch = obsids[start:start + _OBSID_BATCH]
            batch_key = hashlib.sha256(",".join(batch).encode()).hexdigest()[:16]
            rows += self._query(_PRODUCTS, {"obsid": ",".join(batch)}, what,
                                self.cache.path(self.name, key, f"products_{batch_key}.json"))
        return select_products(rows, p.cadences, p.sectors)

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
        _write_atomically(cached, json.dumps({"service": service, "params": params, "rows": rows}))
        return rows

    def _fetch_product(self, tic: int, product: dict, what: str) -> Path:
        dest = self.cache.path(self.name, f"TIC{tic}", product["productFilename"])
        if dest.exists() and not _is_valid_fits(dest):
            # A damaged cache entry (disk error, foreign write) is dropped and fetched again.
            dest.unlink(missing_ok=True)
        size = product.get("size")
        return self.fetcher.download(_DOWNLOAD_PATH, dest, params={"uri": product["dataURI"]},
                                     validate=lambda path: _validate_download(path, tic),
                                     expected_size=int(size) if isinstance(size, (int, float)) and size > 0 else None,
                                     what=what)

    def _empty(self, source: Source, meta: dict) -> RawData:
        return RawData(self.name, source.name, "", empty_columns(), ra=source.ra, dec=source.dec, meta=meta)

    def _raw_from_files(self, files: Sequence[TessLightcurveFile], source_name: str, ra: float, dec: float,
                        meta: dict) -> RawData:
        files = sorted(files, key=lambda f: (f.sector, -f.cadence_s, f.path.name))
        columns = {name: np.concatenate([f.columns[name] for f in files]) if files else np.zeros(0, dtype)
                   for name, dtype in RAW_COLUMNS.items()}
        entries = [{"file": f.path.name, "sector": f.sector, "cadence_s": json_number(f.cadence_s), "tic_id": f.tic_id,
                    "primary": f.primary, "lightcurve": f.lightcurve} for f in files]
        images = {aperture_name(f.sector, f.cadence_s): f.aperture for f in files if f.aperture is not None}
        return RawData(self.name, source_name, "", columns, ra=ra, dec=dec, meta={**meta, "files": entries},
                       images=images)

    # -- files the user has --------------------------------------------------------------------------------------

    def parse_file(self, path) -> RawData:
        """Read a SPOC lightcurve file the user already has.

        Parameters
        ----------
        path : str or pathlib.Path
            A ``*_lc.fits`` or ``*_fast-lc.fits`` file.

        Returns
        -------
        RawData
            ``source_name`` empty, ``ra``/``dec`` from RA_OBJ/DEC_OBJ, meta with ``tic_id`` (TICID).

        Raises
        ------
        SurveyError
            If the file is corrupt (an HDU with a CHECKSUM that fails) or not a SPOC lightcurve.
        """
        try:
            verify_fits_checksums(path, require=False)
            lc = read_lightcurve_file(path)
        except DataError as exc:
            raise SurveyError(f"tess: {exc}") from None
        return self._raw_from_files([lc], "", lc.ra, lc.dec, {"tic_id": lc.tic_id})

    def combine(self, raws: Sequence[RawData]) -> RawData:
        """Merge answers about one source (e.g. one ingested file per sector) into one raw table.

        Parameters
        ----------
        raws : sequence of RawData
            TESS raw data of one source.

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
                   for name, dtype in RAW_COLUMNS.items()}
        first = keep[0]
        tic_ids = sorted({r.meta.get("tic_id") for r in keep if r.meta.get("tic_id") is not None})
        meta = {"tic_id": tic_ids[0] if len(tic_ids) == 1 else tic_ids or None,
                "files": [entry for r in keep for entry in r.meta.get("files", [])]}
        images = {name: image for r in keep for name, image in r.images.items()}
        return RawData(first.survey, first.source_name, first.version, columns, ra=first.ra, dec=first.dec,
                       meta=meta, images=images)

    # -- reduction -----------------------------------------------------------------------------------------------

    def reduce(self, raw: RawData, parameters: ReductionParameters) -> list[Lightcurve]:
        """Return one lightcurve per sector and cadence, every cadence kept.

        The flux is the configured SAP or PDCSAP flux (e-/s); ``mag`` is
        ``-2.5 log10(flux) + 20.44`` (NaN where flux <= 0). ``flag`` is QUALITY
        masked by the configured preset, plus :data:`~adapters.surveys.tess_format.NAN_FLAG`
        where the time or the flux is NaN. Times are MJD on TDB. The 2-min
        lightcurve of a sector is in filter ``"TESS"``; 20-s data, which
        covers the same sector, is in ``"TESS-fast"`` so both can be stored.

        Parameters
        ----------
        raw : RawData
            Loaded raw data from :meth:`download` or :meth:`parse_file`.
        parameters : ReductionParameters
            ``min_epochs`` drops a sector with fewer cadences.

        Returns
        -------
        list of Lightcurve
            Ordered by sector, then cadence (2-min first); ``season`` is the sector number.
        """
        c = raw.columns
        if raw.num_epochs == 0:
            return []
        flux_name = f"{self.parameters.flux_column}_flux"
        mask = quality_mask(self.parameters.quality_bitmask)
        sector = np.asarray(c["sector"], dtype=np.int64)
        # An unknown cadence (no TIMEDEL in the file) groups under -1 rather than NaN, which equals nothing.
        cadence = np.nan_to_num(np.asarray(c["cadence_s"], dtype=float), nan=_UNKNOWN_CADENCE)
        headers = {(int(e["sector"]), _cadence_key(e.get("cadence_s"))): e.get("lightcurve") or {}
                   for e in raw.meta.get("files", [])}
        lightcurves = []
        for s, cad in sorted({(int(a), float(b)) for a, b in zip(sector, cadence)}, key=lambda k: (k[0], -k[1])):
            rows = (sector == s) & (cadence == cad)
            if rows.sum() < parameters.min_epochs:
                continue
            exptime = cadence_seconds(headers[(s, cad)]) if (s, cad) in headers else np.nan
            if not np.isfinite(exptime):
                exptime = cad if cad > 0 else np.nan
            lc_columns = photometry(c["mjd_tdb"][rows], c["cadenceno"][rows], c[flux_name][rows],
                                    c[f"{flux_name}_err"][rows], c["quality"][rows], mask, exptime)
            band = "TESS-fast" if 0 < cad < 60.0 else "TESS"
            lightcurves.append(Lightcurve(self.name, band, s, lc_columns, source_name=raw.source_name or None,
                                          time_scale="tdb"))
        return lightcurves


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


def _cadence_key(value) -> float:
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else _UNKNOWN_CADENCE


def _validate_download(path: Path, tic: int) -> None:
    try:
        verify_fits_checksums(path)
        lc = read_lightcurve_file(path)
    except DataError as exc:
        raise BadAnswer(str(exc), retry=True) from None
    if lc.tic_id is not None and lc.tic_id != tic:
        # An intact file of another star: asking again would give the same wrong file.
        raise BadAnswer(f"file is of TIC {lc.tic_id}, not TIC {tic}")


def _is_valid_fits(path: Path) -> bool:
    try:
        verify_fits_checksums(path)
    except DataError:
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    # A unique temporary name: two threads may cache the same answer (two sources, one TIC star) at once.
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
