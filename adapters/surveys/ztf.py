"""VirtualZTF: ZTF lightcurves from the IRSA ``nph_light_curves`` API, one cone per source."""

from __future__ import annotations

import configparser
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import requests
from requests.adapters import HTTPAdapter

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher
from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.http.redact import redact
from virtualobserver.adapters.surveys.ztf_format import FORMATS, empty_columns, parse_answer, read_answer
from virtualobserver.domain.astrometry import (
    ARCSEC_PER_DEG,
    angular_separation_deg,
    julian_year_of_mjd,
    propagate_position,
    proper_motion_radius,
)
from virtualobserver.domain.errors import ConfigError, DataError, SurveyError, TransientSurveyError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters, version_hash
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters, reduce_photometry
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import SurveyClient

__all__ = ["ZtfParameters", "VirtualZTF", "ZtfCone", "RAW_COLUMNS", "irsa_credentials", "raw_data_of",
           "select_objects"]

log = logging.getLogger(__name__)

LIGHTCURVE_PATH = "cgi-bin/ZTF/nph_light_curves"
LOGIN_PATH = "account/signon/login.do"
#: Columns of the answer kept in the raw data (those present).
RAW_COLUMNS = ("oid", "mjd", "mag", "magerr", "catflags", "filtercode", "ra", "dec", "chi", "sharp", "limitmag",
               "magzp", "exptime", "airmass", "field", "ccdid", "qid", "programid")
#: Columns without which an answer cannot be used.
REQUIRED_COLUMNS = ("oid", "mjd", "mag", "magerr", "catflags", "filtercode", "ra", "dec")
#: Julian years of the first and (planned) last ZTF epochs: how far a star moves within the data.
ZTF_SPAN = (2018.2, 2025.5)
#: Largest cone the service accepts (degrees).
MAX_RADIUS_DEG = 600.0 / 3600.0
CREDENTIALS_ENV = "VO_CREDENTIALS"
DEFAULT_CREDENTIALS = "~/.config/virtualobserver/credentials"
_PROPRIETARY = "ztf"
#: ZTF's filter codes (g, r and i), the filters of its lightcurves.
ZTF_FILTERS = ("zg", "zr", "zi")


class ZtfParameters(Parameters):
    """Where and how to ask IRSA for ZTF lightcurves, and which ZTF objects belong to a source."""

    SPECS = {
        # A cone answer is a few MB at most (thousands of epochs of a few objects); 100 MB is a runaway answer.
        **http_specs("https://irsa.ipac.caltech.edu", rate_limit_per_s=5, max_concurrency=8, max_answer_mb=100.0,
                     deadline_s=300.0),
        "radius_arcsec": Param(2.0, float, "Cone radius of the query (arcsec), widened by the proper motion over "
                               "the ZTF span.", minimum=0.01, maximum=600.0),
        "match_radius_arcsec": Param(1.5, float, "Largest distance (arcsec) between a ZTF object's median "
                                     "position and the source at that object's epoch.", minimum=0.01, maximum=600.0),
        "collection": Param("ztf_dr23", str, "IRSA collection: a public release ztf_drN, or 'ztf' (proprietary, "
                            "needs an IRSA login from VO_IRSA_USER/VO_IRSA_PASSWORD or the credentials file)."),
        "format": Param("ipac_table", str, "Answer format asked from IRSA (the data are the same).",
                        choices=tuple(FORMATS), science=False),
        "bad_catflags_mask": Param(32768, int, "catflags bits that mark an epoch bad (32768 = bad image or "
                                   "calibration); the raw catflags are kept.", minimum=0, maximum=2**31 - 1),
        "mag_tolerance": Param(2.0, float, "Largest difference (mag) between a ZTF object's median magnitude and "
                               "the source magnitude, when the source has one (0 = off).", minimum=0.0, maximum=30.0),
        "objects": Param("best", str, "'best': per filter the matching object with most epochs; 'all': every "
                         "matching object, merged per filter.", choices=("best", "all")),
        "survey_epoch": Param(2020.0, float, "Julian year the catalog position is moved to for the query.",
                              minimum=1900.0, maximum=2100.0),
        # Where the epochs come from does not change them: both give the same rows (science=False).
        "access": Param("api", str, "'api': one request per source to IRSA's lightcurve API; 'hats': the whole "
                        "catalog from a HATS collection of ZTF lightcurves (hats_path), read partition by "
                        "partition with no request per source.", choices=("api", "hats"), science=False),
        "hats_path": Param("", str, "With access 'hats': folder or URL of the HATS collection (or catalog) of "
                           "ZTF lightcurves: in the columns of the IRSA answer (one row per epoch), or IRSA's own layout "
                           "(one row per object, the epochs nested in 'lightcurve').", science=False),
        "partition_cache_mb": Param(1024.0, float, "With access 'hats': memory (MB) for partitions kept after "
                                    "reading, so that batches in the same sky region read a partition once.",
                                    minimum=1.0, maximum=1e6, science=False),
    }

    def section_defaults(self) -> dict[str, dict]:
        """Return the histograms' filter categories: ZTF's filter codes ``zg``, ``zr``, ``zi``.

        Returns
        -------
        dict
            ``{"histograms": {"filters": ["zg", "zr", "zi"]}}``.
        """
        return {"histograms": {"filters": list(ZTF_FILTERS)}}


@dataclass(frozen=True)
class ZtfCone:
    """The cone asked of IRSA for one source.

    Attributes
    ----------
    ra, dec : float
        Centre (degrees) at ``epoch``.
    radius_deg : float
        Radius, widened by the proper motion over the ZTF span.
    epoch : float
        Julian year of the centre.
    query : str
        URL query string (no credentials ever).
    """

    ra: float
    dec: float
    radius_deg: float
    epoch: float
    query: str


class VirtualZTF(SurveyClient):
    """ZTF photometry of one source per request, from IRSA's lightcurve API.

    Every answer is kept in the raw cache under a hash of its query, so a
    repeated download (or offline mode) reads the file and asks nothing. ZTF
    splits one star into objects (oids) per field, CCD quadrant and filter;
    the raw data keeps the oids that match the source in position (and
    magnitude, if known): per filter the one with most epochs, or all.

    Parameters
    ----------
    parameters : ZtfParameters, optional
        Download parameters.
    cache : RawCache, optional
        Raw-answer cache (a temporary one, removed with the client, if absent).
    session : requests.Session, optional
        HTTP session; the IRSA login cookie lives in it.
    sleep : callable
        Pause between retries (tests pass a recorder).
    """

    name = "ztf"
    parameters_class = ZtfParameters

    def __init__(self, parameters: ZtfParameters | None = None, *, cache: RawCache | None = None,
                 session: requests.Session | None = None, sleep=time.sleep):
        super().__init__(parameters)
        collection = self.parameters.collection
        if not (collection == _PROPRIETARY or (collection.startswith("ztf_dr") and collection[6:].isdigit())):
            raise ConfigError(f"{collection!r} is not a ZTF collection (use 'ztf_drN' or 'ztf')", key="collection")
        if cache is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="vo-ztf-cache-")
            cache = RawCache(Path(self._temporary.name))
        self.cache = cache
        self._session = session if session is not None else _new_session(self.parameters.max_concurrency)
        self._fetcher = HttpFetcher(self.name, self.parameters, session=self._session, sleep=sleep)
        self._login_lock = threading.Lock()
        self._logged_in = False

    @property
    def stats(self):
        """Request counts of this client (:class:`adapters.http.fetcher.FetchStats`)."""
        return self._fetcher.stats

    def cone(self, source: Source) -> ZtfCone:
        """Return the query for ``source``: its position at ``survey_epoch`` and a radius covering its motion.

        Parameters
        ----------
        source : Source
            Target; a position without ``epoch`` counts as being at ``survey_epoch``.

        Returns
        -------
        ZtfCone
            Centre, radius and the URL query string.
        """
        p = self.parameters
        ra, dec = _position_at(source, p.survey_epoch)
        years = max(abs(year - p.survey_epoch) for year in ZTF_SPAN)
        radius = min(proper_motion_radius(p.radius_arcsec / 3600.0, source.pmra, source.pmdec, years),
                     MAX_RADIUS_DEG)
        params = {"POS": f"CIRCLE {ra:.7f} {dec:.7f} {radius:.7f}", "COLLECTION": p.collection,
                  "FORMAT": p.format.upper()}
        # IRSA wants spaces inside a value as %20, not the '+' of form encoding.
        return ZtfCone(ra, dec, radius, p.survey_epoch, urlencode(params, quote_via=quote))

    def download(self, source: Source) -> RawData:
        """Return the epochs of the ZTF objects that match ``source``.

        Parameters
        ----------
        source : Source
            Target.

        Returns
        -------
        RawData
            Columns of :data:`RAW_COLUMNS` present in the answer (all of them,
            empty, when nothing matches); ``meta`` holds the query URL, the
            collection and the kept and rejected oids with reasons.

        Raises
        ------
        SurveyError
            If credentials are needed and missing or refused, or the answer lacks required columns.
        TransientSurveyError
            If IRSA keeps failing or answering garbage through the retries.
        OfflineError
            In offline mode when the answer is not cached.
        """
        p = self.parameters
        cone = self.cone(source)
        url = f"{self._fetcher.url_for(LIGHTCURVE_PATH)}?{cone.query}"
        shown = redact(url)
        dest = self.cache.path(self.name, source.name, f"{version_hash(cone.query)}.{FORMATS[p.format]}")
        parsed: dict = {}

        def validate(path: Path) -> None:
            try:
                # The fetcher's message already names the URL; the origin only says whose content failed.
                answer = parse_answer(path.read_bytes(), origin="IRSA answer")[1]
            except DataError as exc:
                raise BadAnswer(str(exc), retry=True) from None
            parsed["columns"] = _check_columns(answer, "IRSA answer", BadAnswer)

        if not dest.exists() and not p.offline and p.collection == _PROPRIETARY:
            self._login()
        self._fetcher.download(url, dest, validate=validate, what=source.name)
        columns = parsed["columns"] if "columns" in parsed else self._read_cached(dest)
        return raw_data_of(self.name, columns, source, cone, p,
                           {"query_url": shown, "collection": p.collection, "answer_file": dest.name})

    def reduce(self, raw: RawData, parameters: ReductionParameters) -> list[Lightcurve]:
        """Split the raw epochs into lightcurves per filter (``zg``, ``zr``, ``zi``) and season.

        ``flag`` is ``catflags & bad_catflags_mask`` (an unknown catflags counts
        as the whole mask); flagged epochs are kept.

        Parameters
        ----------
        raw : RawData
            Loaded raw data from :meth:`download` or :meth:`parse_file`.
        parameters : ReductionParameters
            Reduction parameters.

        Returns
        -------
        list of Lightcurve
            One per filter and season, times in MJD (UTC).
        """
        c = raw.columns
        mask = self.parameters.bad_catflags_mask
        catflags = np.asarray(c["catflags"])
        known = np.isfinite(catflags) if catflags.dtype.kind == "f" else np.ones(catflags.size, bool)
        flag = np.where(known, np.where(known, catflags, 0).astype(np.int64) & mask, mask)
        n = flag.size
        columns = {"mjd": c["mjd"], "mag": c["mag"], "magerr": c["magerr"],
                   "filter": np.asarray(c["filtercode"]).astype(str), "flag": flag,
                   "exptime": c["exptime"] if "exptime" in c else np.full(n, np.nan)}
        for ours, theirs in (("limiting_mag", "limitmag"), ("chi", "chi"), ("sharp", "sharp"), ("ra", "ra"),
                             ("dec", "dec")):
            if theirs in c:
                columns[ours] = c[theirs]
        return reduce_photometry(columns, parameters, survey=self.name, source_name=raw.source_name)

    def parse_file(self, path) -> RawData:
        """Read an IRSA answer the user saved (IPAC table, CSV or VOTable), keeping every object in it.

        Parameters
        ----------
        path : str or pathlib.Path
            The saved answer.

        Returns
        -------
        RawData
            ``source_name`` empty, ``ra``/``dec`` the median position of the epochs (NaN when empty).

        Raises
        ------
        DataError
            If the file is unreadable, not one of the formats, or lacks required columns.
        """
        fmt, columns = read_answer(path)
        columns = _check_columns(columns, str(path), DataError)
        raw_columns = {name: columns[name] for name in RAW_COLUMNS if name in columns}
        if columns["oid"].size == 0:
            raw_columns = {**empty_columns(RAW_COLUMNS), **raw_columns}
        ra, dec = _median_position(columns["ra"], columns["dec"])
        meta = {"file": Path(path).name, "format": fmt, "oids": [str(o) for o in np.unique(columns["oid"])]}
        return RawData(self.name, "", "", raw_columns, ra=ra, dec=dec, meta=meta)

    def close(self) -> None:
        """Close the HTTP session."""
        self._fetcher.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _read_cached(self, dest: Path) -> dict[str, np.ndarray]:
        try:
            columns = read_answer(dest)[1]
        except DataError as exc:
            # Only validated answers reach the cache, so this file was damaged later: ask again next time.
            dest.unlink(missing_ok=True)
            raise TransientSurveyError(f"ztf: cached answer was unreadable and is removed: {exc}") from None
        return _check_columns(columns, str(dest), SurveyError)

    def _login(self) -> None:
        with self._login_lock:
            if self._logged_in:
                return
            user, password, where = irsa_credentials()
            url = self._fetcher.url_for(LOGIN_PATH)
            form = {"josso_cmd": "login", "josso_username": user, "josso_password": password}
            # Not through the fetcher: the sign-on answers with an HTML page, which the fetcher takes for an
            # error page. The form goes in the body, so no credential can show in a URL or an error message.
            try:
                response = self._session.post(url, data=form, timeout=self.parameters.timeout_s)
            except requests.RequestException as exc:
                raise TransientSurveyError(f"ztf: IRSA login at {url} failed ({type(exc).__name__})") from None
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientSurveyError(f"ztf: IRSA login at {url}: HTTP {response.status_code}")
            if response.status_code >= 400 or not self._session.cookies:
                raise SurveyError(f"ztf: IRSA refused the login at {url} (HTTP {response.status_code}, no "
                                  f"session cookie) with the credentials from {where}")
            log.info("ztf: logged in to IRSA with the credentials from %s", where)
            self._logged_in = True


def irsa_credentials(environ=None) -> tuple[str, str, str]:
    """Return the IRSA user name, password and where they came from.

    Looks at ``VO_IRSA_USER`` / ``VO_IRSA_PASSWORD``, then the INI file named by
    ``VO_CREDENTIALS`` (default ``~/.config/virtualobserver/credentials``),
    section ``[irsa]``, keys ``username`` and ``password``. The project
    configuration never holds credentials.

    Parameters
    ----------
    environ : mapping, optional
        Environment (default ``os.environ``).

    Returns
    -------
    tuple of str
        ``(username, password, where)``; ``where`` names the variables or file, never the values.

    Raises
    ------
    SurveyError
        If no credentials are found (saying where to put them) or the file is malformed.
    """
    environ = os.environ if environ is None else environ
    user, password = environ.get("VO_IRSA_USER", ""), environ.get("VO_IRSA_PASSWORD", "")
    if user and password:
        return user, password, "the environment variables VO_IRSA_USER and VO_IRSA_PASSWORD"
    path = Path(environ.get(CREDENTIALS_ENV) or DEFAULT_CREDENTIALS).expanduser()
    if path.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.ParsingError as exc:
            # Quote line numbers only: the offending lines may hold the password.
            lines = ", ".join(str(number) for number, _ in exc.errors)
            raise SurveyError(f"credentials file {path} is not a valid INI file (line {lines})") from None
        except (configparser.Error, OSError, UnicodeDecodeError) as exc:
            raise SurveyError(f"credentials file {path} cannot be read ({type(exc).__name__})") from None
        if parser.get("irsa", "username", fallback="") and parser.get("irsa", "password", fallback=""):
            if path.stat().st_mode & 0o077:
                log.warning("credentials file %s is readable by other users; chmod 600 it", path)
            return parser.get("irsa", "username"), parser.get("irsa", "password"), f"the file {path}"
    raise SurveyError(
        "collection 'ztf' is proprietary and needs an IRSA login: set VO_IRSA_USER and VO_IRSA_PASSWORD, or put "
        f"an [irsa] section with username = ... and password = ... in {path} (another file: set {CREDENTIALS_ENV})")


def raw_data_of(survey: str, columns: dict[str, np.ndarray], source: Source, cone: ZtfCone,
                parameters: ZtfParameters, meta: dict) -> RawData:
    """Return the raw data of ``source`` from the epochs of a cone: those of the ZTF objects that match it.

    Parameters
    ----------
    survey : str
        Survey name of the raw data.
    columns : dict of str to numpy.ndarray
        Every epoch in the cone, in the columns of the IRSA answer.
    source : Source
        Target.
    cone : ZtfCone
        The cone (its centre is the raw data's position).
    parameters : ZtfParameters
        Matching parameters (see :func:`select_objects`).
    meta : dict
        Where the epochs came from; the kept and rejected oids are added.

    Returns
    -------
    RawData
        Columns of :data:`RAW_COLUMNS` present (all of them, empty, when nothing matches).
    """
    kept, rejected = select_objects(columns, source, parameters)
    rows = np.isin(columns["oid"], np.array(kept, dtype=columns["oid"].dtype))
    raw_columns = {name: columns[name][rows] for name in RAW_COLUMNS if name in columns}
    if not kept:
        raw_columns = {**empty_columns(RAW_COLUMNS), **raw_columns}
    meta = {**meta, "kept": [str(oid) for oid in kept], "rejected": rejected}
    return RawData(survey, source.name, "", raw_columns, ra=cone.ra, dec=cone.dec, meta=meta)


def select_objects(columns: dict[str, np.ndarray], source: Source, parameters: ZtfParameters
                   ) -> tuple[list[int], dict[str, str]]:
    """Choose the ZTF objects (oids) of an answer that belong to ``source``.

    An object matches when its median position lies within
    ``match_radius_arcsec`` of the source moved to the object's median epoch
    (the radius is widened by the proper motion over the ZTF span when the
    source has no epoch), and, with ``mag_tolerance`` > 0 and a source
    magnitude, when its median magnitude of unflagged epochs is that close.

    Parameters
    ----------
    columns : dict of str to numpy.ndarray
        The parsed answer.
    source : Source
        Target.
    parameters : ZtfParameters
        Match radius, magnitude tolerance, objects mode, mask, survey epoch.

    Returns
    -------
    tuple
        Kept oids (sorted by filter) and rejected oids (as text) with the reason.
    """
    p = parameters
    oids = columns["oid"]
    radius = p.match_radius_arcsec
    if source.epoch is None:
        years = max(abs(year - p.survey_epoch) for year in ZTF_SPAN)
        radius = proper_motion_radius(radius / 3600.0, source.pmra, source.pmdec, years) * 3600.0
    matching: dict[str, list[tuple[int, int, float]]] = {}
    rejected: dict[str, str] = {}
    for oid in np.unique(oids):
        rows = oids == oid
        band = str(columns["filtercode"][rows][0])
        ra, dec = _median_position(columns["ra"][rows], columns["dec"][rows])
        year = float(julian_year_of_mjd(np.nanmedian(columns["mjd"][rows])))
        expected = _position_at(source, year)
        distance = float(angular_separation_deg(ra, dec, *expected)) * ARCSEC_PER_DEG
        if not distance <= radius:
            rejected[str(oid)] = f"{band}: median position {distance:.2f} arcsec from the source (limit {radius:.2f})"
            continue
        if p.mag_tolerance > 0 and source.mag is not None:
            mag = _median_mag(columns, rows, p.bad_catflags_mask)
            if not abs(mag - source.mag) <= p.mag_tolerance:
                rejected[str(oid)] = (f"{band}: median mag {mag:.2f} differs from the source mag {source.mag:.2f} "
                                      f"by more than {p.mag_tolerance:g}")
                continue
        matching.setdefault(band, []).append((int(oid), int(rows.sum()), distance))
    kept = []
    for band in sorted(matching):
        # Most epochs first; among equals the nearest.
        ranked = sorted(matching[band], key=lambda item: (-item[1], item[2]))
        chosen = ranked if p.objects == "all" else ranked[:1]
        kept.extend(oid for oid, _, _ in chosen)
        for oid, epochs, _ in ranked[len(chosen):]:
            rejected[str(oid)] = f"{band}: {epochs} epochs, fewer than oid {chosen[0][0]} ({chosen[0][1]})"
    return kept, rejected


def _check_columns(columns: dict[str, np.ndarray], origin: str, error: type[Exception]) -> dict[str, np.ndarray]:
    if not columns:
        # A VOTable answer without any table: nothing at the position.
        return empty_columns()
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise error(f"{origin}: not a ZTF lightcurve table (no columns {missing})")
    return columns


def _position_at(source: Source, year: float) -> tuple[float, float]:
    if source.epoch is None:
        return source.ra, source.dec
    ra, dec = propagate_position(source.ra, source.dec, source.pmra, source.pmdec, source.epoch, year)
    return float(ra), float(dec)


def _median_position(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    ra = np.asarray(ra, dtype=float)
    finite = np.isfinite(ra) & np.isfinite(np.asarray(dec, dtype=float))
    if not finite.any():
        return float("nan"), float("nan")
    reference = ra[finite][0]
    # Around ra = 0 a plain median of 359.9 and 0.1 would be 180: take it on offsets wrapped to +-180.
    offset = np.median((ra[finite] - reference + 180.0) % 360.0 - 180.0)
    return float((reference + offset) % 360.0), float(np.median(np.asarray(dec, dtype=float)[finite]))


def _median_mag(columns: dict[str, np.ndarray], rows: np.ndarray, mask: int) -> float:
    mag = np.asarray(columns["mag"][rows], dtype=float)
    catflags = np.nan_to_num(np.asarray(columns["catflags"][rows], dtype=float), nan=float(mask)).astype(np.int64)
    good = np.isfinite(mag) & ((catflags & mask) == 0)
    chosen = mag[good] if good.any() else mag[np.isfinite(mag)]
    return float(np.median(chosen)) if chosen.size else float("nan")


def _new_session(max_concurrency: int) -> requests.Session:
    session = requests.Session()
    # One pooled connection per concurrent request, so none is opened and discarded each time.
    adapter = HTTPAdapter(pool_maxsize=max(10, int(max_concurrency)))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "virtualobserver (python-requests)"
    return session
