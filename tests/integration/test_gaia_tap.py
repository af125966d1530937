"""Gaia TAP against a local archive: sync and async (UWS) queries, error documents, retries, files, the CLI."""

import argparse
import io
import json

import numpy as np
import pytest
from astropy import units as u
from astropy.io.votable.tree import Info, VOTableFile
from astropy.table import Table

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.catalogs.gaia_tap import GAIA_DR3_EPOCH, GaiaParameters, GaiaTap, convert_table, gaia_catalog_spec
from virtualobserver.adapters.cli.gaia_command import BASE_URL_ENV, add_gaia_parser
from virtualobserver.domain.errors import CatalogError, SurveyError, TransientSurveyError
from tests.http_server import Reply

JOB = "1710099673321VAL"
SOURCE_IDS = [4295806720, 38655544960, 6917529027641081856]


def gaia_votable(status: str = "OK", rows: int = 3) -> bytes:
    """A small gaia_source answer as the ESA archive writes it: upper-case FIELD IDs, lower-case names."""
    table = Table({
        "source_id": np.array(SOURCE_IDS, dtype=np.int64),
        "ra": [44.996155, 45.004978, 359.99] * u.deg,
        "dec": [0.005615, 0.021586, -89.5] * u.deg,
        "pmra": [-1.5, 1000.0, np.nan] * u.mas / u.yr,
        "pmdec": [-2.25, 0.0, np.nan] * u.mas / u.yr,
        "parallax": [0.35, 45.0, np.nan] * u.mas,
        "phot_g_mean_mag": np.array([17.5, 12.25, 20.75], dtype=np.float32) * u.mag,
        "designation": [f"Gaia DR3 {s}" for s in SOURCE_IDS],
        "ref_epoch": [2016.0] * 3 * u.yr,
    })
    votable = VOTableFile.from_table(table[:rows])
    resource = votable.resources[0]
    resource.infos.append(Info(name="QUERY_STATUS", value=status))
    for votable_field in resource.tables[0].fields:
        if votable_field.name in ("source_id", "designation"):
            votable_field.ID = votable_field.name.upper()
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    return buffer.getvalue()


def error_votable(message: str) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
            b'<RESOURCE type="results">\n<INFO name="QUERY_STATUS" value="ERROR">'
            + message.encode() + b"</INFO>\n</RESOURCE>\n</VOTABLE>\n")


def job_document(phase: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><uws:job xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0">'
            f"<uws:jobId>{JOB}</uws:jobId><uws:phase>{phase}</uws:phase></uws:job>").encode()


VOTABLE = {"Content-Type": "text/xml"}
HTML_PAGE = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>down</body></html>"


@pytest.fixture
def archive(fake_archive):  # noqa: F811 - pytest passes the imported fixture
    """The fake archive with an async job whose phase goes EXECUTING, EXECUTING, COMPLETED."""
    base = "/tap/async"
    fake_archive.route(base, lambda r: Reply(303, headers={"Location": f"{fake_archive.url}{base}/{JOB}"}))
    fake_archive.route(f"{base}/{JOB}", lambda r: Reply(200, job_document("EXECUTING"), VOTABLE))
    fake_archive.queue(f"{base}/{JOB}/phase", Reply(200, b"EXECUTING"), Reply(200, b"EXECUTING"))
    fake_archive.route(f"{base}/{JOB}/phase", lambda r: Reply(200, b"COMPLETED", {"Content-Type": "text/plain"}))
    fake_archive.route(f"{base}/{JOB}/results/result", lambda r: Reply(200, gaia_votable(), VOTABLE))
    return fake_archive


@pytest.fixture
def pauses():
    return []


@pytest.fixture
def tap(archive, pauses):
    parameters = GaiaParameters(base_url=f"{archive.url}/tap", rate_limit_per_s=0.0, backoff_s=0.0, retries=2,
                                timeout_s=10.0, poll_interval_s=0.5, poll_max_interval_s=0.75)
    return GaiaTap(parameters, sleep=pauses.append)


def paths(archive):
    return [(r.method, r.path) for r in archive.requests]


def read_catalog(path, **kwargs):
    return FileCatalogReader().read(gaia_catalog_spec(path, **kwargs))


def test_sync_query_posts_the_tap_form_and_writes_a_catalog_with_units(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(), VOTABLE))
    adql = tap.cone(45.0, 0.0, 0.05, where="phot_g_mean_mag < 21")
    raw = tap.query(adql, tmp_path / "answer.vot")
    (request,) = archive.requests
    assert (request.method, request.path) == ("POST", "/tap/sync")
    assert request.form == {"REQUEST": ["doQuery"], "LANG": ["ADQL"], "FORMAT": ["votable"], "QUERY": [adql]}
    assert "TOP 2000 source_id, ra, dec, pmra" in adql and "AND (phot_g_mean_mag < 21)" in adql

    rows = convert_table(raw, tmp_path / "gaia.ecsv")
    catalog = read_catalog(tmp_path / "gaia.ecsv")
    assert rows == len(catalog) == 3
    assert list(catalog.columns["name"]) == [str(s) for s in SOURCE_IDS]
    assert catalog.columns["mag"].tolist() == [17.5, 12.25, 20.75] and catalog.epoch == GAIA_DR3_EPOCH
    written = Table.read(tmp_path / "gaia.ecsv")
    assert "source_id" in written.colnames and "SOURCE_ID" not in written.colnames
    assert (written["pmra"].unit, written["ra"].unit, written["phot_g_mean_mag"].unit) == (u.mas / u.yr, u.deg, u.mag)
    assert written["source_id"].dtype == np.int64
    assert np.isnan(catalog.columns["pmra"][2]) and catalog.columns["pmra"][1] == 1000.0  # a missing value stays missing


@pytest.mark.parametrize("out_format, name, units", [("ecsv", "c.ecsv", True), ("votable", "c.vot", True),
                                                     ("fits", "c.fits", True), ("csv", "c.csv", False)])
def test_every_output_format_reads_back_as_a_catalog(tap, archive, tmp_path, out_format, name, units):
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(), VOTABLE))
    assert tap.save_table(tap.cone(45.0, 0.0, 0.05), tmp_path / name, out_format=out_format) == 3
    catalog = read_catalog(tmp_path / name)
    assert list(catalog.columns["name"]) == [str(s) for s in SOURCE_IDS]
    assert catalog.columns["pmra"][1] == 1000.0
    assert (str(Table.read(tmp_path / name)["pmra"].unit) == "mas / yr") is units
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it


@pytest.mark.filterwarnings("ignore:.*(could not be saved in native FITS|did not parse as fits unit)")
def test_real_gaia_votable_served_sync(tap, archive, tmp_path, shared_data):
    body = (shared_data / "gaia_dr3_gaia_source_2rows_astroquery.vot").read_bytes()
    archive.route("/tap/sync", lambda r: Reply(200, body, VOTABLE))
    assert tap.save_table("SELECT TOP 20 * FROM gaiadr3.gaia_source", tmp_path / "real.ecsv") == 2
    catalog = read_catalog(tmp_path / "real.ecsv")
    assert list(catalog.columns["name"]) == ["4583627001381815936", "5348723816842275584"]
    written = Table.read(tmp_path / "real.ecsv")
    assert len(written.colnames) == 152 and "source_id" in written.colnames and "designation" in written.colnames
    assert written["pmdec"].unit == u.mas / u.yr and written["parallax"].unit == u.mas
    assert tap.save_table("SELECT 1", tmp_path / "real.fits", out_format="fits") == 2
    assert list(read_catalog(tmp_path / "real.fits").columns["name"]) == list(catalog.columns["name"])


def test_empty_cone_gives_an_empty_catalog(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(rows=0), VOTABLE))
    assert tap.save_table(tap.cone(10.0, 10.0, 0.001), tmp_path / "none.ecsv") == 0
    catalog = read_catalog(tmp_path / "none.ecsv")
    assert len(catalog) == 0 and catalog.sources() == []


def test_real_cone_search_ecsv_reads_with_the_mapping(shared_data):
    catalog = read_catalog(shared_data / "gaia_dr3_cone_search_5rows_astroquery.ecsv")
    assert len(catalog) == 5 and catalog.columns["name"][0] == "6636090334814214528"
    assert catalog.columns["mag"][0] == pytest.approx(19.761656, abs=1e-5)
    assert np.all(np.diff(catalog.columns["dist"]) > 0) and catalog.epoch == 2016.0
    assert catalog.sources()[0].epoch == 2016.0


def test_async_job_303_polling_then_result(tap, archive, pauses, tmp_path):
    adql = tap.cone(45.0, 0.0, 0.05, top=0)
    out = tap.query(adql, tmp_path / "async.vot", mode="async")
    job = f"/tap/async/{JOB}"
    assert paths(archive) == [("POST", "/tap/async"), ("GET", job), ("GET", f"{job}/phase"),
                              ("GET", f"{job}/phase"), ("GET", f"{job}/phase"), ("GET", f"{job}/results/result")]
    assert archive.requests[0].form["PHASE"] == ["RUN"] and archive.requests[0].form["QUERY"] == [adql]
    assert "TOP" not in adql
    assert pauses == [0.5, 0.75]  # one pause per EXECUTING answer, doubling up to poll_max_interval_s
    assert list(read_catalog(out).columns["name"]) == [str(s) for s in SOURCE_IDS]


def test_pending_job_is_started(tap, archive, tmp_path):
    job = f"/tap/async/{JOB}"
    # Replies in order: the first poll, the answer to the POST that starts the job, the second poll.
    archive.queue(f"{job}/phase", Reply(200, b"PENDING"), Reply(200, b""), Reply(200, b"COMPLETED"))
    tap.query("SELECT 1", tmp_path / "out.vot", mode="async")
    (start,) = [r for r in archive.requests if r.method == "POST" and r.path == f"{job}/phase"]
    assert start.form == {"PHASE": ["RUN"]}


def test_job_running_too_long_is_aborted(archive, pauses, tmp_path):
    archive.route(f"/tap/async/{JOB}/phase", lambda r: Reply(200, b"EXECUTING"))
    tap = GaiaTap(GaiaParameters(base_url=f"{archive.url}/tap", rate_limit_per_s=0.0, poll_interval_s=0.5,
                                 poll_max_interval_s=0.75, async_timeout_s=1.0), sleep=pauses.append)
    with pytest.raises(TransientSurveyError, match=rf"job .*{JOB} still EXECUTING after 1 s .*aborted"):
        tap.query("SELECT 1", tmp_path / "out.vot", mode="async")
    assert pauses == [0.5, 0.75]
    assert archive.requests[-1].method == "POST" and archive.requests[-1].form == {"PHASE": ["ABORT"]}
    assert list(tmp_path.iterdir()) == []


def test_failed_async_job_quotes_the_error_and_writes_nothing(tap, archive, tmp_path):
    job = f"/tap/async/{JOB}"
    archive.queue(f"{job}/phase", Reply(200, b"ERROR"))
    archive.route(f"{job}/error", lambda r: Reply(200, error_votable("Cannot parse query: unknown column 'gmag'")))
    with pytest.raises(SurveyError, match=r"phase ERROR: Cannot parse query: unknown column 'gmag'") as caught:
        tap.query("SELECT gmag FROM gaiadr3.gaia_source", tmp_path / "out.vot", mode="async")
    assert not isinstance(caught.value, TransientSurveyError)
    assert list(tmp_path.iterdir()) == []
    assert ("GET", f"{job}/results/result") not in paths(archive)


def test_aborted_job_without_error_document(tap, archive, tmp_path):
    archive.queue(f"/tap/async/{JOB}/phase", Reply(200, b"ABORTED"))  # /error is not served: 404
    with pytest.raises(SurveyError, match=r"phase ABORTED: \(no error summary: .*HTTP 404"):
        tap.query("SELECT 1", tmp_path / "out.vot", mode="async")
    assert list(tmp_path.iterdir()) == []


def test_error_votable_with_200_is_quoted_and_not_retried(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, error_votable("1 unresolved identifiers: foo [l.1 c.8]"),
                                               VOTABLE))
    with pytest.raises(SurveyError, match=r"refused the query: 1 unresolved identifiers: foo \[l\.1 c\.8\]") as caught:
        tap.save_table("SELECT foo FROM gaiadr3.gaia_source", tmp_path / "out.ecsv")
    assert not isinstance(caught.value, TransientSurveyError)
    assert len(archive.requests) == 1 and list(tmp_path.iterdir()) == []


def test_error_votable_with_400_is_permanent(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(400, error_votable("bad query"), VOTABLE))
    with pytest.raises(SurveyError, match=r"gaia_tap: sync query: .*/tap/sync: HTTP 400.*bad query") as caught:
        tap.query("SELECT", tmp_path / "out.vot")
    assert not isinstance(caught.value, TransientSurveyError)
    assert len(archive.requests) == 1 and list(tmp_path.iterdir()) == []


def test_html_error_page_is_reported_after_retries_and_writes_nothing(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, HTML_PAGE, {"Content-Type": "text/plain"}))
    with pytest.raises(TransientSurveyError, match=r"HTML page.*gave up after 3 attempt"):
        tap.query("SELECT 1", tmp_path / "out.vot")
    assert len(archive.requests) == 3 and list(tmp_path.iterdir()) == []


def test_503_then_success(tap, archive, pauses, tmp_path):
    archive.queue("/tap/sync", Reply(503, b"busy", {"Retry-After": "2"}))
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(), VOTABLE))
    out = tap.query("SELECT 1", tmp_path / "out.vot")
    assert len(archive.requests) == 2 and tap.stats.retries == 1 and pauses == [2.0]
    assert len(read_catalog(out)) == 3


def test_unreadable_answer_is_refused(tap, archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, b"<VOTABLE><RESOURCE><TABLE><DATA>", VOTABLE))
    with pytest.raises(SurveyError, match="not a readable VOTable"):
        tap.query("SELECT 1", tmp_path / "out.vot")
    assert list(tmp_path.iterdir()) == []


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="vo")
    add_gaia_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["catalog-gaia", *argv])
    return args.handler(args)


FAST = ["--set", "rate_limit_per_s=0", "--set", "backoff_s=0", "--set", "poll_interval_s=0"]


def test_cli_end_to_end_sync(archive, tmp_path, capsys):
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(), VOTABLE))
    out = tmp_path / "targets.ecsv"
    assert run_cli("--ra", "45", "--dec", "0.01", "--radius-deg", "0.05", "--where", "ruwe < 1.4",
                   "--columns", "source_id,ra,dec", "pmra", "--top", "3", "--out", str(out),
                   "--base-url", f"{archive.url}/tap", *FAST) == 0
    query = archive.requests[0].form["QUERY"][0]
    assert query.startswith("SELECT TOP 3 source_id, ra, dec, pmra, DISTANCE(") and "AND (ruwe < 1.4)" in query
    assert "CIRCLE('ICRS', 45.0, 0.01, 0.05)" in query
    printed = capsys.readouterr().out
    assert f"wrote 3 Gaia DR3 sources to {out}" in printed and "row limit (3)" in printed
    assert "columns: {name: source_id, mag: phot_g_mean_mag}" in printed
    assert list(read_catalog(out).columns["name"]) == [str(s) for s in SOURCE_IDS]


def test_cli_async_with_env_base_url_and_json(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(BASE_URL_ENV, f"{archive.url}/tap")
    out = tmp_path / "targets.fits"
    assert run_cli("--ra", "45", "--dec", "0", "--radius-deg", "0.05", "--async", "--columns", "all",
                   "--out", str(out), "--json", *FAST) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 3 and summary["format"] == "fits" and summary["epoch"] == 2016.0
    assert summary["catalog"]["columns"] == {"name": "source_id", "mag": "phot_g_mean_mag"}
    assert archive.requests[0].form["QUERY"][0].startswith("SELECT TOP 2000 *, DISTANCE(")
    assert ("GET", f"/tap/async/{JOB}/results/result") in paths(archive)
    assert len(read_catalog(out)) == 3


def test_cli_refuses_a_hostile_where_before_any_request(archive, tmp_path):
    with pytest.raises(CatalogError, match=r"field 'where'.*';'"):
        run_cli("--ra", "45", "--dec", "0", "--radius-deg", "0.05", "--where", "1=1; DROP TABLE x",
                "--out", str(tmp_path / "x.ecsv"), "--base-url", f"{archive.url}/tap")
    assert archive.requests == [] and list(tmp_path.iterdir()) == []


def test_cli_print_query_makes_no_request(archive, tmp_path, capsys):
    assert run_cli("--ra", "280", "--dec", "-60", "--radius-deg", "0.5", "--print-query", "--top", "50",
                   "--columns", "*", "--out", str(tmp_path / "x.ecsv"), "--base-url", f"{archive.url}/tap") == 0
    assert capsys.readouterr().out.startswith("SELECT TOP 50 *, DISTANCE(POINT('ICRS', ra, dec), "
                                              "POINT('ICRS', 280.0, -60.0)) AS dist")
    assert archive.requests == []


# -- answers cut at the archive's row limit (QUERY_STATUS=OVERFLOW) ---------------------------------------------


def overflowed(body: bytes) -> bytes:
    """``body`` as a DALI service sends it when MAXREC cut it: OVERFLOW after the table (OK before it stays)."""
    assert body.count(b"</TABLE>") == 1
    return body.replace(b"</TABLE>", b'</TABLE>\n<INFO name="QUERY_STATUS" value="OVERFLOW"/>')


@pytest.mark.parametrize("body, rows", [
    (lambda data: overflowed(gaia_votable()), 3),
    (lambda data: gaia_votable("OVERFLOW"), 3),  # a service that states only the overflow, before the table
    (lambda data: overflowed((data / "gaia_dr3_gaia_source_2rows_astroquery.vot").read_bytes()), 2),
])
def test_sync_answer_cut_at_the_row_limit_is_reported_and_not_written(tap, archive, tmp_path, shared_data, body,
                                                                      rows):
    answer = body(shared_data)
    assert b'value="OVERFLOW"' in answer and b'value="ERROR"' not in answer
    archive.route("/tap/sync", lambda r: Reply(200, answer, VOTABLE))
    with pytest.raises(SurveyError) as caught:
        tap.save_table(tap.cone(45.0, 0.0, 0.05), tmp_path / "cut.ecsv")
    message = str(caught.value)
    assert f"row limit of {rows} rows (QUERY_STATUS=OVERFLOW)" in message and "--async" in message
    assert "\n" not in message and not isinstance(caught.value, TransientSurveyError)
    assert len(archive.requests) == 1  # the same query would be cut the same way: not retried
    assert list(tmp_path.iterdir()) == []


def test_async_answer_cut_at_the_row_limit_is_reported(tap, archive, tmp_path):
    archive.route(f"/tap/async/{JOB}/results/result", lambda r: Reply(200, overflowed(gaia_votable()), VOTABLE))
    with pytest.raises(SurveyError, match=r"row limit of 3 rows \(QUERY_STATUS=OVERFLOW\)"):
        tap.query("SELECT * FROM gaiadr3.gaia_source", tmp_path / "out.vot", mode="async")
    assert list(tmp_path.iterdir()) == []


def test_a_complete_answer_of_as_many_rows_is_used(tap, archive, tmp_path):
    # The same rows with only QUERY_STATUS=OK: the rows alone never make an answer look cut.
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable("OK"), VOTABLE))
    assert tap.save_table(tap.cone(45.0, 0.0, 0.05, top=3), tmp_path / "full.ecsv") == 3


def test_cli_reports_an_overflow_in_one_line_and_writes_no_catalog(archive, tmp_path):
    archive.route("/tap/sync", lambda r: Reply(200, overflowed(gaia_votable()), VOTABLE))
    out = tmp_path / "targets.ecsv"
    with pytest.raises(SurveyError, match=r"row limit of 3 rows") as caught:
        run_cli("--ra", "45", "--dec", "0", "--radius-deg", "0.05", "--top", "0", "--out", str(out),
                "--base-url", f"{archive.url}/tap", *FAST)
    assert "\n" not in str(caught.value) and not out.exists()


@pytest.mark.parametrize("where", [
    "phot_variable_flag = 'VARIABLE'",
    "ABS(b) > 30",
    "phot_g_mean_mag BETWEEN 12 AND 18",
    "source_id IN (4295806720, 38655544960)",
    "phot_variable_flag IN ('VARIABLE', 'NOT_AVAILABLE')",
])
def test_cli_passes_ordinary_adql_conditions_to_the_archive(archive, tmp_path, where):
    archive.route("/tap/sync", lambda r: Reply(200, gaia_votable(), VOTABLE))
    assert run_cli("--ra", "45", "--dec", "0", "--radius-deg", "0.05", "--where", where,
                   "--out", str(tmp_path / "c.ecsv"), "--base-url", f"{archive.url}/tap", *FAST) == 0
    (request,) = archive.requests
    assert request.form["QUERY"][0].endswith(f" AND ({where}) ORDER BY dist ASC")
