"""TesscutClient against a local archive playing TESScut: sector list, zips of cutouts, their failures and resume."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.pixels.tesscut import TesscutClient, TesscutParameters
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.source import Source
from tests.http_server import Reply
from tests.pixel_files import pixel_cube_bytes, tesscut_name, zip_bytes

BASE = "/tesscut/api/v0.1"
SECTOR, ASTROCUT = f"{BASE}/sector", f"{BASE}/astrocut"
RA, DEC = 51.1119, -77.4515  # the TESS M dwarf of ../shared/data, observed in sector 1
N = 30


class Tesscut:
    """TESScut's sector list and cutout service: each cutout a synthetic cube of the size asked."""

    def __init__(self, archive, sectors: dict[int, list[tuple[int, int]]]):
        self.sectors = sectors  # sector -> [(camera, ccd), ...] covering the position
        archive.route(SECTOR, self.sector_list)
        archive.route(ASTROCUT, self.cutout)

    def sector_list(self, request) -> Reply:
        results = [{"sectorName": f"tess-s{s:04d}-{cam}-{ccd}", "sector": f"{s:04d}", "camera": str(cam),
                    "ccd": str(ccd)} for s, where in self.sectors.items() for cam, ccd in where]
        return Reply(body=json.dumps({"results": results}).encode(), headers={"Content-Type": "application/json"})

    def members(self, query) -> dict[str, bytes]:
        sector, rows, cols = int(query["sector"][0]), int(query["y"][0]), int(query["x"][0])
        ra, dec = float(query["ra"][0]), float(query["dec"][0])
        return {tesscut_name(sector, cam, ccd, ra, dec, cols, rows):
                pixel_cube_bytes(mission="tesscut", n=N, rows=rows, cols=cols, ra=ra, dec=dec, target_id=None,
                                 season=sector, camera=cam, ccd=ccd)
                for cam, ccd in self.sectors[sector]}

    def cutout(self, request) -> Reply:
        assert request.query["units"] == ["px"]
        return Reply(body=zip_bytes(self.members(request.query)), headers={"Content-Type": "application/zip"})


def _client(archive, tmp_path, **params):
    params = {"base_url": archive.url + BASE, "rate_limit_per_s": 0.0, "retries": 2, "backoff_s": 0.0,
              "columns": 7, "rows": 5, **params}
    return TesscutClient(TesscutParameters(**params), cache=RawCache(tmp_path / "cache"), sleep=lambda s: None)


def _asked(archive, path):
    return [r for r in archive.requests if r.path == path]


def _stored(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*.fits"))


def _leftovers(tmp_path):
    return [p for p in (tmp_path / "cache").rglob("*") if ".vo-tmp-" in p.name or p.suffix in (".part", ".zip")]


def test_each_sector_is_cut_unpacked_and_stored_once(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)], 13: [(3, 2), (4, 1)]})  # sector 13: the position on two CCDs
    cutouts = _client(fake_archive, tmp_path).download(Source("M dwarf", RA, DEC))
    assert [(c.season, c.meta["camera"], c.meta["ccd"]) for c in cutouts] == [(1, 3, 3), (13, 3, 2), (13, 4, 1)]
    first = cutouts[0]
    assert (first.survey, first.target, first.kind, first.shape) == ("tess", "M dwarf", "tesscut", (N, 5, 7))
    assert first.path.name == f"tess-s0001-3-3_{RA:f}_{DEC:f}_7x5_astrocut.fits" and first.meta["size_px"] == [7, 5]
    asked = _asked(fake_archive, ASTROCUT)
    assert [r.query for r in asked] == [{"ra": [f"{RA:.7f}"], "dec": [f"{DEC:.7f}"], "y": ["5"], "x": ["7"],
                                         "units": ["px"], "sector": [s]} for s in ("1", "13")]
    with fits.open(first.path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "PIXELS", "APERTURE"]
        wcs = WCS(hdul["APERTURE"].header)
        flux = hdul["PIXELS"].data["FLUX"]
    x, y = wcs.world_to_pixel_values(RA, DEC)
    assert (float(x), float(y)) == pytest.approx((3.0, 2.0))  # the middle pixel of 7 x 5
    assert np.unravel_index(np.argmax(flux.mean(axis=0)), flux.shape[1:]) == (2, 3)
    assert _leftovers(tmp_path) == []

    again = _client(fake_archive, tmp_path).download(Source("M dwarf", RA, DEC))
    assert [c.path for c in again] == [c.path for c in cutouts]
    assert len(_asked(fake_archive, ASTROCUT)) == 2  # the resumed run asked only the sector list
    assert len(_asked(fake_archive, SECTOR)) == 2


def test_sectors_asked_for_skip_the_sector_list(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)], 13: [(3, 2)]})
    cutouts = _client(fake_archive, tmp_path, sectors=[13]).download(Source("s", RA, DEC))
    assert [c.season for c in cutouts] == [13] and _asked(fake_archive, SECTOR) == []


def test_a_zip_with_a_corrupt_member_is_retried_and_never_stored(fake_archive, tmp_path):
    world = Tesscut(fake_archive, {1: [(3, 3)]})
    query = {"sector": ["1"], "y": ["5"], "x": ["7"], "ra": [f"{RA:.7f}"], "dec": [f"{DEC:.7f}"]}
    (name, body), = world.members(query).items()
    corrupt = bytearray(body)
    corrupt[2880 * 2 + 200] ^= 0x40  # inside the PIXELS table: its CHECKSUM fails, the zip's CRC does not
    fake_archive.queue(ASTROCUT, Reply(body=zip_bytes({name: bytes(corrupt)})))
    (cut,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert len(_asked(fake_archive, ASTROCUT)) == 2
    with fits.open(cut.path) as stored, fits.open(io.BytesIO(body)) as sent:
        np.testing.assert_array_equal(stored["PIXELS"].data["FLUX"], sent["PIXELS"].data["FLUX"])

    fake_archive.route(ASTROCUT, lambda request: Reply(body=zip_bytes({name: bytes(corrupt)})))
    with pytest.raises(TransientSurveyError, match=r"corrupt cutout in the zip: .*checksum of HDU 1 \(PIXELS\)"):
        _client(fake_archive, tmp_path / "other").download(Source("s", RA, DEC))
    assert _stored(tmp_path / "other") == [] and _leftovers(tmp_path / "other") == []


def test_a_zip_garbled_in_transit_is_retried(fake_archive, tmp_path):
    world = Tesscut(fake_archive, {1: [(3, 3)]})
    query = {"sector": ["1"], "y": ["5"], "x": ["7"], "ra": [f"{RA:.7f}"], "dec": [f"{DEC:.7f}"]}
    good = zip_bytes(world.members(query), compression=zipfile.ZIP_STORED)
    garbled = bytearray(good)
    garbled[len(good) // 2] ^= 0x01  # a member's bytes change, its CRC-32 in the zip does not
    fake_archive.route(ASTROCUT, lambda request: Reply(body=bytes(garbled)))
    with pytest.raises(TransientSurveyError, match="corrupt zip"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert len(_asked(fake_archive, ASTROCUT)) == 3 and _stored(tmp_path) == [] and _leftovers(tmp_path) == []


def test_a_cut_zip_is_retried_and_a_server_error_survived(fake_archive, tmp_path):
    world = Tesscut(fake_archive, {1: [(3, 3)]})
    query = {"sector": ["1"], "y": ["5"], "x": ["7"], "ra": [f"{RA:.7f}"], "dec": [f"{DEC:.7f}"]}
    whole = zip_bytes(world.members(query))
    fake_archive.queue(SECTOR, Reply(500, b"internal error"))
    fake_archive.queue(ASTROCUT, Reply(503, b"busy"), Reply(body=whole, truncate=len(whole) - 100))
    (cut,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert cut.shape == (N, 5, 7)
    assert len(_asked(fake_archive, ASTROCUT)) == 3 and len(_asked(fake_archive, SECTOR)) == 2


def test_a_zip_bomb_is_refused_without_retry(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)]})
    bomb = zip_bytes({"tess-s0001-3-3_bomb_astrocut.fits": bytes(30_000_000)})  # 30 MB of zeros, ~30 kB zipped
    assert len(bomb) < 100_000
    fake_archive.route(ASTROCUT, lambda request: Reply(body=bomb))
    with pytest.raises(SurveyError, match="more than 10,000,000") as raised:
        _client(fake_archive, tmp_path, max_unpacked_mb=10.0).download(Source("s", RA, DEC))
    assert not isinstance(raised.value, TransientSurveyError)
    assert len(_asked(fake_archive, ASTROCUT)) == 1 and _stored(tmp_path) == [] and _leftovers(tmp_path) == []


def test_a_member_named_outside_the_folder_is_refused(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)]})
    body = pixel_cube_bytes(mission="tesscut", n=N, season=1)
    fake_archive.route(ASTROCUT, lambda request: Reply(body=zip_bytes({"../escape.fits": body})))
    with pytest.raises(TransientSurveyError, match="not distinct plain"):
        _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert not list(tmp_path.rglob("escape.fits"))


def test_offline_mode_reads_stored_cutouts_and_asks_nothing(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)]})
    online = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    asked = len(fake_archive.requests)
    offline = _client(fake_archive, tmp_path, offline=True).download(Source("s", RA, DEC))
    assert [c.path for c in offline] == [c.path for c in online] and len(fake_archive.requests) == asked
    with pytest.raises(OfflineError):
        _client(fake_archive, tmp_path, offline=True, sectors=[2]).download(Source("s", RA, DEC))
    assert len(fake_archive.requests) == asked


def test_a_damaged_stored_cutout_is_fetched_again(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)]})
    (cut,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    size = cut.path.stat().st_size
    cut.path.write_bytes(cut.path.read_bytes()[: size - 2880])  # the last block lost
    (again,) = _client(fake_archive, tmp_path).download(Source("s", RA, DEC))
    assert again.path == cut.path and again.path.stat().st_size == size
    assert len(_asked(fake_archive, ASTROCUT)) == 2
