"""Gaia DR3 catalogs by TAP (sync or UWS async), saved as files that FileCatalogReader reads."""

from __future__ import annotations

import re
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from virtualobserver.adapters.catalogs.adql import cone_query
from virtualobserver.adapters.catalogs.catalog_formats import OUTPUT_FORMATS
from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher
from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.domain.catalog import CatalogSpec
from virtualobserver.domain.errors import CatalogError, SurveyError, TransientSurveyError
from virtualobserver.domain.parameters import Param, Parameters

__all__ = ["GaiaParameters", "GaiaTap", "GAIA_DR3_EPOCH", "GAIA_CATALOG_COLUMNS", "gaia_catalog_spec",
           "check_answer", "convert_table", "overflow_message", "OUTPUT_FORMATS"]

GAIA_TAP_URL = "https://gea.esac.esa.int/tap-server/tap"
#: Julian year of every DR3 position (``ref_epoch``).
GAIA_DR3_EPOCH = 2016.0
#: Standard catalog column -> gaia_source column.
GAIA_CATALOG_COLUMNS = {"name": "source_id", "mag": "phot_g_mean_mag"}
DEFAULT_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmdec", "parallax", "parallax_error", "phot_g_mean_mag",
                   "bp_rp", "ruwe", "ref_epoch", "phot_variable_flag", "has_epoch_photometry")
#: TAP FORMAT value -> astropy reader (ESA gzips ecsv and fits answers; astropy reads those transparently).
_ANSWER_FORMATS = {"votable": "votable", "votable_plain": "votable", "csv": "ascii.csv", "ecsv": "ascii.ecsv",
                   "fits": "fits"}
_FINAL_PHASES = {"COMPLETED", "ERROR", "ABORTED"}
_UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


class GaiaParameters(Parameters):
    """Where and how to query the Gaia archive, and what to ask for."""

    SPECS = {
        # A catalog of millions of rows is a legitimate answer of GBs: only a runaway one is refused.
        **http_specs(GAIA_TAP_URL, rate_limit_per_s=2, max_concurrency=2, timeout_s=120.0, max_answer_mb=4000.0,
                     deadline_s=5400.0),
        "table": Param("gaiadr3.gaia_source", str, "Qualified TAP table to query."),
        "columns": Param(list(DEFAULT_COLUMNS), list, "Columns to fetch (empty: all 152).", item_kind=str),
        "row_limit": Param(2000, int, "Most rows a query returns (TOP n); 0 = no limit.", minimum=0,
                           maximum=10**9),
        "poll_interval_s": Param(1.0, float, "First pause between polls of an async job's phase (doubles).",
                                 minimum=0.0, maximum=600.0, science=False),
        "poll_max_interval_s": Param(30.0, float, "Longest pause between polls of an async job.",
                                     minimum=0.0, maximum=3600.0, science=False),
        "async_timeout_s": Param(5400.0, float, "Give up on an async job after this long (the archive's "
                                 "anonymous limit is 90 min).", minimum=1.0, maximum=86400.0, science=False),
    }


def gaia_catalog_spec(path: str | Path, format: str = "auto", selection: str = "") -> CatalogSpec:
    """Return the spec FileCatalogReader needs for a Gaia file: source_id as name, G as mag, epoch J2016.0.

    Parameters
    ----------
    path : str or pathlib.Path
        A catalog file written by :class:`GaiaTap` (or any gaia_source extract).
    format : str
        File format (default from the extension).
    selection : str
        Row selection expression.

    Returns
    -------
    CatalogSpec
        The spec.
    """
    return CatalogSpec(str(path), format=format, columns=dict(GAIA_CATALOG_COLUMNS), selection=selection,
                       epoch=GAIA_DR3_EPOCH)


class GaiaTap:
    """Client of the Gaia archive's TAP service.

    Every answer reaches its file through :meth:`HttpFetcher.download`, so a
    file under the final name is always a complete table that astropy read.

    Parameters
    ----------
    parameters : GaiaParameters, optional
        Service and query settings (defaults: ESA archive, DR3).
    session : requests.Session, optional
        HTTP session (tests pass their own).
    sleep : callable
        ``sleep(seconds)``, used between polls of async jobs and between retries.
    """

    service = "gaia_tap"

    def __init__(self, parameters: GaiaParameters | None = None, *, session=None, sleep=time.sleep):
        self.parameters = parameters or GaiaParameters()
        self._sleep = sleep
        self._fetcher = HttpFetcher(self.service, self.parameters, session=session, sleep=sleep)

    def close(self) -> None:
        """Close the HTTP session."""
        self._fetcher.close()

    @property
    def stats(self):
        """Request counts of this client (:class:`FetchStats`)."""
        return self._fetcher.stats

    def cone(self, ra: float, dec: float, radius_deg: float, where: str = "",
             columns: Sequence[str] | None = None, top: int | None = None) -> str:
        """Return the ADQL cone search (astroquery's form) over the configured table.

        Parameters
        ----------
        ra, dec : float
            Centre (ICRS degrees, J2016.0 for Gaia positions).
        radius_deg : float
            Radius in degrees.
        where : str
            Extra condition, kept one condition by :func:`adapters.catalogs.adql.check_where` (any read-only ADQL).
        columns : sequence of str, optional
            Columns (default: the configured ``columns``; empty list in the configuration = all).
        top : int, optional
            Row limit (default: the configured ``row_limit``; 0 = none).

        Returns
        -------
        str
            ADQL text.
        """
        return cone_query(self.parameters.table, ra, dec, radius_deg, where=where,
                          columns=self.parameters.columns if columns is None else columns,
                          top=self.parameters.row_limit if top is None else top)

    def query(self, adql: str, out: Path, format: str = "votable", mode: str = "sync") -> Path:
        """Run ``adql`` and save the archive's answer to ``out`` (skipped when ``out`` already exists).

        Parameters
        ----------
        adql : str
            The query.
        out : pathlib.Path
            Where the answer goes, atomically.
        format : str
            TAP ``FORMAT``: ``votable``, ``votable_plain``, ``csv``, ``ecsv`` or ``fits``.
        mode : str
            ``"sync"`` (one request) or ``"async"`` (a UWS job, for long queries).

        Returns
        -------
        pathlib.Path
            ``out``.

        Raises
        ------
        SurveyError
            If the archive refuses the query (its message is quoted), cuts the answer at its row limit
            (``QUERY_STATUS=OVERFLOW``: the limit is named, nothing is written) or the job fails.
        TransientSurveyError
            If the archive stays unavailable through the retries, or the job outlives ``async_timeout_s``.
        """
        if format not in _ANSWER_FORMATS:
            raise CatalogError(f"unknown TAP format {format!r} (use one of {', '.join(_ANSWER_FORMATS)})",
                               field="format")
        out = Path(out)
        validate = partial(check_answer, format=format)
        form = {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": format, "QUERY": adql}
        if mode == "sync":
            return self._fetcher.download("sync", out, method="POST", data=form, validate=validate,
                                          what="sync query")
        if mode != "async":
            raise CatalogError(f"unknown mode {mode!r} (use sync or async)", field="mode")
        job = self._submit(form)
        self._wait(job)
        return self._fetcher.download(f"{job}/results/result", out, validate=validate, what=f"job {job}")

    def save_table(self, adql: str, out: Path, *, out_format: str = "ecsv", mode: str = "sync") -> int:
        """Run ``adql`` and write the table to ``out`` in ``out_format`` (units kept except in CSV).

        Parameters
        ----------
        adql : str
            The query.
        out : pathlib.Path
            Output file, replaced atomically.
        out_format : str
            ``ecsv``, ``votable``, ``fits`` or ``csv``.
        mode : str
            ``"sync"`` or ``"async"``.

        Returns
        -------
        int
            Rows written.
        """
        with tempfile.TemporaryDirectory(prefix="vo-gaia-") as folder:
            raw = self.query(adql, Path(folder) / "answer.vot", format="votable", mode=mode)
            return convert_table(raw, Path(out), out_format)

    def _submit(self, form: dict) -> str:
        # The archive answers 303 See Other with the job URL; requests follows it to the job document,
        # whose jobId names the job whatever the redirect looked like.
        body = self._fetcher.fetch("async", method="POST", data={**form, "PHASE": "RUN"}, what="async job",
                                   validate=_job_document)
        job_id = _job_document(body)
        return f"{self.parameters.base_url.rstrip('/')}/async/{job_id}"

    def _wait(self, job: str) -> None:
        started = time.monotonic()
        pause, waited = self.parameters.poll_interval_s, 0.0
        while True:
            phase = self._fetcher.fetch(f"{job}/phase", what=f"job {job}").decode("utf-8", "replace").strip().upper()
            if phase == "COMPLETED":
                return
            if phase in ("ERROR", "ABORTED"):
                raise SurveyError(f"gaia_tap: job {job} ended in phase {phase}: {self._job_error(job)}")
            if phase == "PENDING":  # created but not started (a server that ignored PHASE=RUN)
                self._fetcher.fetch(f"{job}/phase", method="POST", data={"PHASE": "RUN"}, what=f"job {job}")
            # Counting the pauses as well as the clock keeps the limit exact when tests replace sleep.
            if max(time.monotonic() - started, waited) >= self.parameters.async_timeout_s:
                self._abort(job)
                raise TransientSurveyError(f"gaia_tap: job {job} still {phase} after "
                                           f"{self.parameters.async_timeout_s:g} s (async_timeout_s); aborted it")
            self._sleep(pause)
            waited += pause
            pause = min(max(pause * 2.0, 0.01), self.parameters.poll_max_interval_s)

    def _abort(self, job: str) -> None:
        # Best effort: a job left running keeps using the archive (and the user's quota) for nothing.
        try:
            self._fetcher.fetch(f"{job}/phase", method="POST", data={"PHASE": "ABORT"}, what=f"job {job}")
        except SurveyError:
            pass

    def _job_error(self, job: str) -> str:
        try:
            body = self._fetcher.fetch(f"{job}/error", what=f"job {job}")
        except SurveyError as exc:
            return f"(no error summary: {exc})"
        return _error_text(body)


def _job_document(body: bytes) -> str:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise BadAnswer(f"the job document is not XML ({exc})", retry=True) from None
    job_id = root.findtext(f"{_UWS}jobId") or root.findtext("jobId")
    if not job_id or not re.fullmatch(r"[A-Za-z0-9_.\-]+", job_id.strip()):
        raise BadAnswer(f"no usable jobId in the job document (got {job_id!r})")
    return job_id.strip()


def _error_text(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return _squash(re.sub(r"<[^>]+>", " ", text))
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == "INFO" and element.get("name") == "QUERY_STATUS":
                return _squash(element.text or element.get("value", ""))
        return _squash(" ".join(root.itertext()))
    return _squash(text)


def _squash(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def check_answer(path: Path, format: str = "votable") -> None:
    """Check that ``path`` holds a table in ``format`` and not an error document.

    Parameters
    ----------
    path : pathlib.Path
        The downloaded answer (still under its temporary name).
    format : str
        TAP format asked for.

    Raises
    ------
    BadAnswer
        For an HTML page (retry), a VOTable whose ``QUERY_STATUS`` is ``ERROR``
        (no retry; the message quotes the server) or ``OVERFLOW`` (no retry: the archive cut the
        answer at its row limit; the message names the limit and what to do), or a file astropy
        cannot read.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        title = re.search(rb"<title>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
        shown = title.group(1).decode("utf-8", "replace") if title else _error_text(head)
        raise BadAnswer(f"an HTML page instead of a table: {_squash(shown, 200)}", retry=True)
    fmt = _ANSWER_FORMATS[format]
    if fmt == "votable":
        _check_votable_status(path)
    from astropy.table import Table

    kwargs = {"use_names_over_ids": True} if fmt == "votable" else {}
    try:
        Table.read(path, format=fmt, **kwargs)
    except Exception as exc:  # astropy raises many types for malformed files
        raise BadAnswer(f"not a readable {format} table: {_squash(str(exc), 300)}") from None


def _check_votable_status(path: Path) -> None:
    import warnings

    from astropy.io.votable import parse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # archives' VOTables trip many harmless spec warnings
            votable = parse(str(path), verify="ignore")
    except Exception as exc:  # astropy raises many types for malformed files
        raise BadAnswer(f"not a readable VOTable: {_squash(str(exc), 300)}") from None
    statuses = [info for info in votable.iter_info() if info.name == "QUERY_STATUS"]
    for info in statuses:
        if str(info.value).upper() == "ERROR":
            message = _squash(info.content or info.value or "")
            raise BadAnswer(f"the archive refused the query: {message}")
    # DALI: an answer cut at the service's row limit (MAXREC) ends with QUERY_STATUS=OVERFLOW (after the
    # table, next to the OK before it). Its rows are a first part in the archive's order, not the cone:
    # never a catalog.
    if any(str(info.value).upper() == "OVERFLOW" for info in statuses):
        rows = sum(len(table.array) for table in votable.iter_tables())
        raise BadAnswer(overflow_message(rows))


def overflow_message(rows: int) -> str:
    """Return the one-line explanation of an answer the archive truncated at its row limit.

    Parameters
    ----------
    rows : int
        Rows the truncated answer holds (the archive's limit for this query).

    Returns
    -------
    str
        What happened and what to do.
    """
    return (f"the archive cut the answer at its row limit of {rows:,} rows (QUERY_STATUS=OVERFLOW), so the "
            "table is incomplete and was not used: narrow the query (smaller cone, --where), run it as an async "
            "job (--async; archives allow async jobs more rows), or ask for fewer rows with --top (the nearest ones)")


def convert_table(source: Path, out: Path, out_format: str = "ecsv") -> int:
    """Write the table in ``source`` (an archive answer) to ``out`` in ``out_format``, atomically.

    Parameters
    ----------
    source : pathlib.Path
        VOTable (read with names, not IDs, so Gaia's ``SOURCE_ID`` comes out as ``source_id``),
        or a file whose format astropy recognises.
    out : pathlib.Path
        Output file; replaced only once completely written.
    out_format : str
        ``ecsv`` (default; units and types kept), ``votable``, ``fits`` or ``csv``.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    CatalogError
        For an unknown output format or an unreadable source.
    """
    from astropy.table import Table

    if out_format not in OUTPUT_FORMATS:
        raise CatalogError(f"unknown output format {out_format!r} (use one of {', '.join(OUTPUT_FORMATS)})",
                           path=out, field="format")
    source = Path(source)
    is_votable = source.suffix.lower() in (".vot", ".xml", ".votable")
    try:
        table = (Table.read(source, format="votable", use_names_over_ids=True) if is_votable
                 else Table.read(source))
    except Exception as exc:  # astropy raises many types for malformed files
        raise CatalogError(f"cannot read the archive's table: {exc}", path=source) from None
    if out_format == "fits":
        _fixed_width_strings(table)
    with atomic_path(Path(out)) as tmp:
        table.write(tmp, format=OUTPUT_FORMATS[out_format], overwrite=True)
    return len(table)


def _fixed_width_strings(table) -> None:
    # VOTable char(*) columns read as Python objects, which FITS cannot store; FITS needs fixed-width text.
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind == "O":
            values = [("" if v is None or v is np.ma.masked else str(v)) for v in column.tolist()]
            table[name] = np.array(values, dtype=str)
