"""Target pixel file downloads (K2, TESS) against a local archive playing MAST, with the real K2 file when present."""

from __future__ import annotations

import gzip
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from astropy.io import fits

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.kepler import K2Parameters, KeplerParameters
from virtualobserver.adapters.surveys.pixels.mast_pixels import K2TargetPixels, KeplerTargetPixels, TessTargetPixels
from virtualobserver.adapters.surveys.tess import TessParameters
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.source import Source
from tests.http_server import Reply
from tests.pixel_files import pixel_cube_bytes

INVOKE = "/api/v0/invoke"
DOWNLOAD = "/api/v0.1/Download/file"
REAL_K2 = "ktwo211983544-c18_lpd-targ.fits"
EPIC, K2_RA, K2_DEC = 211983544, 130.656765, 19.988607
TIC, TESS_RA, TESS_DEC = 358108509, 51.1119, -77.4515


def _answer(rows, status="COMPLETE"):
    return json.dumps({"status": status, "msg": "", "data": rows, "fields": [],
                       "paging": {"page": 1, "pagesFiltered": 1, "rows": len(rows)}}).encode()


class Mast:
    """MAST's position, TIC and observation searches, product lists and downloads for one target.

    ``products`` are ``(file name, body, productSubGroupDescription, description)``, all of one observation.
    """

    def __init__(self, archive, *, collection, target_name, ra, dec, products):
        self.collection, self.target_name, self.ra, self.dec = collection, target_name, ra, dec
        self.products = products
        self.by_uri = {self.uri(name): body for name, body, _, _ in products}
        self.services = []
        archive.route(INVOKE, self.invoke)
        archive.route(DOWNLOAD, self.download)

    def uri(self, name):
        return f"mast:{self.collection}/url/missions/{self.collection.lower()}/{name}"

    def invoke(self, request) -> Reply:
        query = json.loads(request.form["request"][0])
        service = query["service"]
        self.services.append(service)
        obs = {"obsid": "900", "target_name": self.target_name, "s_ra": self.ra, "s_dec": self.dec,
               "obs_collection": self.collection, "dataproduct_type": "timeseries"}
        if service == "Mast.Caom.Filtered.Position":
            return Reply(body=_answer([obs]))
        if service == "Mast.Catalogs.Tic.Cone":
            return Reply(body=_answer([{"ID": TIC, "ra": self.ra, "dec": self.dec, "Tmag": 14.3}]))
        if service == "Mast.Caom.Filtered":
            return Reply(body=_answer([obs]))
        if service == "Mast.Caom.Products":
            return Reply(body=_answer([{"obsID": "900", "productFilename": name, "dataURI": self.uri(name),
                                        "size": len(body), "productSubGroupDescription": group,
                                        "description": description}
                                       for name, body, group, description in self.products]))
        return Reply(body=_answer([], status="ERROR"))

    def download(self, request) -> Reply:
        body = self.by_uri.get(request.query["uri"][0])
        return Reply(body=body) if body is not None else Reply(404, b"not found")


def _k2(archive, tmp_path, **params):
    params = {"base_url": archive.url, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.0, **params}
    return K2TargetPixels(K2Parameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)


def _tess(archive, tmp_path, **params):
    params = {"base_url": archive.url, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.0, **params}
    return TessTargetPixels(TessParameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)


def _downloads(archive):
    return [r.query["uri"][0].rsplit("/", 1)[1] for r in archive.requests if r.path == DOWNLOAD]


def _stored(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".json")


def _k2_world(archive, tpf_bytes):
    # As MAST serves K2: the lightcurve and the gzipped target pixel file in one observation.
    return Mast(archive, collection="K2", target_name=f"ktwo{EPIC}", ra=K2_RA, dec=K2_DEC, products=[
        (f"ktwo{EPIC}-c18_llc.fits", b"x" * 2880, "LLC", "Lightcurve Long Cadence (KLC) - C18"),
        (f"{REAL_K2}.gz", gzip.compress(tpf_bytes), "LPD-TARG", "Target Pixel Long Cadence (KTL) - C18")])


@pytest.fixture(params=["real", "synthetic"])
def k2_tpf(request, shared_data_or_none):
    """The K2 target pixel file served: the real one (skipped without ../shared/data) or a synthetic one."""
    if request.param == "real":
        if shared_data_or_none is None:
            pytest.skip("../shared/data is not here")
        return (shared_data_or_none / REAL_K2).read_bytes()
    return pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18)


@pytest.fixture
def shared_data_or_none(request):
    try:
        return request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        return None


def test_the_k2_target_pixel_file_is_found_unpacked_and_stored_once(fake_archive, tmp_path, k2_tpf):
    world = _k2_world(fake_archive, k2_tpf)
    (tpf,) = _k2(fake_archive, tmp_path).download_pixels(Source("EPIC 211983544", K2_RA, K2_DEC))
    with fits.open(io.BytesIO(k2_tpf)) as sent:
        n, rows, cols = sent["TARGETTABLES"].data["FLUX"].shape
    assert (tpf.survey, tpf.target, tpf.kind, tpf.season, tpf.shape) == ("k2", "EPIC 211983544", "tpf", 18,
                                                                         (n, rows, cols))
    assert tpf.meta["target_id"] == EPIC and tpf.meta["uri"] == world.uri(f"{REAL_K2}.gz")
    assert tpf.path.name == REAL_K2 and tpf.path.read_bytes() == k2_tpf  # unpacked byte for byte
    assert _downloads(fake_archive) == [f"{REAL_K2}.gz"]  # the lightcurve is not fetched
    assert _stored(tmp_path) == [REAL_K2]  # the .gz answer is not kept beside it
    assert world.services == ["Mast.Caom.Filtered.Position", "Mast.Caom.Products"]

    again = _k2(fake_archive, tmp_path).download_pixels(Source("EPIC 211983544", K2_RA, K2_DEC))
    assert [f.path for f in again] == [tpf.path] and len(_downloads(fake_archive)) == 1


def test_the_real_k2_shape_is_the_documented_one(fake_archive, tmp_path, shared_data):
    _k2_world(fake_archive, (shared_data / REAL_K2).read_bytes())
    (tpf,) = _k2(fake_archive, tmp_path).download_pixels(Source("EPIC 211983544", K2_RA, K2_DEC))
    assert tpf.shape == (2490, 5, 7)  # ../shared/data/README.md: 2490 cadences of 5 x 7 pixels


def test_a_tess_target_pixel_file_of_the_configured_cadence(fake_archive, tmp_path):
    tp = pixel_cube_bytes(mission="tess", n=60, rows=11, cols=11, target_id=TIC, season=1, ra=TESS_RA, dec=TESS_DEC)
    stem = f"tess2018206045859-s0001-{TIC:016d}-0120-s"
    Mast(fake_archive, collection="TESS", target_name=str(TIC), ra=TESS_RA, dec=TESS_DEC, products=[
        (f"{stem}_lc.fits", b"x" * 2880, "LC", "Light curves"), (f"{stem}_tp.fits", tp, "TP", "Target pixel files"),
        (f"{stem}_fast-tp.fits", b"y" * 2880, "FAST-TP", "Fast target pixel files")])
    (tpf,) = _tess(fake_archive, tmp_path).download_pixels(Source("M dwarf", TESS_RA, TESS_DEC))
    assert (tpf.survey, tpf.kind, tpf.season, tpf.shape, tpf.meta["target_id"]) == ("tess", "tpf", 1, (60, 11, 11), TIC)
    assert _downloads(fake_archive) == [f"{stem}_tp.fits"] and tpf.path.read_bytes() == tp


def test_a_cut_file_is_retried_and_a_server_error_survived(fake_archive, tmp_path):
    body = pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18)
    _k2_world(fake_archive, body)
    packed = gzip.compress(body)
    fake_archive.queue(INVOKE, Reply(502, b"bad gateway"))
    fake_archive.queue(DOWNLOAD, Reply(503, b"busy"), Reply(body=packed, truncate=len(packed) // 3))
    (tpf,) = _k2(fake_archive, tmp_path).download_pixels(Source("s", K2_RA, K2_DEC))
    assert tpf.path.read_bytes() == body and len(_downloads(fake_archive)) == 3


def test_a_file_that_keeps_arriving_cut_fails_transiently_and_leaves_nothing(fake_archive, tmp_path):
    body = gzip.compress(pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18))
    world = _k2_world(fake_archive, b"")
    fake_archive.route(DOWNLOAD, lambda request: Reply(body=body, truncate=len(body) - 10))
    with pytest.raises(TransientSurveyError, match="cut short"):
        _k2(fake_archive, tmp_path).download_pixels(Source("s", K2_RA, K2_DEC))
    assert len(_downloads(fake_archive)) == 3 and world.services
    assert _stored(tmp_path) == [] and not [p for p in (tmp_path / "cache").rglob(".*")]


def test_a_gzip_whose_content_is_garbled_is_retried_then_fails(fake_archive, tmp_path):
    good = pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18)
    garbled = bytearray(good)
    garbled[2880 * 3 + 100] ^= 0x10  # same size, the table's CHECKSUM fails
    _k2_world(fake_archive, bytes(garbled))
    with pytest.raises(TransientSurveyError, match="checksum of HDU 1"):
        _k2(fake_archive, tmp_path).download_pixels(Source("s", K2_RA, K2_DEC))
    assert _stored(tmp_path) == []


def test_a_file_of_another_target_is_refused_without_retry(fake_archive, tmp_path):
    _k2_world(fake_archive, pixel_cube_bytes(mission="k2", n=50, target_id=EPIC + 1, season=18))
    with pytest.raises(SurveyError, match=f"file is of EPIC {EPIC + 1}, not EPIC {EPIC}") as raised:
        _k2(fake_archive, tmp_path).download_pixels(Source("s", K2_RA, K2_DEC))
    assert not isinstance(raised.value, TransientSurveyError)
    assert len(_downloads(fake_archive)) == 1 and _stored(tmp_path) == []


def test_an_answer_left_packed_by_a_killed_run_is_fetched_and_unpacked_again(fake_archive, tmp_path):
    body = pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18)
    _k2_world(fake_archive, body)
    client = _k2(fake_archive, tmp_path)
    stale = client.cache.path("k2", f"EPIC{EPIC}", f"{REAL_K2}.gz")
    stale.write_bytes(b"what a run killed between download and unpacking left")
    (tpf,) = client.download_pixels(Source("s", K2_RA, K2_DEC))
    assert tpf.path.read_bytes() == body and not stale.exists()


def test_campaigns_not_asked_for_are_not_fetched(fake_archive, tmp_path):
    _k2_world(fake_archive, pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18))
    assert _k2(fake_archive, tmp_path, campaigns=[5]).download_pixels(Source("s", K2_RA, K2_DEC)) == []
    assert _downloads(fake_archive) == []


def test_no_target_near_the_source_means_no_file(fake_archive, tmp_path):
    _k2_world(fake_archive, b"")
    assert _k2(fake_archive, tmp_path).download_pixels(Source("far", 10.0, 10.0)) == []
    assert _downloads(fake_archive) == []


def test_threads_asking_for_one_target_fetch_its_file_once(fake_archive, tmp_path):
    body = pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18)
    _k2_world(fake_archive, body)
    client = _k2(fake_archive, tmp_path, max_concurrency=4)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(client.download_pixels, [Source(f"alias {k}", K2_RA, K2_DEC) for k in range(6)]))
    assert {f[0].path for f in found} == {found[0][0].path} and found[0][0].path.read_bytes() == body
    assert len(_downloads(fake_archive)) == 1
    assert _stored(tmp_path) == [REAL_K2] and not [p for p in (tmp_path / "cache").rglob(".*")]


def test_kepler_target_pixel_files_of_the_configured_quarters(fake_archive, tmp_path):
    kic = 10002792
    q5 = pixel_cube_bytes(mission="kepler", n=30, target_id=kic, season=5)
    q6 = pixel_cube_bytes(mission="kepler", n=40, target_id=kic, season=6)
    Mast(fake_archive, collection="Kepler", target_name=f"kplr{kic:09d}", ra=287.86721, dec=46.98308, products=[
        (f"kplr{kic:09d}-2010174085026_lpd-targ.fits.gz", gzip.compress(q5), "LPD-TARG", "Target Pixel Long - Q5"),
        (f"kplr{kic:09d}-2010265121752_lpd-targ.fits.gz", gzip.compress(q6), "LPD-TARG", "Target Pixel Long - Q6"),
        (f"kplr{kic:09d}-2010174085026_llc.fits", b"x" * 2880, "LLC", "Lightcurve Long Cadence (CLC) - Q5")])
    client = KeplerTargetPixels(KeplerParameters(base_url=fake_archive.url, rate_limit_per_s=0.0, quarters=[6]),
                                cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)
    (tpf,) = client.download_pixels(Source("KIC 10002792", 287.86721, 46.98308))
    assert (tpf.survey, tpf.season, tpf.shape, tpf.meta["target_id"]) == ("kepler", 6, (40, 5, 7), kic)
    assert _downloads(fake_archive) == [f"kplr{kic:09d}-2010265121752_lpd-targ.fits.gz"]


def test_a_whole_image_instead_of_a_pixel_file_is_refused_at_the_size_limit(fake_archive, tmp_path):
    _k2_world(fake_archive, b"")
    fake_archive.route(DOWNLOAD, lambda request: Reply(body=bytes(1_000_000), repeat=30))  # 30 MB announced
    with pytest.raises(SurveyError, match="larger than max_answer_mb = 20 MB") as raised:
        _k2(fake_archive, tmp_path, max_answer_mb=20.0).download_pixels(Source("s", K2_RA, K2_DEC))
    assert not isinstance(raised.value, TransientSurveyError) and len(_downloads(fake_archive)) == 1
    assert fake_archive.sent < 30_000_000 and _stored(tmp_path) == []


def test_offline_mode_reads_the_stored_file_and_asks_nothing(fake_archive, tmp_path):
    _k2_world(fake_archive, pixel_cube_bytes(mission="k2", n=50, target_id=EPIC, season=18))
    (online,) = _k2(fake_archive, tmp_path).download_pixels(Source("s", K2_RA, K2_DEC))
    asked = len(fake_archive.requests)
    (offline,) = _k2(fake_archive, tmp_path, offline=True).download_pixels(Source("s", K2_RA, K2_DEC))
    assert offline == online and len(fake_archive.requests) == asked
    online.path.unlink()
    with pytest.raises(OfflineError):
        _k2(fake_archive, tmp_path, offline=True).download_pixels(Source("s", K2_RA, K2_DEC))
    assert len(fake_archive.requests) == asked
