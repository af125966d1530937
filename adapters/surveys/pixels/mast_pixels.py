"""Target pixel files of Kepler, K2 and TESS from MAST, found and stored as the mission lightcurve files are."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, ClassVar, Sequence

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.adapters.http.fetcher import BadAnswer
from virtualobserver.adapters.surveys.kepler import VirtualK2, VirtualKepler
from virtualobserver.adapters.surveys.mast import filters
from virtualobserver.adapters.surveys.mast_lightcurves import DOWNLOAD_PATH
from virtualobserver.adapters.surveys.pixels.checks import CubeSummary, check_cube
from virtualobserver.adapters.surveys.pixels.common import path_lock
from virtualobserver.adapters.surveys.pixels.records import PixelFile
from virtualobserver.adapters.surveys.pixels.unpack import gunzip_bounded
from virtualobserver.adapters.surveys.tess import VirtualTESS
from virtualobserver.adapters.surveys.tess_format import sector_from_filename
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.source import Source

__all__ = ["K2TargetPixels", "KeplerTargetPixels", "TessTargetPixels", "TPF_GROUPS"]

#: MAST ``productSubGroupDescription`` of TESS SPOC target pixel files, by cadence (seconds, as configured).
TPF_GROUPS = {"120": "TP", "20": "FAST-TP"}
#: Kepler/K2 target pixel file suffixes, by cadence (long 29.4 min, short 58.8 s).
_KEPLER_SUFFIXES = {"long": "lpd-targ", "short": "spd-targ"}
_GZ = ".gz"
#: Largest expansion of a gzipped pixel file accepted (real ones expand 2-5 times); more is a gzip bomb.
_GZIP_RATIO = 20


class _TargetPixelsMixin:
    """Target pixel file downloads for a :class:`~adapters.surveys.mast_lightcurves.MastLightcurveClient`.

    Mixed into the mission's lightcurve client, so the target is resolved, MAST is queried
    (answers cached for offline mode) and the fetcher's limits shared exactly as for its
    lightcurves; the files go to the same cache folder as the lightcurve files
    (``<mission>/<shard>/<KIC|EPIC|TIC id>/``).
    """

    id_prefix: ClassVar[str]

    def download_pixels(self, source: Source, seasons: set[int] | None = None) -> list[PixelFile]:
        """Return the target pixel files of ``source``, fetching those not stored yet.

        Parameters
        ----------
        source : Source
            Target.
        seasons : set of int, optional
            Only these quarters, campaigns or sectors (e.g. the one of a detection: a TESS target pixel
            file is 40 MB a sector); by default the configured ones.

        Returns
        -------
        list of PixelFile
            Kind ``tpf``, by season then file name (empty when there is no target or no file);
            ``shape`` ``(cadences, rows, columns)``, ``season`` the quarter, campaign or sector,
            ``meta`` with ``target_id``, ``uri``, ``file``.

        Raises
        ------
        SurveyError
            On a permanent failure (MAST error, a file of another target, offline without a cached answer).
        TransientSurveyError
            When MAST keeps failing, or a file keeps arriving cut or corrupt.
        """
        target_id, products = self._pixel_products(source)
        wanted = set(seasons) if seasons is not None else self._pixel_seasons()
        found = []
        for product in products:
            named = self._product_season(product)
            if wanted and named is not None and named not in wanted:
                continue  # not fetched: the product row tells its season
            path = self._fetch_pixels(target_id, product, f"{source.name}: {product['productFilename']}")
            summary = self._summary(path, source)
            season = summary.primary.get(self.mission.season_keyword)
            if wanted and season not in wanted:
                continue  # the header is the authority where the product row could not tell
            found.append(PixelFile(path, self.name, source.name, "tpf", summary.shape, season=season,
                                   meta={"target_id": target_id, "uri": product["dataURI"], "file": path.name}))
        return sorted(found, key=lambda f: (f.season if f.season is not None else -1, f.path.name))

    # -- what a mission defines ------------------------------------------------------------------------------------

    def _pixel_products(self, source: Source) -> tuple[int | None, list[dict]]:
        raise NotImplementedError

    def _pixel_seasons(self) -> set[int]:
        raise NotImplementedError

    def _product_season(self, product: dict) -> int | None:
        """The season a product row names (None when it cannot tell; the file's header decides then)."""
        raise NotImplementedError

    # -- files -------------------------------------------------------------------------------------------------

    def _fetch_pixels(self, target_id: int, product: dict, what: str) -> Path:
        name = str(product["productFilename"])
        stored = self.cache.path(self.name, self._key(target_id), name.removesuffix(_GZ))
        with path_lock(stored):
            return self._fetch_locked(stored, name, target_id, product, what)

    def _fetch_locked(self, stored: Path, name: str, target_id: int, product: dict, what: str) -> Path:
        if stored.exists():
            try:
                check_cube(stored)
                return stored
            except DataError:
                stored.unlink(missing_ok=True)  # a damaged cache entry is fetched again
        size = product.get("size")
        expected = int(size) if isinstance(size, (int, float)) and size > 0 else None
        if not name.endswith(_GZ):
            return self.fetcher.download(DOWNLOAD_PATH, stored, params={"uri": product["dataURI"]},
                                         validate=lambda path: self._validate_pixels(path, target_id),
                                         expected_size=expected, what=what)
        # MAST serves Kepler and K2 pixel files gzipped: the answer is checked by unpacking it into place.
        answer = stored.with_name(name)
        # An answer left by a run killed before it was unpacked would be taken for the cache: unpack afresh.
        answer.unlink(missing_ok=True)

        def validate(path: Path) -> None:
            with atomic_path(stored) as tmp:
                try:
                    gunzip_bounded(path, tmp, max_bytes=int(self.parameters.max_answer_mb * 1_000_000 * _GZIP_RATIO))
                except DataError as exc:
                    raise BadAnswer(str(exc), retry=True) from None
                self._validate_pixels(tmp, target_id)

        self.fetcher.download(DOWNLOAD_PATH, answer, params={"uri": product["dataURI"]}, validate=validate,
                              expected_size=expected, what=what)
        with contextlib.suppress(FileNotFoundError):
            answer.unlink()  # the unpacked file is what is kept
        return stored

    def _validate_pixels(self, path: Path, target_id: int) -> None:
        try:
            summary = check_cube(path)
        except DataError as exc:
            raise BadAnswer(str(exc), retry=True) from None
        found = summary.primary.get(self.mission.target_keyword)
        if found is not None and int(found) != int(target_id):
            # An intact file of another star: asking again would give the same wrong file.
            raise BadAnswer(f"file is of {self.id_prefix} {found}, not {self.id_prefix} {target_id}")

    def _summary(self, path: Path, source: Source) -> CubeSummary:
        try:
            return check_cube(path, checksums=False)
        except DataError as exc:
            raise SurveyError(f"{self.name}: {source.name}: stored pixel file unreadable: {exc}") from None


class TessTargetPixels(_TargetPixelsMixin, VirtualTESS):
    """TESS SPOC target pixel files (``*_tp.fits``, ``*_fast-tp.fits``) of the configured cadences and sectors.

    Parameters are those of :class:`~adapters.surveys.tess.VirtualTESS` (``cadences``, ``sectors``).
    """

    def _pixel_products(self, source: Source) -> tuple[int | None, list[dict]]:
        star = self.resolve_tic(source)
        if star is None:
            return None, []
        tic = int(star["ID"])
        p = self.parameters
        criteria: dict[str, Any] = dict(obs_collection="TESS", dataproduct_type="timeseries",
                                        target_name=str(tic), provenance_name="SPOC")
        if p.sectors:
            criteria["sequence_number"] = list(p.sectors)
        selection = hashlib.sha256(json.dumps(sorted(p.sectors)).encode()).hexdigest()[:16]
        observations = self._query("Mast.Caom.Filtered", {"columns": "*", "filters": filters(**criteria)},
                                   source.name, self.cache.path(self.name, self._key(tic),
                                                                f"observations_{selection}.json"))
        obsids = [str(row["obsid"]) for row in observations if row.get("obsid") is not None]
        groups = {TPF_GROUPS[c] for c in p.cadences}
        rows = [r for r in self._product_rows(obsids, tic, source.name)
                if r.get("productSubGroupDescription") in groups]
        sectors = set(p.sectors)
        return tic, _plain_fits(rows, lambda r: not sectors or sector_from_filename(r["productFilename"]) in sectors)

    def _pixel_seasons(self) -> set[int]:
        return set(self.parameters.sectors)

    def _product_season(self, product: dict) -> int | None:
        return sector_from_filename(str(product["productFilename"]))


class KeplerTargetPixels(_TargetPixelsMixin, VirtualKepler):
    """Kepler target pixel files (``kplr*_lpd-targ.fits.gz``, ``*_spd-targ``) of the configured cadences and quarters.

    Parameters are those of :class:`~adapters.surveys.kepler.VirtualKepler` (``cadences``, ``quarters``).
    """

    def _pixel_products(self, source: Source) -> tuple[int | None, list[dict]]:
        target = self.resolve_target(source)
        if target is None:
            return None, []
        target_id = int(target["id"])
        suffixes = "|".join(_KEPLER_SUFFIXES[c] for c in self.parameters.cadences)
        pattern = re.compile(rf"^{re.escape(self.target_prefix)}{target_id:09d}-[0-9a-z]+_({suffixes})\.fits(\.gz)?$")
        seasons = self._pixel_seasons()

        def keep(row: dict) -> bool:
            season = self._season_of(row)
            return bool(pattern.match(row["productFilename"])) and (not seasons or season is None or season in seasons)

        return target_id, _plain_fits(self._product_rows(target["obsids"], target_id, source.name), keep)

    def _pixel_seasons(self) -> set[int]:
        return set(self._seasons())

    def _product_season(self, product: dict) -> int | None:
        return self._season_of(product)


class K2TargetPixels(KeplerTargetPixels, VirtualK2):
    """K2 target pixel files (``ktwo*_lpd-targ.fits.gz``) of the configured cadences and campaigns.

    Parameters are those of :class:`~adapters.surveys.kepler.VirtualK2` (``cadences``, ``campaigns``).
    """


def _plain_fits(rows: Sequence[dict], keep) -> list[dict]:
    chosen: dict[str, dict] = {}
    for row in rows:
        name = str(row.get("productFilename") or "")
        if not row.get("dataURI") or "/" in name or name.startswith(".") or not name.endswith((".fits", ".fits.gz")):
            continue  # only plain file names go into the cache
        if keep(row):
            chosen.setdefault(name, row)
    return [chosen[name] for name in sorted(chosen)]
