"""VirtualZTF against a local HTTP server: queries, object choice, reduction, retries, cache, offline, login."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.ztf import RAW_COLUMNS, VirtualZTF, ZtfParameters
from virtualobserver.adapters.surveys.ztf_format import ZTF_DTYPES, read_answer
from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters
from virtualobserver.domain.astrometry import MAS_PER_DEG, julian_year_of_mjd, propagate_position
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source

from tests.http_server import Reply

LC_PATH = "/cgi-bin/ZTF/nph_light_curves"
LOGIN_PATH = "/account/signon/login.do"
REAL = "ztf_dr1_lightcurve_SN2018hmx_ipac.tbl"
SN2018HMX = Source("SN2018hmx", 128.41389, 55.59812, mag=17.3)
USER, PASSWORD = "alice@example.org", "s3cret-Pa55word"


# -- synthetic IRSA answers ----------------------------------------------------------------------------------------
@dataclass
class Obj:
    """One ZTF object (oid) of a synthetic answer; ``flagged`` epochs get catflags 32768."""

    oid: int
    band: str
    ra: float
    dec: float
    mag: float
    epochs: int = 6
    flagged: tuple = (2,)
    other_bits: tuple = (4,)  # epochs with catflags 4, a bit outside the default mask
    pmra: float = 0.0  # mas/yr: positions move from J2020.0
    pmdec: float = 0.0


def ztf_table(objects: list[Obj], seed: int = 1) -> Table:
    """Return an answer with IRSA's 24 columns: seasons of ~3-day cadence, realistic errors and limits."""
    rng = np.random.default_rng(seed)
    rows = {name: [] for name in ZTF_DTYPES}
    for obj in objects:
        for k in range(obj.epochs):
            mjd = 59000.2 + 3.0 * k + {"zg": 0.0, "zr": 0.04, "zi": 0.08}[obj.band]
            bad = k in obj.flagged
            ra, dec = propagate_position(obj.ra, obj.dec, obj.pmra, obj.pmdec, 2020.0, julian_year_of_mjd(mjd))
            values = {
                "oid": obj.oid, "expid": 100000000 + 10 * k, "hjd": mjd + 2400000.5, "mjd": mjd,
                "mag": obj.mag + rng.normal(0, 0.01), "magerr": 0.02, "catflags": 32768 if bad else (
                    4 if k in obj.other_bits else 0), "filtercode": obj.band,
                "ra": float(ra) + rng.normal(0, 0.05) / 3600, "dec": float(dec) + rng.normal(0, 0.05) / 3600,
                "chi": 0.9, "sharp": 0.01, "filefracday": 20200531000000 + k, "field": 633, "ccdid": 3, "qid": 3,
                "limitmag": 18.9 if bad else 20.8, "magzp": 24.9 if bad else 26.2, "magzprms": 0.03,
                "clrcoeff": -0.05, "clrcounc": 2e-5, "exptime": 30.0, "airmass": 1.2, "programid": 1,
            }
            for name, value in values.items():
                rows[name].append(value)
    return Table({name: np.array(values, dtype=str if ZTF_DTYPES[name] == "str" else ZTF_DTYPES[name])
                  for name, values in rows.items()})


def encode(table: Table, fmt: str) -> bytes:
    """Write ``table`` as IRSA would answer in ``fmt`` (astropy's writers)."""
    if fmt == "csv":
        text = io.StringIO()
        table.write(text, format="csv")
        return text.getvalue().encode()
    if fmt == "ipac_table":
        table = table.copy()
        table.meta["keywords"] = {"fixlen": {"value": "T"}, "RowsRetrieved": {"value": len(table)}}
        text = io.StringIO()
        table.write(text, format="ipac")
        return text.getvalue().encode()
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()


# -- fixtures -----------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_credentials(monkeypatch, tmp_path):
    """Keep the user's own IRSA credentials out of every test."""
    monkeypatch.delenv("VO_IRSA_USER", raising=False)
    monkeypatch.delenv("VO_IRSA_PASSWORD", raising=False)
    monkeypatch.setenv("VO_CREDENTIALS", str(tmp_path / "no-credentials-here"))


@pytest.fixture
def make_client(fake_archive, tmp_path):
    """Factory of clients of the fake archive sharing one cache; sleeps are recorded, not slept."""
    sleeps: list[float] = []

    def make(**values) -> VirtualZTF:
        parameters = ZtfParameters(**{"base_url": fake_archive.url, "backoff_s": 0.01, "retries": 2, "timeout_s": 5.0,
                                       "rate_limit_per_s": 0.0, **values})
        client = VirtualZTF(parameters, cache=RawCache(tmp_path / "cache"), sleep=sleeps.append)
        client.sleeps = sleeps
        return client

    return make


def serve(archive, body: bytes, content_type: str = "text/plain") -> None:
    archive.route(LC_PATH, lambda request: Reply(200, body, {"Content-Type": content_type}))


def cache_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def lc_requests(archive) -> list:
    return [r for r in archive.requests if r.path == LC_PATH]


def assert_two_lightcurves_with_only_catflag_epochs_bad(client: VirtualZTF, raw, epochs: int) -> None:
    lightcurves = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.num_epochs, lc.time_scale) for lc in lightcurves] == [
        ("zg", epochs, "utc"), ("zr", epochs, "utc")]
    checker = QualityChecker(QualityParameters())
    for lc in lightcurves:
        rows = raw.columns["filtercode"] == lc.filter
        catflags = raw.columns["catflags"][rows][np.argsort(raw.columns["mjd"][rows], kind="stable")]
        bad = ~checker.check(lc).good
        np.testing.assert_array_equal(bad, (catflags & 32768) != 0)
        np.testing.assert_array_equal(lc.flag, catflags & 32768)


# -- downloads and reduction --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["ipac_table", "csv", "votable"])
def test_real_answer_in_every_format(shared_data, fake_archive, make_client, tmp_path, fmt):
    real = shared_data / REAL
    body = real.read_bytes() if fmt == "ipac_table" else encode(Table(read_answer(real)[1]), fmt)
    serve(fake_archive, body)
    client = make_client(format=fmt)
    raw = client.download(SN2018HMX)
    assert raw.num_epochs == 32 and set(raw.columns) == set(RAW_COLUMNS)
    assert raw.meta["kept"] == ["784110400009312", "784210400008322"] and raw.meta["rejected"] == {}
    assert (raw.columns["catflags"] == 32768).sum() == 2
    assert_two_lightcurves_with_only_catflag_epochs_bad(client, raw, 16)
    (request,) = lc_requests(fake_archive)
    assert request.query["FORMAT"] == [fmt.upper()] and request.query["COLLECTION"] == ["ztf_dr23"]
    assert request.query["POS"] == ["CIRCLE 128.4138900 55.5981200 0.0005556"]


def test_real_file_parsed_as_a_user_file(shared_data):
    client = VirtualZTF()
    raw = client.parse_file(shared_data / REAL)
    assert raw.source_name == "" and raw.num_epochs == 32
    assert raw.ra == pytest.approx(128.41389, abs=2e-5) and raw.dec == pytest.approx(55.59812, abs=2e-5)
    assert_two_lightcurves_with_only_catflag_epochs_bad(client, raw, 16)


@pytest.mark.parametrize("fmt", ["ipac_table", "csv", "votable"])
def test_synthetic_answer_in_every_format(fake_archive, make_client, fmt):
    source = Source("star 1", 150.0, 2.0, mag=16.0)
    table = ztf_table([Obj(633110300000001, "zg", 150.0, 2.0, 16.2), Obj(633210300000002, "zr", 150.0, 2.0, 15.7)])
    serve(fake_archive, encode(table, fmt), "text/xml" if fmt == "votable" else "text/plain")
    client = make_client(format=fmt)
    raw = client.download(source)
    assert raw.num_epochs == 12 and raw.source_name == "star 1"
    assert raw.meta["query_url"].startswith(f"{fake_archive.url}/cgi-bin/ZTF/nph_light_curves?POS=CIRCLE%20150")
    assert raw.meta["collection"] == "ztf_dr23"
    # catflags 4 is outside the default mask: the epoch stays good, and the raw data keeps the 4.
    assert sorted(set(raw.columns["catflags"].tolist())) == [0, 4, 32768]
    assert_two_lightcurves_with_only_catflag_epochs_bad(client, raw, 6)


def test_synthetic_file_parsed_as_a_user_file(tmp_path):
    path = tmp_path / "saved.csv"
    path.write_bytes(encode(ztf_table([Obj(1, "zg", 10.0, -5.0, 16.0), Obj(2, "zr", 10.0, -5.0, 15.5)]), "csv"))
    raw = VirtualZTF().parse_file(path)
    assert raw.source_name == "" and raw.meta["oids"] == ["1", "2"] and raw.meta["format"] == "csv"
    assert raw.ra == pytest.approx(10.0, abs=1e-4) and raw.dec == pytest.approx(-5.0, abs=1e-4)


def test_query_moves_the_position_by_proper_motion_and_widens_the_cone(fake_archive, make_client):
    # A fast star (Barnard-like): catalog position at J2016.0.
    source = Source("fast", 269.45, 4.69, mag=10.0, pmra=-800.0, pmdec=10300.0, epoch=2016.0)
    ra2020 = 269.45 - 800.0 * 4.0 / MAS_PER_DEG / np.cos(np.radians(4.69))
    dec2020 = 4.69 + 10300.0 * 4.0 / MAS_PER_DEG
    radius = 2.0 / 3600 + np.hypot(800.0, 10300.0) * 5.5 / MAS_PER_DEG  # ZTF span 2018.2-2025.5 from J2020.0
    # The star's ZTF objects sit where it was in 2020; an unrelated star sits at the old catalog position.
    table = ztf_table([Obj(11, "zg", ra2020, dec2020, 10.3, pmra=-800.0, pmdec=10300.0),
                       Obj(12, "zr", ra2020, dec2020, 9.8, pmra=-800.0, pmdec=10300.0),
                       Obj(13, "zr", 269.45, 4.69, 10.1, epochs=9)])
    serve(fake_archive, encode(table, "ipac_table"))
    raw = make_client().download(source)
    (request,) = lc_requests(fake_archive)
    assert request.query["POS"] == [f"CIRCLE {ra2020:.7f} {dec2020:.7f} {radius:.7f}"]
    assert (raw.ra, raw.dec) == (pytest.approx(ra2020), pytest.approx(dec2020))
    assert raw.meta["kept"] == ["11", "12"] and "arcsec from the source" in raw.meta["rejected"]["13"]


def test_wrong_objects_are_rejected_with_reasons(fake_archive, make_client):
    source = Source("s", 200.0, -10.0, mag=16.0)
    far = 200.0 + 3.0 / 3600 / np.cos(np.radians(-10.0))
    table = ztf_table([
        Obj(1, "zg", 200.0, -10.0, 16.2, epochs=5),
        Obj(2, "zg", far, -10.0, 16.2, epochs=9),          # more epochs, but 3 arcsec away
        Obj(3, "zr", 200.0, -10.0, 19.5, epochs=9),        # right place, 3.5 mag too faint
        Obj(4, "zr", 200.0, -10.0, 15.8, epochs=6),
        Obj(5, "zr", 200.0 + 0.3 / 3600, -10.0, 15.8, epochs=4),  # matches, fewer epochs than oid 4
    ])
    serve(fake_archive, encode(table, "csv"))
    raw = make_client(format="csv").download(source)
    assert raw.meta["kept"] == ["1", "4"]
    assert sorted(set(raw.columns["oid"].tolist())) == [1, 4] and raw.num_epochs == 11
    rejected = raw.meta["rejected"]
    assert set(rejected) == {"2", "3", "5"}
    distance = re.fullmatch(r"zg: median position (\S+) arcsec from the source \(limit 1\.50\)", rejected["2"])
    assert distance and float(distance[1]) == pytest.approx(3.0, abs=0.05)
    assert re.fullmatch(r"zr: median mag 19\.5\d differs from the source mag 16\.00 by more than 2", rejected["3"])
    assert rejected["5"] == "zr: 4 epochs, fewer than oid 4 (6)"
    json.dumps(raw.meta)  # the metadata must be storable as JSON


def test_objects_all_keeps_every_match_and_mag_tolerance_zero_ignores_magnitudes(fake_archive, make_client):
    table = ztf_table([Obj(4, "zr", 200.0, -10.0, 15.8, epochs=6), Obj(5, "zr", 200.0, -10.0, 15.8, epochs=4),
                       Obj(6, "zg", 200.0, -10.0, 25.0, epochs=4)])
    serve(fake_archive, encode(table, "csv"))
    raw = make_client(format="csv", objects="all", mag_tolerance=0.0).download(Source("s", 200.0, -10.0, mag=16.0))
    assert raw.meta["kept"] == ["6", "4", "5"] and raw.meta["rejected"] == {}
    assert [lc.num_epochs for lc in VirtualZTF().reduce(raw, ReductionParameters())] == [4, 10]


@pytest.mark.parametrize("fmt", ["ipac_table", "csv", "votable"])
def test_nothing_at_the_position_gives_empty_raw_data_and_is_cached(fake_archive, make_client, fmt):
    serve(fake_archive, encode(ztf_table([]), fmt))
    client = make_client(format=fmt)
    raw = client.download(Source("lonely", 10.0, 80.0))
    assert raw.num_epochs == 0 and set(raw.columns) == set(RAW_COLUMNS)
    assert raw.columns["oid"].dtype == np.int64 and raw.columns["mjd"].dtype == np.float64
    assert client.reduce(raw, ReductionParameters()) == []
    assert client.download(Source("lonely", 10.0, 80.0)).num_epochs == 0
    assert len(lc_requests(fake_archive)) == 1


def test_503_then_success_is_survived(fake_archive, make_client):
    fake_archive.queue(LC_PATH, Reply(503, b"busy", {"Retry-After": "0"}))
    serve(fake_archive, encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "ipac_table"))
    client = make_client()
    raw = client.download(Source("s", 1.0, 1.0, mag=16.0))
    assert raw.num_epochs == 6 and len(lc_requests(fake_archive)) == 2
    assert client.stats.retries == 1 and len(client.sleeps) == 1


@pytest.mark.parametrize("reply", [
    Reply(200, b"<!DOCTYPE html><html><title>Error</title></html>", {"Content-Type": "text/html"}),
    Reply(200, b"<html><body>Proxy error</body></html>", {"Content-Type": "text/plain"}),
    Reply(200, b"ERROR: server hiccup\n", {"Content-Type": "text/plain"}),
    "cut", "rows_missing",
], ids=["html", "html-as-text", "garbage", "cut-connection", "rows-missing"])
def test_unusable_answers_end_in_transient_error_and_leave_no_file(fake_archive, make_client, tmp_path,
                                                                   reply):
    body = encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "ipac_table")
    if reply == "cut":
        reply = Reply(200, body, {"Content-Type": "text/plain"}, truncate=len(body) // 2)
    elif reply == "rows_missing":  # a complete HTTP answer whose table lost its last rows
        reply = Reply(200, body[: body.rstrip().rindex(b"\n") + 1], {"Content-Type": "text/plain"})
    fake_archive.route(LC_PATH, lambda request: reply)
    client = make_client()
    with pytest.raises(TransientSurveyError, match=r"ztf: s: http://127\.0\.0\.1:\d+/cgi-bin/ZTF/nph_light_curves"):
        client.download(Source("s", 1.0, 1.0))
    assert len(lc_requests(fake_archive)) == 3  # the first try and 2 retries
    assert cache_files(tmp_path) == []


def test_answer_without_required_columns_is_a_permanent_error(fake_archive, make_client, tmp_path):
    serve(fake_archive, b"oid,mjd\n1,59000.5\n")
    with pytest.raises(SurveyError, match=r"no columns \['mag', 'magerr'") as info:
        make_client().download(Source("s", 1.0, 1.0))
    assert not isinstance(info.value, TransientSurveyError)
    assert len(lc_requests(fake_archive)) == 1 and cache_files(tmp_path) == []


def test_offline_reads_the_cache_and_refuses_without_it(fake_archive, make_client):
    serve(fake_archive, encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "ipac_table"))
    online = make_client().download(Source("s", 1.0, 1.0))
    offline_client = make_client(offline=True)
    offline = offline_client.download(Source("s", 1.0, 1.0))
    assert len(fake_archive.requests) == 1
    assert offline.num_epochs == online.num_epochs == 6 and offline.meta == online.meta
    np.testing.assert_array_equal(offline.columns["mag"], online.columns["mag"])
    with pytest.raises(OfflineError, match="not available offline"):
        offline_client.download(Source("other", 2.0, 2.0))
    assert len(fake_archive.requests) == 1


def test_damaged_cache_file_is_removed_and_reported(fake_archive, make_client, tmp_path):
    serve(fake_archive, encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "ipac_table"))
    make_client().download(Source("s", 1.0, 1.0))
    (cached,) = cache_files(tmp_path)
    cached.write_bytes(cached.read_bytes()[:300])
    with pytest.raises(TransientSurveyError, match="cached answer was unreadable and is removed"):
        make_client().download(Source("s", 1.0, 1.0))
    assert cache_files(tmp_path) == []
    assert make_client().download(Source("s", 1.0, 1.0)).num_epochs == 6


# -- proprietary data and the IRSA login ----------------------------------------------------------------------------
def irsa_with_login(archive, body: bytes) -> None:
    """Login sets a session cookie for the right credentials; the data path refuses requests without it."""

    def login(request):
        form = {k: v[0] for k, v in request.form.items()}
        if request.method == "POST" and form == {"josso_cmd": "login", "josso_username": USER,
                                                 "josso_password": PASSWORD}:
            return Reply(200, b"<html>welcome</html>", {"Content-Type": "text/html",
                                                        "Set-Cookie": "JOSSO_SESSIONID=abc123; Path=/"})
        return Reply(200, b"<html>login failed</html>", {"Content-Type": "text/html"})

    def data(request):
        if "JOSSO_SESSIONID=abc123" not in request.headers.get("Cookie", ""):
            return Reply(401, b"login required", {"Content-Type": "text/plain"})
        return Reply(200, body, {"Content-Type": "text/plain"})

    archive.route(LOGIN_PATH, login)
    archive.route(LC_PATH, data)


def assert_no_credentials(*texts: str) -> None:
    for text in texts:
        assert USER not in text and PASSWORD not in text and "alice" not in text


def test_proprietary_collection_logs_in_once_with_environment_credentials(
        fake_archive, make_client, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VO_IRSA_USER", USER)
    monkeypatch.setenv("VO_IRSA_PASSWORD", PASSWORD)
    irsa_with_login(fake_archive, encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "ipac_table"))
    client = make_client(collection="ztf")
    first = client.download(Source("a", 1.0, 1.0))
    second = client.download(Source("b", 1.0, 1.0001))
    assert first.num_epochs == second.num_epochs == 6
    logins = [r for r in fake_archive.requests if r.path == LOGIN_PATH]
    assert len(logins) == 1 and logins[0].method == "POST" and logins[0].query == {}
    assert [r.query["COLLECTION"] for r in lc_requests(fake_archive)] == [["ztf"], ["ztf"]]
    assert_no_credentials(json.dumps(first.meta), repr(first.meta), caplog.text,
                          *(r.path + json.dumps(r.query) for r in lc_requests(fake_archive)))
    assert "logged in to IRSA" in caplog.text


def test_credentials_file_is_used(fake_archive, make_client, monkeypatch, tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"[irsa]\nusername = {USER}\npassword = {PASSWORD}\n")
    os.chmod(path, 0o600)
    monkeypatch.setenv("VO_CREDENTIALS", str(path))
    irsa_with_login(fake_archive, encode(ztf_table([Obj(1, "zg", 1.0, 1.0, 16.0)]), "csv"))
    raw = make_client(collection="ztf", format="csv").download(Source("a", 1.0, 1.0))
    assert raw.num_epochs == 6


def test_missing_credentials_are_refused_before_any_request(fake_archive, make_client, tmp_path):
    irsa_with_login(fake_archive, b"")
    with pytest.raises(SurveyError, match=r"proprietary.*VO_IRSA_USER and VO_IRSA_PASSWORD.*\[irsa\].*"
                                          + str(tmp_path / "no-credentials-here")):
        make_client(collection="ztf").download(Source("a", 1.0, 1.0))
    assert fake_archive.requests == []


def test_refused_login_names_where_the_credentials_came_from_but_not_them(
        fake_archive, make_client, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VO_IRSA_USER", USER)
    monkeypatch.setenv("VO_IRSA_PASSWORD", PASSWORD + "-wrong")
    irsa_with_login(fake_archive, b"")
    with pytest.raises(SurveyError, match="IRSA refused the login.*environment variables VO_IRSA_USER") as info:
        make_client(collection="ztf").download(Source("a", 1.0, 1.0))
    assert_no_credentials(str(info.value), caplog.text)
    assert lc_requests(fake_archive) == []


def test_data_refused_without_cookie_is_a_permanent_error(fake_archive, make_client, monkeypatch):
    # The public collection never logs in, so a server that wants a cookie refuses it with 401.
    monkeypatch.setenv("VO_IRSA_USER", USER)
    monkeypatch.setenv("VO_IRSA_PASSWORD", PASSWORD)
    irsa_with_login(fake_archive, b"")
    with pytest.raises(SurveyError, match="HTTP 401") as info:
        make_client().download(Source("a", 1.0, 1.0))
    assert not isinstance(info.value, TransientSurveyError)
    assert [r.path for r in fake_archive.requests] == [LC_PATH]


def test_malformed_credentials_file_does_not_quote_its_lines(fake_archive, make_client, monkeypatch, tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"[irsa]\nusername = {USER}\n{PASSWORD}\n")
    monkeypatch.setenv("VO_CREDENTIALS", str(path))
    with pytest.raises(SurveyError, match=r"is not a valid INI file \(line 3\)") as info:
        make_client(collection="ztf").download(Source("a", 1.0, 1.0))
    assert_no_credentials(str(info.value))
