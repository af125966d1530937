"""ZtfCutoutClient: ZTF science image cutouts from IRSA, only for the epochs asked for (never a whole image)."""

from __future__ import annotations

import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import requests
from astropy.wcs.utils import proj_plane_pixel_scales

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher, OfflineError
from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.surveys.mast_lightcurves import write_atomically
from virtualobserver.adapters.surveys.pixels.checks import ImageSummary, check_image
from virtualobserver.adapters.surveys.pixels.common import position_at, request_digest
from virtualobserver.adapters.surveys.pixels.records import PixelFile
from virtualobserver.adapters.surveys.pixels.ztf_ibe import (
    MJD_TO_JD,
    SEARCH_PATH,
    ZtfExposure,
    parse_exposures,
    science_image_path,
    where_near,
)
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.source import Source

__all__ = ["ZtfCutoutClient", "ZtfCutoutParameters", "ZtfCutouts"]

SURVEY = "ztf"
# IRSA's answer to a cutout that misses the image (the fetcher's message carries the status).
_OFF_IMAGE = re.compile(r"\bHTTP 400\b")
_OFF_IMAGE_SUFFIX = ".off-image"


class ZtfCutoutParameters(Parameters):
    """Where and how to ask IRSA for ZTF science image cutouts."""

    SPECS = {
        # A 30-arcsec cutout is ~10 kB (30 x 30 float32 pixels and a header); a whole image is 37 MB.
        **http_specs("https://irsa.ipac.caltech.edu", rate_limit_per_s=5, max_concurrency=8, max_answer_mb=20.0,
                     deadline_s=300.0),
        "size_arcsec": Param(30.0, float, "Side of the square cutout (arcsec; ZTF pixels are 1.01 arcsec).",
                             minimum=1.0, maximum=600.0),
        "window_days": Param(1.0, float, "With times given, exposures within this many days of any of them "
                             "are cut (days).", minimum=0.0, maximum=3650.0),
        "filters": Param([], list, "Filter codes to cut (zg, zr, zi); empty means all.", item_kind=str,
                         choices=("zg", "zr", "zi")),
        "position_epoch": Param(2020.0, float, "Julian year the source is moved to (its proper motion) for the "
                                "search and the cutout centre.", minimum=1900.0, maximum=2100.0),
        "cutout_threads": Param(4, int, "Cutouts of one source asked at once (max_concurrency still bounds the "
                                "requests in flight to IRSA).", minimum=1, maximum=64, science=False),
    }


class ZtfCutouts(list):
    """The cutouts of one request (a list of :class:`PixelFile`), with the exposures that missed the image.

    Attributes
    ----------
    off_image : list of ZtfExposure
        Exposures whose cutout IRSA refused with 400 (the position is not on that image).
    """

    def __init__(self, files=(), off_image=()):
        super().__init__(files)
        self.off_image = list(off_image)


class ZtfCutoutClient:
    """ZTF science image cutouts around a source, one request per exposure, each stored once.

    :meth:`exposures` asks IBE which science images cover the source
    (optionally only near given times); :meth:`download` cuts each of them
    (``?center=RA,DEC&size=Narcsec&gzip=false``; never the whole image) into
    the raw-answer cache (``ztf/<shard>/<source>/``), each cutout checked as a
    2-D image with a celestial WCS before it is kept. A stored cutout is never
    asked again; a 400 (cutout off the image) is remembered by an empty
    marker file, so a resumed run does not ask it again either. A clipped
    cutout (the image edge) is kept with its real shape and WCS.

    The fetcher's service is ``"ztf"``: it shares IRSA's rate and concurrency
    limits with the ZTF lightcurve client.

    Parameters
    ----------
    parameters : ZtfCutoutParameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache; a temporary one when omitted.
    session : requests.Session, optional
        HTTP session (an IRSA login cookie, for proprietary data, lives in it).
    sleep : callable
        Pause between retries.
    """

    name = SURVEY

    def __init__(self, parameters: ZtfCutoutParameters | None = None, *, cache: RawCache | None = None,
                 session: requests.Session | None = None, sleep=time.sleep):
        self.parameters = parameters if parameters is not None else ZtfCutoutParameters()
        if cache is None:
            self._cache_dir = tempfile.TemporaryDirectory(prefix="vo-ztf-cutout-cache-")
            cache = RawCache(Path(self._cache_dir.name))
        self.cache = cache
        self.fetcher = HttpFetcher(SURVEY, self.parameters, session=session, sleep=sleep)

    def close(self) -> None:
        """Close the HTTP session and remove the temporary cache, if this client made one."""
        self.fetcher.close()
        if hasattr(self, "_cache_dir"):
            self._cache_dir.cleanup()

    def exposures(self, source: Source, near_mjd: Sequence[float] | None = None) -> list[ZtfExposure]:
        """Return the science exposures covering ``source`` (IBE metadata search), by time.

        Online the search is always asked (new exposures appear); its answer is cached for offline mode.

        Parameters
        ----------
        source : Source
            Target.
        near_mjd : sequence of float, optional
            Times of interest (MJD, UTC; e.g. detection peaks): only exposures starting within
            ``window_days`` of one of them. None means every exposure.

        Returns
        -------
        list of ZtfExposure
            Of the configured filters; empty when nothing covers the position.

        Raises
        ------
        SurveyError, TransientSurveyError, OfflineError
            As :meth:`HttpFetcher.fetch`; an answer that is not a usable table is retried, then transient.
        """
        p = self.parameters
        ra, dec = position_at(source, p.position_epoch)
        params = {"POS": f"{ra:.7f},{dec:.7f}"}
        if near_mjd is not None:
            times = [float(t) + MJD_TO_JD for t in near_mjd]
            if not any(np.isfinite(times)):
                return []
            params["WHERE"] = where_near(times, p.window_days)
        cached = self.cache.path(SURVEY, source.name, f"ibe_sci_{request_digest(params)}.tbl")
        if p.offline:
            try:
                body = cached.read_bytes()
            except FileNotFoundError:
                raise OfflineError(f"ztf: {source.name}: IBE search is not in the cache "
                                   "(offline mode makes no requests)") from None
        else:
            body = self.fetcher.fetch(SEARCH_PATH, params=params, validate=_exposure_table, what=source.name)
            write_atomically(cached, body.decode("utf-8", "replace"))
        try:
            found = parse_exposures(body)
        except DataError as exc:
            raise SurveyError(f"ztf: {source.name}: {cached.name}: {exc}") from None
        return [e for e in found if not p.filters or e.filtercode in p.filters]

    def download(self, source: Source, near_mjd: Sequence[float] | None = None,
                 exposures: Sequence[ZtfExposure] | None = None) -> ZtfCutouts:
        """Return a cutout of ``source`` from each exposure, fetching those not stored yet.

        Parameters
        ----------
        source : Source
            Target; the cutouts are centred on its position at ``position_epoch``.
        near_mjd : sequence of float, optional
            Only exposures near these times (MJD), as :meth:`exposures`.
        exposures : sequence of ZtfExposure, optional
            The exposures to cut (skips the metadata search); by default :meth:`exposures`.

        Returns
        -------
        ZtfCutouts
            :class:`PixelFile` of kind ``ztf_cutout`` by time, ``shape`` ``(rows, columns)``,
            ``obsjd`` set, ``meta`` with ``filtercode``, ``field``, ``ccdid``, ``qid``, ``url``
            (without query), ``size_arcsec`` and ``clipped`` (smaller than asked: at an image edge);
            ``off_image`` lists the exposures IRSA refused with 400.

        Raises
        ------
        SurveyError
            A permanent failure other than a cutout off the image.
        TransientSurveyError
            When IRSA keeps failing or answering cut or unreadable cutouts.
        OfflineError
            In offline mode, for a cutout not stored.
        """
        chosen = list(exposures) if exposures is not None else self.exposures(source, near_mjd)
        threads = min(self.parameters.cutout_threads, len(chosen))
        if threads <= 1:
            records = [self._cutout(source, exposure) for exposure in chosen]
        else:
            # One request per image with little data each: latency, not bandwidth, sets the time.
            with ThreadPoolExecutor(threads, thread_name_prefix="vo-ztf-cutout") as pool:
                records = list(pool.map(lambda exposure: self._cutout(source, exposure), chosen))
        found = ZtfCutouts()
        for exposure, record in zip(chosen, records):
            if record is None:
                found.off_image.append(exposure)
            else:
                found.append(record)
        return found

    def _cutout(self, source: Source, exposure: ZtfExposure) -> PixelFile | None:
        p = self.parameters
        ra, dec = position_at(source, p.position_epoch)
        params = {"center": f"{ra:.7f},{dec:.7f}", "size": f"{p.size_arcsec:g}arcsec", "gzip": "false"}
        stem = exposure.file_name[: -len(".fits")]
        dest = self.cache.path(SURVEY, source.name, f"{stem}_cutout_{request_digest(params)}.fits")
        marker = dest.with_name(dest.name + _OFF_IMAGE_SUFFIX)
        if marker.exists():
            return None
        path = science_image_path(exposure)
        url = self.fetcher.url_for(path)
        if dest.exists():
            try:
                return self._record(dest, source, exposure, url, check_image(dest))
            except DataError:
                dest.unlink(missing_ok=True)  # a damaged cache entry (disk error, foreign write) is fetched again
        if p.offline:
            raise OfflineError(f"ztf: {source.name}: cutout of {exposure.file_name} is not in the cache "
                               "(offline mode makes no requests)")
        checked: list[ImageSummary] = []

        def validate(answer: Path) -> None:
            try:
                checked.append(check_image(answer))
            except DataError as exc:
                raise BadAnswer(str(exc), retry=True) from None

        try:
            self.fetcher.download(path, dest, params=params, validate=validate,
                                  what=f"{source.name}: {exposure.file_name}")
        except SurveyError as exc:
            if not _OFF_IMAGE.search(str(exc)):
                raise
            write_atomically(marker, str(exc) + "\n")
            return None
        return self._record(dest, source, exposure, url, checked[-1])

    def _record(self, dest: Path, source: Source, exposure: ZtfExposure, url: str,
                summary: ImageSummary) -> PixelFile:
        scale_arcsec = float(np.mean(proj_plane_pixel_scales(summary.wcs))) * 3600.0
        asked_px = self.parameters.size_arcsec / scale_arcsec
        # IRSA rounds the asked size to whole pixels; more than a pixel short means the image edge cut it.
        clipped = min(summary.shape) < asked_px - 1.0
        return PixelFile(dest, SURVEY, source.name, "ztf_cutout", summary.shape, obsjd=exposure.obsjd,
                         meta={"filtercode": exposure.filtercode, "field": exposure.field, "ccdid": exposure.ccdid,
                               "qid": exposure.qid, "url": url, "size_arcsec": self.parameters.size_arcsec,
                               "clipped": bool(clipped)})


def _exposure_table(body: bytes) -> None:
    try:
        parse_exposures(body)
    except DataError as exc:
        raise BadAnswer(str(exc), retry=True) from None
