"""Benchmark: pixel downloads from a slow local archive; ZTF cutouts serial against threaded, resume, TESScut unpacking.

Run ``python benchmarks/run_pixel_downloads.py [EPOCHS] [LATENCY_S] [CADENCES]`` (defaults 40, 0.1 s, 3000).
In one process it starts a local archive (tests/http_server.py) playing IRSA (every cutout answered after
LATENCY_S, made with astropy's Cutout2D from a synthetic image) and TESScut (a zip of one 11 x 11 cutout of
CADENCES cadences), then times:

* ZTF: the cutouts of one source at EPOCHS exposures with ``cutout_threads`` 1 and 4 (``max_concurrency`` 8),
  and a resumed run (everything stored: the metadata search only);
* TESScut: one sector's zip fetched, unpacked, every member checked, and a resumed run.

Prints the numbers and the requests counted by the archive.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.http.cache import RawCache  # noqa: E402
from virtualobserver.adapters.surveys.pixels.tesscut import TesscutClient, TesscutParameters  # noqa: E402
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters  # noqa: E402
from virtualobserver.domain.source import Source  # noqa: E402
from tests.http_server import FakeArchive, Reply, Request  # noqa: E402
from tests.integration.test_tesscut_downloads import BASE, Tesscut  # noqa: E402
from tests.integration.test_ztf_cutouts import DEC, RA, Irsa  # noqa: E402
from tests.pixel_files import pixel_cube_bytes, tesscut_name, zip_bytes  # noqa: E402


def ztf(archive: FakeArchive, epochs: int, latency: float) -> None:
    rows = [dict(field=784, ccdid=10, qid=4, filtercode="zr", obsjd=2458422.97 + k,
                 filefracday=int(f"201811{k % 28 + 1:02d}{470000 + k:06d}")) for k in range(epochs)]
    irsa = Irsa(archive, rows)
    answers = {}
    query = {"gzip": ["false"], "center": [f"{RA:.7f},{DEC:.7f}"], "size": ["30arcsec"]}
    for path in irsa.images:  # answers made before the clock starts
        answers[path] = irsa.cutout(Request("GET", path, query, {}, b"", {})).body
        archive.route(path, lambda request, body=answers[path]: Reply(body=body, delay=latency))
    for threads in (1, 4):
        with tempfile.TemporaryDirectory() as cache:
            params = ZtfCutoutParameters(base_url=archive.url, rate_limit_per_s=0.0, max_concurrency=8,
                                         cutout_threads=threads)
            client = ZtfCutoutClient(params, cache=RawCache(Path(cache)))
            before = len(archive.requests)
            start = time.perf_counter()
            found = client.download(Source("s", RA, DEC))
            took = time.perf_counter() - start
            asked = len(archive.requests) - before
            start = time.perf_counter()
            again = client.download(Source("s", RA, DEC))
            resumed = time.perf_counter() - start
            print(f"ztf: {len(found)} cutouts, cutout_threads {threads}: {took:.2f} s, {asked} requests; "
                  f"resumed {len(again)} in {resumed:.2f} s with {len(archive.requests) - before - asked} request(s)")


def tesscut(archive: FakeArchive, cadences: int) -> None:
    Tesscut(archive, {1: [(3, 3)]})
    body = zip_bytes({tesscut_name(1, 3, 3, 51.1119, -77.4515, 11, 11):
                      pixel_cube_bytes(mission="tesscut", n=cadences, rows=11, cols=11, season=1)})
    archive.route(f"{BASE}/astrocut", lambda request: Reply(body=body))
    with tempfile.TemporaryDirectory() as cache:
        client = TesscutClient(TesscutParameters(base_url=archive.url + BASE, rate_limit_per_s=0.0),
                               cache=RawCache(Path(cache)))
        start = time.perf_counter()
        (cut,) = client.download(Source("M dwarf", 51.1119, -77.4515), sectors=[1])
        took = time.perf_counter() - start
        start = time.perf_counter()
        client.download(Source("M dwarf", 51.1119, -77.4515), sectors=[1])
        resumed = time.perf_counter() - start
        print(f"tesscut: zip {len(body) / 1e6:.1f} MB -> {cut.path.stat().st_size / 1e6:.1f} MB cutout {cut.shape}: "
              f"{took:.2f} s fetched, unpacked and checked; resumed in {resumed:.2f} s")


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    cadences = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    with FakeArchive() as archive:
        ztf(archive, epochs, latency)
        tesscut(archive, cadences)


if __name__ == "__main__":
    main()
