"""ZtfCutoutClient against a local archive playing IRSA IBE: metadata search, cutouts, their failures and resume."""

from __future__ import annotations

import math

import pytest
from astropy.io import fits
from astropy.nddata import NoOverlapError
from astropy.wcs import WCS

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.adapters.surveys.pixels.ztf_ibe import ZtfExposure, science_image_path
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.source import Source
from tests.http_server import Reply, Request
from tests.pixel_files import ZTF_PIXEL_DEG, ibe_table, ztf_cutout_bytes, ztf_image

SEARCH = "/ibe/search/ztf/products/sci"
RA, DEC = 128.41389, 55.59812  # SN 2018hmx, the real ZTF lightcurve of ../shared/data
SHAPE = (201, 241)  # odd: the image centre (row 100, column 120) is a pixel centre
COS_DEC = math.cos(math.radians(DEC))
# Three exposures of field 784, ccd 10, quadrant 4 (the real lightcurve's), a day and a month apart.
ROWS = [dict(field=784, ccdid=10, qid=4, filtercode="zr", obsjd=2458422.9700, filefracday=20181031470000),
        dict(field=784, ccdid=10, qid=4, filtercode="zg", obsjd=2458423.9800, filefracday=20181101480000),
        dict(field=784, ccdid=10, qid=4, filtercode="zr", obsjd=2458452.0100, filefracday=20181130510000)]


class Irsa:
    """IBE's metadata search and cutout service over synthetic images, one per exposure row.

    Each image is centred ``offset_deg`` east of the source, so a source near an image edge gets a
    clipped cutout and one beyond it a 400, as IRSA answers.
    """

    def __init__(self, archive, rows, *, centre=(RA, DEC), size_arcsec_seen=None):
        self.rows = rows
        self.searches = []
        self.images = {}
        star = [(RA, DEC, 800.0)]
        for row in rows:
            exposure = ZtfExposure(row["field"], row["ccdid"], row["qid"], row["filtercode"], row["obsjd"],
                                   str(row["filefracday"]))
            path = "/" + science_image_path(exposure)
            self.images[path] = ztf_image(*centre, shape=SHAPE, stars=star)
            archive.route(path, self.cutout)
        archive.route(SEARCH, self.search)

    def search(self, request) -> Reply:
        self.searches.append(request.query)
        rows = self.rows
        where = request.query.get("WHERE", [""])[0]
        if where:  # "(obsjd BETWEEN a AND b) OR ...", as the client writes it
            spans = [tuple(float(v) for v in part.strip("() ").replace("obsjd BETWEEN", "").split(" AND "))
                     for part in where.split(" OR ")]
            rows = [r for r in rows if any(a <= r["obsjd"] <= b for a, b in spans)]
        return Reply(body=ibe_table(rows), headers={"Content-Type": "text/plain"})

    def cutout(self, request) -> Reply:
        assert request.query["gzip"] == ["false"]
        ra, dec = (float(v) for v in request.query["center"][0].split(","))
        size = float(request.query["size"][0].removesuffix("arcsec"))
        try:
            body = ztf_cutout_bytes(self.images[request.path], ra, dec, size)
        except NoOverlapError:
            return Reply(400, b"Bad Request: cutout does not intersect the image")
        return Reply(body=body, headers={"Content-Type": "image/fits"})


def _client(archive, tmp_path, **params):
    params = {"base_url": archive.url, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.0, **params}
    return ZtfCutoutClient(ZtfCutoutParameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)


def _cutout_requests(archive):
    return [r for r in archive.requests if r.path.startswith("/ibe/data/")]


def _stored(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*.fits"))


def test_every_exposure_is_cut_around_the_source_and_stored_once(fake_archive, tmp_path):
    irsa = Irsa(fake_archive, ROWS)
    client = _client(fake_archive, tmp_path)
    cutouts = client.download(Source("SN 2018hmx", RA, DEC))
    assert [c.obsjd for c in cutouts] == [r["obsjd"] for r in ROWS] and cutouts.off_image == []
    assert irsa.searches == [{"POS": [f"{RA:.7f},{DEC:.7f}"]}]
    first = cutouts[0]
    assert (first.survey, first.target, first.kind, first.season) == ("ztf", "SN 2018hmx", "ztf_cutout", None)
    # 30 arcsec of 1.01-arcsec pixels: round(29.7) = 30 pixels a side, not the 200 x 240 image.
    assert first.shape == (30, 30) and first.meta["clipped"] is False
    assert (first.meta["filtercode"], first.meta["field"], first.meta["ccdid"], first.meta["qid"]) == ("zr", 784, 10, 4)
    assert first.meta["url"].endswith("/2018/1031/470000/ztf_20181031470000_000784_zr_c10_o_q4_sciimg.fits")
    for request in _cutout_requests(fake_archive):
        assert request.query == {"center": [f"{RA:.7f},{DEC:.7f}"], "size": ["30arcsec"], "gzip": ["false"]}
    # The source is where the stored WCS says: the star's peak pixel is its world_to_pixel position.
    with fits.open(first.path) as hdul:
        data, wcs = hdul[0].data, WCS(hdul[0].header)
    x, y = wcs.world_to_pixel_values(RA, DEC)
    peak = divmod(int(data.argmax()), data.shape[1])
    assert peak == (round(float(y)), round(float(x)))

    again = _client(fake_archive, tmp_path).download(Source("SN 2018hmx", RA, DEC))
    assert [c.path for c in again] == [c.path for c in cutouts]
    assert len(_cutout_requests(fake_archive)) == 3  # the resumed download asked the metadata only


def test_only_exposures_near_the_given_times_are_cut(fake_archive, tmp_path):
    irsa = Irsa(fake_archive, ROWS)
    peak_mjd = 2458423.5 - 2400000.5  # between the first two exposures, a month before the third
    cutouts = _client(fake_archive, tmp_path, window_days=1.0).download(Source("s", RA, DEC), near_mjd=[peak_mjd])
    assert [c.obsjd for c in cutouts] == [2458422.97, 2458423.98]
    assert irsa.searches[0]["WHERE"] == ["(obsjd BETWEEN 2458422.500000 AND 2458424.500000)"]
    assert len(_cutout_requests(fake_archive)) == 2
    assert _client(fake_archive, tmp_path, filters=["zg"]).download(Source("s", RA, DEC), near_mjd=[peak_mjd])[0].meta[
        "filtercode"] == "zg"


def test_a_cutout_at_the_image_edge_is_kept_clipped_with_its_real_wcs(fake_archive, tmp_path):
    # The images are centred 110 pixels west of the source (RA grows to lower columns): the source is at
    # column 120 - 110 = 10, 10 pixels from the image's first column.
    centre_ra = RA - 110 * ZTF_PIXEL_DEG / COS_DEC
    Irsa(fake_archive, ROWS[:1], centre=(centre_ra, DEC))
    # 31 pixels of 1.01 arcsec, an odd size: the box is centred on the source's pixel without a rounding choice.
    (cut,) = _client(fake_archive, tmp_path, size_arcsec=31.31).download(Source("edge", RA, DEC))
    with fits.open(cut.path) as hdul:
        data, wcs = hdul[0].data, WCS(hdul[0].header)
    # A 31-pixel box around column 10 spans columns -5..25: the image keeps 0..25, 26 of 31 columns,
    # and all 31 rows (85..115 around row 100), the source at row 15.
    assert cut.shape == data.shape == (31, 26) and cut.meta["clipped"] is True
    x, y = wcs.world_to_pixel_values(RA, DEC)
    # Not the middle (12.5) of the clipped cutout. The parallel of the source curves away from the tangent
    # plane's row: (111 arcsec)^2 tan(dec) / 2 = 0.044 arcsec, 0.043 pixel north.
    assert float(x) == pytest.approx(10.0, abs=0.01) and float(y) == pytest.approx(15.043, abs=0.005)
    peak = divmod(int(data.argmax()), data.shape[1])
    assert peak == (round(float(y)), round(float(x)))


def test_a_cutout_off_the_image_is_skipped_and_not_asked_again(fake_archive, tmp_path):
    far_ra = RA - 300 * ZTF_PIXEL_DEG / COS_DEC  # the source 300 pixels east of the centre: off the image
    Irsa(fake_archive, ROWS[:2], centre=(far_ra, DEC))
    cutouts = _client(fake_archive, tmp_path).download(Source("off", RA, DEC))
    assert list(cutouts) == [] and [e.obsjd for e in cutouts.off_image] == [2458422.97, 2458423.98]
    assert len(_cutout_requests(fake_archive)) == 2  # a 400 is not retried
    assert _stored(tmp_path) == []
    again = _client(fake_archive, tmp_path).download(Source("off", RA, DEC))
    assert len(again.off_image) == 2 and len(_cutout_requests(fake_archive)) == 2


def test_server_errors_are_retried_and_a_cut_cutout_is_never_stored(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS[:1])
    path = "/" + science_image_path(ZtfExposure(784, 10, 4, "zr", 0.0, "20181031470000"))
    fake_archive.queue(SEARCH, Reply(503, b"busy"))
    fake_archive.queue(path, Reply(502, b"bad gateway"), Reply(body=b"SIMPLE  =" + b" " * 6000, truncate=2880))
    (cut,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert cut.shape == (30, 30)
    assert len(_cutout_requests(fake_archive)) == 3 and len([r for r in fake_archive.requests if r.path == SEARCH]) == 2


def test_a_cutout_that_keeps_arriving_cut_fails_transiently_and_leaves_nothing(fake_archive, tmp_path):
    irsa = Irsa(fake_archive, ROWS[:1])
    path = "/" + science_image_path(ZtfExposure(784, 10, 4, "zr", 0.0, "20181031470000"))
    query = {"gzip": ["false"], "center": [f"{RA},{DEC}"], "size": ["30arcsec"]}
    whole = irsa.cutout(Request("GET", path, query, {}, b"", {})).body
    fake_archive.route(path, lambda request: Reply(body=whole, truncate=len(whole) // 2))
    with pytest.raises(TransientSurveyError, match="cut short"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert len(_cutout_requests(fake_archive)) == 3  # 1 + 2 retries
    assert _stored(tmp_path) == [] and not list((tmp_path / "cache").rglob("*.part"))


def test_a_cutout_that_is_not_an_image_is_refused(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS[:1])
    path = "/" + science_image_path(ZtfExposure(784, 10, 4, "zr", 0.0, "20181031470000"))
    fake_archive.route(path, lambda request: Reply(body=b"not a FITS file at all"))
    with pytest.raises(TransientSurveyError, match="unreadable image"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert _stored(tmp_path) == []


def test_an_empty_metadata_table_means_no_cutout(fake_archive, tmp_path):
    Irsa(fake_archive, [])
    assert _client(fake_archive, tmp_path).download(Source("nowhere", RA, DEC)) == []
    assert _cutout_requests(fake_archive) == []


def test_a_metadata_answer_that_is_not_a_table_is_retried_then_fails(fake_archive, tmp_path):
    fake_archive.route(SEARCH, lambda request: Reply(body=b"ERROR: service unavailable"))
    with pytest.raises(TransientSurveyError, match="not an IPAC table"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert len(fake_archive.requests) == 3


def test_offline_mode_reads_the_stored_cutouts_and_asks_nothing(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS)
    online = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    asked = len(fake_archive.requests)
    offline = _client(fake_archive, tmp_path, offline=True).download(Source("s", RA, DEC))
    assert [c.path for c in offline] == [c.path for c in online] and len(fake_archive.requests) == asked
    with pytest.raises(OfflineError):
        _client(fake_archive, tmp_path, offline=True).download(Source("elsewhere", 10.0, 10.0))
    assert len(fake_archive.requests) == asked


def test_a_permanent_refusal_other_than_off_image_is_an_error(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS[:1])
    path = "/" + science_image_path(ZtfExposure(784, 10, 4, "zr", 0.0, "20181031470000"))
    fake_archive.route(path, lambda request: Reply(403, b"Forbidden: proprietary data"))
    with pytest.raises(SurveyError, match="HTTP 403"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))


def test_cutouts_of_one_source_are_asked_together_within_the_concurrency_limit(fake_archive, tmp_path):
    irsa = Irsa(fake_archive, ROWS)
    for path in irsa.images:
        fake_archive.route(path, lambda request, cut=irsa.cutout: _slow(cut(request)))
    client = _client(fake_archive, tmp_path, cutout_threads=4, max_concurrency=2)
    cutouts = client.download(Source("s", RA, DEC))
    assert [c.obsjd for c in cutouts] == [r["obsjd"] for r in ROWS]  # in time order whatever finished first
    assert fake_archive.max_in_flight == 2


def _slow(reply: Reply) -> Reply:
    reply.delay = 0.3
    return reply


def test_a_damaged_stored_cutout_is_fetched_again(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS[:1])
    (cut,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    good = cut.path.read_bytes()
    cut.path.write_bytes(good[:2880])  # the data lost (a disk error, a foreign write)
    (again,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert again.path == cut.path and again.path.read_bytes() == good and len(_cutout_requests(fake_archive)) == 2


def test_a_whole_image_sent_instead_of_a_cutout_is_refused(fake_archive, tmp_path):
    # A ZTF science image is 37 MB; the cutout client accepts 20 MB at most (max_answer_mb).
    Irsa(fake_archive, ROWS[:1])
    path = "/" + science_image_path(ZtfExposure(784, 10, 4, "zr", 0.0, "20181031470000"))
    fake_archive.route(path, lambda request: Reply(body=bytes(1_000_000), repeat=37))
    with pytest.raises(SurveyError, match="larger than max_answer_mb = 20 MB"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert len(_cutout_requests(fake_archive)) == 1 and _stored(tmp_path) == []
