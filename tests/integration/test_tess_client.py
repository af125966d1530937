"""VirtualTESS end to end against a local HTTP server playing MAST (JSON API and file downloads)."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.tess import TessParameters, VirtualTESS
from virtualobserver.adapters.surveys.tess_format import RAW_COLUMNS
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source
from tests.http_server import FakeArchive, Reply
from tests.unit.test_tess_format import write_spoc_lc

INVOKE = "/api/v0/invoke"
DOWNLOAD = "/api/v0.1/Download/file"
TIC = 123456789
RA, DEC = 51.1119, -77.4515
FILE_NAME = f"tess2019006130736-s0007-{TIC:016d}-0131-s_lc.fits"


def _answer(rows, status="COMPLETE", msg=""):
    fields = [{"name": name, "type": "string"} for name in (rows[0] if rows else {})]
    return json.dumps({"status": status, "msg": msg, "data": rows, "fields": fields,
                       "paging": {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": len(rows),
                                  "rowsFiltered": len(rows), "rowsTotal": len(rows)}}).encode()


def _tic_row(tic, ra, dec, tmag):
    return {"ID": tic, "ra": ra, "dec": dec, "Tmag": tmag, "pmRA": 275.0, "pmDEC": 188.0, "disposition": None}


class Mast:
    """The MAST services VirtualTESS uses, answering from a small world of TIC rows and files."""

    def __init__(self, archive: FakeArchive, tic_rows, files: dict[int, list[tuple[str, bytes]]]):
        self.tic_rows = tic_rows
        self.files = files
        self.by_uri = {f"mast:TESS/product/{name}": body for entries in files.values() for name, body in entries}
        self.services: list[dict] = []
        archive.route(INVOKE, self.invoke)
        archive.route(DOWNLOAD, self.download)

    def invoke(self, request) -> Reply:
        query = json.loads(request.form["request"][0])
        self.services.append(query)
        params = query["params"]
        if query["service"] == "Mast.Catalogs.Tic.Cone":
            return Reply(body=_answer(self.tic_rows), headers={"Content-Type": "application/json"})
        if query["service"] == "Mast.Caom.Filtered":
            wanted = {f["paramName"]: f["values"] for f in params["filters"]}
            tic = int(wanted["target_name"][0])
            rows = [{"obsid": f"{tic}{k}", "obs_collection": "TESS", "target_name": str(tic),
                     "provenance_name": "SPOC", "dataproduct_type": "timeseries"}
                    for k in range(len(self.files.get(tic, [])))]
            return Reply(body=_answer(rows))
        if query["service"] == "Mast.Caom.Products":
            rows = []
            for tic, entries in self.files.items():
                for k, (name, body) in enumerate(entries):
                    if f"{tic}{k}" in params["obsid"].split(","):
                        group = "FAST-LC" if name.endswith("fast-lc.fits") else "LC"
                        rows.append({"obsID": f"{tic}{k}", "productFilename": name,
                                     "dataURI": f"mast:TESS/product/{name}",
                                     "productSubGroupDescription": group, "size": len(body)})
                        tp = name.replace("lc.fits", "tp.fits")
                        rows.append({"obsID": f"{tic}{k}", "productFilename": tp,
                                     "dataURI": f"mast:TESS/product/{tp}",
                                     "productSubGroupDescription": "TP", "size": 10})
            return Reply(body=_answer(rows))
        return Reply(body=_answer([], status="ERROR", msg=f"unknown service {query['service']}"))

    def download(self, request) -> Reply:
        body = self.by_uri.get(request.query["uri"][0])
        return Reply(body=body) if body is not None else Reply(404, b"not found")


@pytest.fixture
def archive(fake_archive):
    return fake_archive


@pytest.fixture
def spoc_bytes(tmp_path):
    return write_spoc_lc(tmp_path / FILE_NAME, tic=TIC).read_bytes()


@pytest.fixture
def world(archive, spoc_bytes):
    return Mast(archive, [_tic_row(TIC, RA, DEC, 14.3), _tic_row(999, RA + 0.01, DEC, 9.0)],
                {TIC: [(FILE_NAME, spoc_bytes)]})


def _client(archive, tmp_path, sleeps=None, **params):
    params = {"base_url": archive.url, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.01, **params}
    return VirtualTESS(TessParameters(**params), cache=RawCache(tmp_path / "cache"),
                       sleep=(sleeps.append if sleeps is not None else lambda s: None))


def _cached_files(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".json")


def test_download_end_to_end_and_reduce(archive, world, tmp_path):
    client = _client(archive, tmp_path)
    raw = client.download(Source("M dwarf", RA, DEC, mag=14.0))
    assert raw.num_epochs == 300 and set(raw.columns) == set(RAW_COLUMNS)
    assert raw.meta["tic_id"] == TIC and raw.meta["tic"]["distance_arcsec"] < 0.01
    (entry,) = raw.meta["files"]
    assert entry["file"] == FILE_NAME and entry["uri"] == f"mast:TESS/product/{FILE_NAME}"
    assert entry["primary"]["TICID"] == TIC and entry["lightcurve"]["TIMESYS"] == "TDB"
    assert raw.images["aperture_s0007"].shape == (3, 3)
    assert json.loads(json.dumps(raw.meta, allow_nan=False)) == raw.meta
    assert [q["service"] for q in world.services] == ["Mast.Catalogs.Tic.Cone", "Mast.Caom.Filtered",
                                                      "Mast.Caom.Products"]
    filters = {f["paramName"]: f["values"] for f in world.services[1]["params"]["filters"]}
    assert filters == {"obs_collection": ["TESS"], "dataproduct_type": ["timeseries"], "target_name": [str(TIC)],
                       "provenance_name": ["SPOC"]}
    downloads = [r for r in archive.requests if r.path == DOWNLOAD]
    assert [r.query["uri"] for r in downloads] == [[f"mast:TESS/product/{FILE_NAME}"]]  # the TP file is skipped
    assert _cached_files(tmp_path) == [FILE_NAME]
    (lc,) = client.reduce(raw, ReductionParameters())
    assert (lc.filter, lc.season, lc.time_scale, lc.num_epochs) == ("TESS", 7, "tdb", 300)

    again = client.download(Source("M dwarf", RA, DEC, mag=14.0))
    assert len([r for r in archive.requests if r.path == DOWNLOAD]) == 1  # the file came from the cache
    np.testing.assert_array_equal(again.columns["pdcsap_flux"], raw.columns["pdcsap_flux"])


def test_real_tic_answer_picks_the_nearest_compatible_star(archive, tmp_path, shared_data):
    answer = json.loads((shared_data / "mast_tic_catalog_7rows_astroquery.json").read_text())
    tic = 10000869228  # ra 254.248093, dec -4.12924, Tmag 15.15
    name = f"tess2019169103026-s0012-{tic:016d}-0144-s_lc.fits"
    body = write_spoc_lc(tmp_path / name, tic=tic, sector=12, ra=254.248093, dec=-4.12924).read_bytes()
    world = Mast(archive, answer["data"], {tic: [(name, body)]})
    raw = _client(archive, tmp_path, tic_radius_arcsec=5.0).download(Source("x", 254.2481, -4.1292, mag=15.5))
    assert raw.meta["tic_id"] == tic and raw.num_epochs == 300 and set(raw.columns["sector"]) == {12}
    assert world.services[0]["params"]["radius"] == pytest.approx(5.0 / 3600)


def test_source_position_is_moved_to_the_tic_epoch(archive, world, tmp_path):
    # 2016.0 position of a star moving +1000 mas/yr in dec: 16 arcsec north of its J2000 position.
    client = _client(archive, tmp_path, tic_radius_arcsec=2.0)
    raw = client.download(Source("fast mover", RA, DEC + 16 / 3600, pmra=0.0, pmdec=1000.0, epoch=2016.0))
    assert raw.meta["tic_id"] == TIC
    assert world.services[0]["params"]["dec"] == pytest.approx(DEC, abs=1e-9)


def test_no_tic_star_gives_an_empty_answer(archive, world, tmp_path):
    raw = _client(archive, tmp_path).download(Source("nothing", 200.0, 10.0))
    assert raw.num_epochs == 0 and set(raw.columns) == set(RAW_COLUMNS)
    assert raw.meta["tic_id"] is None
    assert [q["service"] for q in world.services] == ["Mast.Catalogs.Tic.Cone"]
    assert _client(archive, tmp_path).reduce(raw, ReductionParameters()) == []


def test_a_star_without_lightcurves_gives_an_empty_answer(archive, tmp_path):
    Mast(archive, [_tic_row(42, RA, DEC, 14.0)], {})
    raw = _client(archive, tmp_path).download(Source("unobserved", RA, DEC))
    assert raw.num_epochs == 0 and raw.meta["tic_id"] == 42 and raw.meta["files"] == []


def test_executing_answer_is_asked_again(archive, world, tmp_path):
    archive.queue(INVOKE, Reply(body=_answer([], status="EXECUTING")))
    sleeps = []
    raw = _client(archive, tmp_path, sleeps).download(Source("slow", RA, DEC))
    assert raw.meta["tic_id"] == TIC
    assert [r.path for r in archive.requests][:2] == [INVOKE, INVOKE]
    assert sleeps == [2.0]  # one pause between the two polls, nothing else


def test_mast_still_executing_is_transient_and_an_error_is_permanent(archive, tmp_path):
    archive.route(INVOKE, lambda request: Reply(body=_answer([], status="EXECUTING")))
    client = _client(archive, tmp_path)
    client.mast.max_polls = 3
    with pytest.raises(TransientSurveyError, match="Mast.Catalogs.Tic.Cone .*still EXECUTING after 3"):
        client.download(Source("slow", RA, DEC))
    archive.route(INVOKE, lambda request: Reply(body=_answer([], status="ERROR", msg="bad filter")))
    with pytest.raises(SurveyError, match="Mast.Catalogs.Tic.Cone for broken failed.*bad filter"):
        client.download(Source("broken", RA, DEC))


def test_rate_limited_answer_is_survived(archive, world, tmp_path):
    archive.queue(INVOKE, Reply(429, b"slow down", headers={"Retry-After": "3"}))
    sleeps = []
    raw = _client(archive, tmp_path, sleeps).download(Source("busy", RA, DEC))
    assert raw.num_epochs == 300
    assert len(sleeps) == 1 and sleeps[0] >= 3.0


def test_cut_download_leaves_nothing_and_is_transient(archive, world, spoc_bytes, tmp_path):
    archive.route(DOWNLOAD, lambda request: Reply(body=spoc_bytes, truncate=len(spoc_bytes) // 2))
    with pytest.raises(TransientSurveyError, match="cut short"):
        _client(archive, tmp_path).download(Source("cut", RA, DEC))
    assert len([r for r in archive.requests if r.path == DOWNLOAD]) == 3  # 1 + 2 retries
    assert _cached_files(tmp_path) == []
    assert not [p for p in (tmp_path / "cache").rglob("*.part")]


def test_corrupt_download_leaves_nothing_and_is_transient(archive, world, spoc_bytes, tmp_path):
    corrupt = bytearray(spoc_bytes)
    corrupt[2880 * 3 + 100] ^= 0x40  # same size, inside the LIGHTCURVE data
    archive.route(DOWNLOAD, lambda request: Reply(body=bytes(corrupt)))
    with pytest.raises(TransientSurveyError, match=r"checksum of HDU 1 \(LIGHTCURVE\) fails"):
        _client(archive, tmp_path).download(Source("corrupt", RA, DEC))
    assert _cached_files(tmp_path) == []


def test_a_damaged_cache_entry_is_fetched_again(archive, world, tmp_path):
    client = _client(archive, tmp_path)
    client.download(Source("star", RA, DEC))
    (path,) = [p for p in (tmp_path / "cache").rglob(FILE_NAME)]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    raw = client.download(Source("star", RA, DEC))
    assert raw.num_epochs == 300
    assert len([r for r in archive.requests if r.path == DOWNLOAD]) == 2


def test_offline_mode_uses_only_the_cache(archive, world, tmp_path):
    online = _client(archive, tmp_path).download(Source("star", RA, DEC, mag=14.0))
    asked = len(archive.requests)
    offline = _client(archive, tmp_path, offline=True).download(Source("star", RA, DEC, mag=14.0))
    assert len(archive.requests) == asked
    assert offline.meta == online.meta
    for name, column in online.columns.items():
        np.testing.assert_array_equal(offline.columns[name], column)
    with pytest.raises(OfflineError, match="not in the cache"):
        _client(archive, tmp_path, offline=True).download(Source("elsewhere", 10.0, 10.0))
    assert len(archive.requests) == asked


def test_offline_mode_without_the_file_fails_without_requests(archive, world, tmp_path):
    _client(archive, tmp_path).download(Source("star", RA, DEC))
    for path in (tmp_path / "cache").rglob(FILE_NAME):
        os.remove(path)
    asked = len(archive.requests)
    with pytest.raises(OfflineError):
        _client(archive, tmp_path, offline=True).download(Source("star", RA, DEC))
    assert len(archive.requests) == asked


def test_sectors_and_cadences_narrow_the_query(archive, world, tmp_path):
    raw = _client(archive, tmp_path, sectors=[8]).download(Source("star", RA, DEC))
    filters = {f["paramName"]: f["values"] for f in world.services[1]["params"]["filters"]}
    assert filters["sequence_number"] == [8]
    assert raw.num_epochs == 0  # the server's sector-7 file is not what was asked for
    raw = _client(archive, tmp_path, cadences=["20"]).download(Source("star", RA, DEC))
    assert raw.num_epochs == 0  # only a 2-min file exists


def test_a_file_of_another_star_is_refused(archive, tmp_path):
    body = write_spoc_lc(tmp_path / FILE_NAME, tic=777).read_bytes()
    Mast(archive, [_tic_row(TIC, RA, DEC, 14.0)], {TIC: [(FILE_NAME, body)]})
    with pytest.raises(SurveyError, match="file is of TIC 777, not TIC 123456789"):
        _client(archive, tmp_path).download(Source("star", RA, DEC))
    assert _cached_files(tmp_path) == []


def test_both_cadences_of_a_sector(archive, spoc_bytes, tmp_path):
    fast_name = FILE_NAME.replace("-s_lc.fits", "-a_fast-lc.fits")
    fast = write_spoc_lc(tmp_path / fast_name, tic=TIC, fast=True, n=200).read_bytes()
    Mast(archive, [_tic_row(TIC, RA, DEC, 14.0)], {TIC: [(fast_name, fast), (FILE_NAME, spoc_bytes)]})
    client = _client(archive, tmp_path, cadences=["120", "20"])
    raw = client.download(Source("star", RA, DEC))
    assert raw.num_epochs == 500 and set(raw.images) == {"aperture_s0007", "aperture_s0007_fast"}
    assert [(e["file"], e["cadence_s"], e["size"]) for e in raw.meta["files"]] == [
        (FILE_NAME, 120.0, len(spoc_bytes)), (fast_name, pytest.approx(20.0), len(fast))]
    assert [(lc.filter, lc.num_epochs) for lc in client.reduce(raw, ReductionParameters())] == [
        ("TESS", 300), ("TESS-fast", 200)]


def test_concurrent_downloads_of_one_star_share_the_cache(archive, world, tmp_path):
    client = _client(archive, tmp_path, max_concurrency=4)
    with ThreadPoolExecutor(4) as pool:
        raws = list(pool.map(client.download, [Source(f"alias {k}", RA, DEC) for k in range(8)]))
    assert {raw.meta["tic_id"] for raw in raws} == {TIC} and {raw.num_epochs for raw in raws} == {300}
    assert _cached_files(tmp_path) == [FILE_NAME]
    assert not [p for p in (tmp_path / "cache").rglob("*.part")]
