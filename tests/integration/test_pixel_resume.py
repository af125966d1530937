"""Pixel downloads killed part-way (SIGKILL inside a body) resume without asking again for what was stored."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.surveys.pixels.tesscut import TesscutClient, TesscutParameters
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.domain.source import Source
from tests.integration.test_tesscut_downloads import ASTROCUT, BASE, Tesscut
from tests.integration.test_ztf_cutouts import DEC, RA, ROWS, Irsa

# Each body here is one chunk (< 64 KiB) and the worker asks one at a time: hit k of "download.mid_body"
# is the k-th answer's body.
_WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from virtualobserver.adapters.http.cache import RawCache
    from virtualobserver.domain.source import Source
    kind, url, cache = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    common = dict(base_url=url, rate_limit_per_s=0.0, retries=0)
    if kind == "ztf":
        from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
        client = ZtfCutoutClient(ZtfCutoutParameters(cutout_threads=1, **common), cache=RawCache(cache))
        client.download(Source("SN 2018hmx", float(sys.argv[4]), float(sys.argv[5])))
    else:
        from virtualobserver.adapters.surveys.pixels.tesscut import TesscutClient, TesscutParameters
        client = TesscutClient(TesscutParameters(columns=7, rows=5, **common), cache=RawCache(cache))
        client.download(Source("M dwarf", float(sys.argv[4]), float(sys.argv[5])))
""")


def _killed_run(kind, url, cache, ra, dec, hit):
    env = {**os.environ, "VO_FAULT": f"download.mid_body:{hit}"}
    done = subprocess.run([sys.executable, "-c", _WORKER, kind, url, str(cache), repr(ra), repr(dec)], env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]  # killed by SIGKILL at the fault point


def _temporaries(cache):
    return [p for p in cache.rglob("*") if ".vo-tmp-" in p.name]


def test_ztf_cutouts_killed_inside_the_third_cutout_resume_with_that_one_only(fake_archive, tmp_path):
    Irsa(fake_archive, ROWS)
    cache = tmp_path / "cache"
    _killed_run("ztf", fake_archive.url, cache, RA, DEC, hit=4)  # hits: metadata, cutout 1, 2, 3
    stored_before = sorted(p.name for p in cache.rglob("*.fits"))
    assert len(stored_before) == 2 and len(_temporaries(cache)) == 1  # the third one's .part of a dead writer
    asked = len(fake_archive.requests)

    client = ZtfCutoutClient(ZtfCutoutParameters(base_url=fake_archive.url, rate_limit_per_s=0.0),
                             cache=RawCache(cache))
    cutouts = client.download(Source("SN 2018hmx", RA, DEC))
    resumed = [r.path for r in fake_archive.requests[asked:]]
    assert len(cutouts) == 3 and resumed[0].startswith("/ibe/search/") and len(resumed) == 2
    assert resumed[1].endswith(cutouts[2].path.name.split("_cutout_")[0] + ".fits")
    assert _temporaries(cache) == []


def test_tesscut_killed_inside_the_second_sector_resumes_with_that_sector_only(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)], 2: [(3, 3)]})
    cache = tmp_path / "cache"
    _killed_run("tesscut", fake_archive.url + BASE, cache, 51.1119, -77.4515, hit=3)  # sector list, zip 1, zip 2
    assert [p.name[:14] for p in cache.rglob("*.fits")] == ["tess-s0001-3-3"]
    asked = len([r for r in fake_archive.requests if r.path == ASTROCUT])

    client = TesscutClient(TesscutParameters(base_url=fake_archive.url + BASE, rate_limit_per_s=0.0, columns=7,
                                             rows=5), cache=RawCache(cache))
    cutouts = client.download(Source("M dwarf", 51.1119, -77.4515))
    zips = [r for r in fake_archive.requests if r.path == ASTROCUT][asked:]
    assert [c.season for c in cutouts] == [1, 2] and [r.query["sector"] for r in zips] == [["2"]]
    assert _temporaries(cache) == []


def test_threads_asking_for_one_sector_fetch_it_once(fake_archive, tmp_path):
    Tesscut(fake_archive, {1: [(3, 3)]})
    client = TesscutClient(TesscutParameters(base_url=fake_archive.url + BASE, rate_limit_per_s=0.0, columns=7,
                                             rows=5, max_concurrency=4), cache=RawCache(tmp_path / "cache"))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.download(Source("M dwarf", 51.1119, -77.4515)), range(6)))
    assert {tuple(c.path for c in r) for r in results} == {tuple(c.path for c in results[0])}
    assert len([r for r in fake_archive.requests if r.path == ASTROCUT]) == 1
    assert _temporaries(tmp_path / "cache") == []
