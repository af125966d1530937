"""VirtualKepler and VirtualK2 end to end against a local HTTP server playing MAST (JSON API and file downloads)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.kepler import K2Parameters, KeplerParameters, VirtualK2, VirtualKepler
from virtualobserver.adapters.surveys.kepler_format import KEPLER
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source
from tests.http_server import FakeArchive, Reply
from tests.unit.test_kepler_format import write_kepler_lc

INVOKE = "/api/v0/invoke"
DOWNLOAD = "/api/v0.1/Download/file"
KIC, EPIC = 10002792, 211117077
RA, DEC = 287.86721, 46.98308
K2_RA, K2_DEC = 55.967295, 24.841616
Q5 = f"kplr{KIC:09d}-2010174085026_llc.fits"
Q6 = f"kplr{KIC:09d}-2010265121752_llc.fits"
C4 = f"ktwo{EPIC:09d}-c04_llc.fits"


def _answer(rows, status="COMPLETE", msg=""):
    fields = [{"name": name, "type": "string"} for name in (rows[0] if rows else {})]
    return json.dumps({"status": status, "msg": msg, "data": rows, "fields": fields,
                       "paging": {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": len(rows),
                                  "rowsFiltered": len(rows), "rowsTotal": len(rows)}}).encode()


class Mast:
    """The MAST services the Kepler/K2 clients use: a position search, product lists and file downloads.

    ``targets`` maps a target name (``kplr010002792``) to its position and its files, each
    ``(file name, body, description)``; every target has one observation per file.
    """

    def __init__(self, archive: FakeArchive, collection: str, targets: dict[str, tuple[float, float, list]]):
        self.collection = collection
        self.targets = targets
        self.by_uri = {self.uri(name): body for _, _, files in targets.values() for name, body, _ in files}
        self.services: list[dict] = []
        archive.route(INVOKE, self.invoke)
        archive.route(DOWNLOAD, self.download)

    def uri(self, name: str) -> str:
        return f"mast:{self.collection.upper()}/url/missions/{self.collection.lower()}/lightcurves/{name}"

    def invoke(self, request) -> Reply:
        query = json.loads(request.form["request"][0])
        self.services.append(query)
        params = query["params"]
        if query["service"] == "Mast.Caom.Filtered.Position":
            ra, dec, radius = (float(v) for v in params["position"].split(","))
            rows = [{"obsid": f"{name}-{k}", "target_name": name, "s_ra": t_ra, "s_dec": t_dec,
                     "obs_collection": self.collection, "dataproduct_type": "timeseries"}
                    for name, (t_ra, t_dec, files) in self.targets.items() for k in range(len(files))
                    if abs(t_dec - dec) <= radius and abs(t_ra - ra) * np.cos(np.radians(dec)) <= radius]
            return Reply(body=_answer(rows), headers={"Content-Type": "application/json"})
        if query["service"] == "Mast.Caom.Products":
            wanted = params["obsid"].split(",")
            rows = []
            for name, (_, _, files) in self.targets.items():
                for k, (file_name, body, description) in enumerate(files):
                    if f"{name}-{k}" in wanted:
                        rows.append({"obsID": f"{name}-{k}", "productFilename": file_name,
                                     "dataURI": self.uri(file_name), "description": description, "size": len(body),
                                     "productSubGroupDescription": "LLC"})
                        tpf = file_name.replace("_llc.fits", "_lpd-targ.fits.gz")
                        rows.append({"obsID": f"{name}-{k}", "productFilename": tpf, "dataURI": self.uri(tpf),
                                     "description": "Target Pixel Long Cadence", "size": 10,
                                     "productSubGroupDescription": "LPD-TARG"})
            return Reply(body=_answer(rows))
        return Reply(body=_answer([], status="ERROR", msg=f"unknown service {query['service']}"))

    def download(self, request) -> Reply:
        body = self.by_uri.get(request.query["uri"][0])
        return Reply(body=body) if body is not None else Reply(404, b"not found")


@pytest.fixture
def kepler_bodies(tmp_path):
    q5 = write_kepler_lc(tmp_path / Q5, season=5).read_bytes()
    q6 = write_kepler_lc(tmp_path / Q6, season=6, first_cadence=21000, t0=539.5, n=300, seed=1).read_bytes()
    return q5, q6


@pytest.fixture
def world(fake_archive, kepler_bodies):
    q5, q6 = kepler_bodies
    neighbour = f"kplr{KIC + 1:09d}"
    return Mast(fake_archive, "Kepler", {
        f"kplr{KIC:09d}": (RA, DEC, [(Q5, q5, "Lightcurve Long Cadence (CLC) - Q5"),
                                    (Q6, q6, "Lightcurve Long Cadence (CLC) - Q6")]),
        neighbour: (RA, DEC + 3 / 3600, [(f"{neighbour}-2010174085026_llc.fits", b"x" * 2880, "- Q5")])})


def _client(archive, tmp_path, cls=VirtualKepler, sleeps=None, **params):
    params = {"base_url": archive.url, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.01, **params}
    parameters = (KeplerParameters if cls is VirtualKepler else K2Parameters)(**params)
    return cls(parameters, cache=RawCache(tmp_path / "cache"),
               sleep=(sleeps.append if sleeps is not None else lambda s: None))


def _downloads(archive):
    return [r.query["uri"][0].rsplit("/", 1)[1] for r in archive.requests if r.path == DOWNLOAD]


def _cached_files(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".json")


def test_download_end_to_end_and_reduce(fake_archive, world, tmp_path):
    client = _client(fake_archive, tmp_path)
    raw = client.download(Source("KIC 10002792", RA, DEC + 0.5 / 3600, mag=13.0))
    assert raw.num_epochs == 700 and set(raw.columns) == set(KEPLER.raw_columns)
    assert raw.meta["kepler_id"] == KIC and raw.meta["target"]["distance_arcsec"] == pytest.approx(0.5, abs=1e-6)
    assert [(e["file"], e["quarter"], e["kepler_id"]) for e in raw.meta["files"]] == [(Q5, 5, KIC), (Q6, 6, KIC)]
    assert raw.meta["files"][0]["uri"] == world.uri(Q5) and raw.meta["files"][0]["lightcurve"]["BJDREFI"] == 2454833
    assert sorted(raw.images) == ["aperture_q05", "aperture_q06"]
    assert json.loads(json.dumps(raw.meta, allow_nan=False)) == raw.meta
    assert [q["service"] for q in world.services] == ["Mast.Caom.Filtered.Position", "Mast.Caom.Products"]
    search = world.services[0]["params"]
    assert {f["paramName"]: f["values"] for f in search["filters"]} == {
        "obs_collection": ["Kepler"], "dataproduct_type": ["cube", "timeseries"]}
    assert float(search["position"].split(",")[2]) == pytest.approx(4.0 / 3600)
    assert world.services[1]["params"]["obsid"] == f"kplr{KIC:09d}-0,kplr{KIC:09d}-1"  # not the neighbour's
    assert _downloads(fake_archive) == [Q5, Q6]  # no target pixel file, nothing of the neighbour
    assert _cached_files(tmp_path) == [Q5, Q6]
    lcs = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.season, lc.time_scale, lc.num_epochs) for lc in lcs] == [
        ("Kepler", 5, "tdb", 400), ("Kepler", 6, "tdb", 300)]

    again = client.download(Source("KIC 10002792", RA, DEC, mag=13.0))
    assert len(_downloads(fake_archive)) == 2  # the files came from the cache
    np.testing.assert_array_equal(again.columns["pdcsap_flux"], raw.columns["pdcsap_flux"])


def test_k2_download_end_to_end(fake_archive, tmp_path):
    body = write_kepler_lc(tmp_path / C4, kepler_id=EPIC, mission="K2", season=4, ra=K2_RA, dec=K2_DEC).read_bytes()
    world = Mast(fake_archive, "K2", {f"ktwo{EPIC:09d}": (K2_RA, K2_DEC, [(C4, body, "Lightcurve Long Cadence "
                                                                                     "(KLC) - C4")])})
    client = _client(fake_archive, tmp_path, VirtualK2)
    raw = client.download(Source("EPIC 211117077", K2_RA, K2_DEC))
    assert raw.meta["epic_id"] == EPIC and raw.num_epochs == 400 and list(raw.images) == ["aperture_c04"]
    filters = {f["paramName"]: f["values"] for f in world.services[0]["params"]["filters"]}
    assert filters["obs_collection"] == ["K2"]
    (lc,) = client.reduce(raw, ReductionParameters())
    assert (lc.survey, lc.filter, lc.season, lc.time_scale) == ("k2", "Kepler", 4, "tdb")
    assert _client(fake_archive, tmp_path, VirtualK2, campaigns=[5]).download(
        Source("EPIC 211117077", K2_RA, K2_DEC)).num_epochs == 0  # campaign 4 is not what was asked for


def test_quarters_narrow_the_files(fake_archive, world, tmp_path):
    raw = _client(fake_archive, tmp_path, quarters=[6]).download(Source("star", RA, DEC))
    assert [e["quarter"] for e in raw.meta["files"]] == [6] and _downloads(fake_archive) == [Q6]
    assert _client(fake_archive, tmp_path, cadences=["short"]).download(Source("star", RA, DEC)).num_epochs == 0


def test_no_target_near_gives_an_empty_answer(fake_archive, world, tmp_path):
    client = _client(fake_archive, tmp_path)
    raw = client.download(Source("nothing", 200.0, 10.0))
    assert raw.num_epochs == 0 and set(raw.columns) == set(KEPLER.raw_columns) and raw.meta["kepler_id"] is None
    assert [q["service"] for q in world.services] == ["Mast.Caom.Filtered.Position"]
    assert client.reduce(raw, ReductionParameters()) == []


def test_a_truncated_file_is_a_one_line_error_naming_it_and_leaves_nothing(fake_archive, world, kepler_bodies,
                                                                          tmp_path):
    q5, _ = kepler_bodies
    fake_archive.route(DOWNLOAD, lambda request: Reply(body=q5, truncate=len(q5) // 2))
    with pytest.raises(TransientSurveyError) as failure:
        _client(fake_archive, tmp_path).download(Source("KIC 10002792", RA, DEC))
    message = str(failure.value)
    assert "\n" not in message and Q5 in message and "cut short" in message and "gave up after 3" in message
    assert message.startswith(f"mast: KIC 10002792: {Q5}: ")
    assert len(_downloads(fake_archive)) == 3  # 1 + 2 retries
    assert _cached_files(tmp_path) == [] and not list((tmp_path / "cache").rglob("*.part"))


def test_an_http_error_on_a_file_is_a_one_line_error_naming_it(fake_archive, world, tmp_path):
    fake_archive.route(DOWNLOAD, lambda request: Reply(404, b"<html>no such file</html>"))
    with pytest.raises(SurveyError) as failure:
        _client(fake_archive, tmp_path).download(Source("KIC 10002792", RA, DEC))
    assert not isinstance(failure.value, TransientSurveyError)  # a 404 is not worth asking again
    message = str(failure.value)
    assert "\n" not in message and message.startswith(f"mast: KIC 10002792: {Q5}: ") and "404" in message
    assert _cached_files(tmp_path) == []


def test_a_corrupt_file_is_refused_and_a_good_one_after_it_is_kept(fake_archive, world, kepler_bodies, tmp_path):
    q5, _ = kepler_bodies
    corrupt = bytearray(q5)
    corrupt[2880 * 4 + 100] ^= 0x40
    fake_archive.queue(DOWNLOAD, Reply(body=bytes(corrupt)))  # once, then the archive's real answer
    sleeps = []
    raw = _client(fake_archive, tmp_path, sleeps=sleeps).download(Source("star", RA, DEC))
    assert raw.num_epochs == 700 and len(sleeps) == 1
    assert _downloads(fake_archive) == [Q5, Q5, Q6]


def test_a_file_of_another_target_is_refused(fake_archive, tmp_path):
    body = write_kepler_lc(tmp_path / Q5, kepler_id=KIC + 5).read_bytes()
    Mast(fake_archive, "Kepler", {f"kplr{KIC:09d}": (RA, DEC, [(Q5, body, "- Q5")])})
    with pytest.raises(SurveyError, match=f"{Q5}: .*file is of KIC 10002797, not KIC 10002792"):
        _client(fake_archive, tmp_path).download(Source("star", RA, DEC))
    assert _cached_files(tmp_path) == []


def test_offline_mode_uses_only_the_cache(fake_archive, world, tmp_path):
    online = _client(fake_archive, tmp_path).download(Source("star", RA, DEC))
    asked = len(fake_archive.requests)
    offline = _client(fake_archive, tmp_path, offline=True).download(Source("star", RA, DEC))
    assert len(fake_archive.requests) == asked and offline.meta == online.meta
    for name, column in online.columns.items():
        np.testing.assert_array_equal(offline.columns[name], column)
    for path in (tmp_path / "cache").rglob(Q6):
        os.remove(path)
    with pytest.raises(OfflineError, match="not available offline"):
        _client(fake_archive, tmp_path, offline=True).download(Source("star", RA, DEC))
    with pytest.raises(OfflineError, match="not in the cache"):
        _client(fake_archive, tmp_path, offline=True).download(Source("elsewhere", 10.0, 10.0))
    assert len(fake_archive.requests) == asked
