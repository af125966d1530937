"""Answers that cannot drown a run: a size limit counted on decompressed bytes, a total deadline, cached once."""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib

import pytest

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import HttpFetcher
from virtualobserver.adapters.surveys.ztf import VirtualZTF, ZtfParameters
from virtualobserver.domain.errors import SurveyError, TransientSurveyError
from virtualobserver.domain.source import Source
from tests.http_server import Reply
from tests.reliability.harness import FULL, TALLY, run_vo

MB = 1_000_000
_FAST = {"retries": 2, "backoff_s": 0.0, "backoff_max_s": 0.0, "rate_limit_per_s": 0.0}


def _gzip_bomb(decompressed: int) -> bytes:
    # Blank lines, gzip-encoded piece by piece: about 1000:1, so the archive never holds the whole answer.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"\n" * MB
    return b"".join([packer.compress(piece) for _ in range(decompressed // MB)] + [packer.flush()])


# The default run scales the bomb (1 GB, 3.2 GB RSS) down to 50 MB against a 4 MB limit;
# VO_RELIABILITY=full sends the 1 GB one against the survey's default limit.
BOMB, LIMIT_MB = (1000 * MB, None) if FULL else (50 * MB, 4.0)


@pytest.mark.parametrize("how", ["fetch", "download"])
def test_a_gzip_bomb_is_stopped_at_the_limit_holding_no_more_than_it(how, fake_archive, tmp_path):
    from tests.integration.test_ztf_client import LC_PATH

    bomb = _gzip_bomb(BOMB)
    fake_archive.route(LC_PATH, lambda request: Reply(200, bomb, {"Content-Type": "text/plain",
                                                                  "Content-Encoding": "gzip"}))
    limit = {"max_answer_mb": LIMIT_MB} if LIMIT_MB else {}
    parameters = ZtfParameters(base_url=fake_archive.url, **_FAST, **limit)
    limit_bytes = parameters.max_answer_mb * MB
    fetcher = HttpFetcher("ztf", parameters)
    dest = tmp_path / "cache" / "answer.tbl"
    tracemalloc.start()
    try:
        with pytest.raises(SurveyError) as failure:
            if how == "fetch":  # the body kept in memory (MAST queries)
                fetcher.fetch(LC_PATH, what="source 'bomb'")
            else:  # the body streamed to a file (ZTF answers, TESS and Kepler files)
                fetcher.download(LC_PATH, dest, what="source 'bomb'")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        fetcher.close()
    message = str(failure.value)
    assert not isinstance(failure.value, TransientSurveyError), message  # a bomb is not worth a retry
    assert message.startswith("ztf: source 'bomb': http://127.0.0.1") and "\n" not in message, message
    assert f"max_answer_mb = {parameters.max_answer_mb:g} MB" in message, message
    assert len(fake_archive.requests) == 1, "an oversize answer was asked for again"
    assert peak < limit_bytes + 2 * MB, f"held {peak / MB:.1f} MB for a limit of {limit_bytes / MB:g} MB"
    assert not dest.exists() and not list(dest.parent.glob("*")), "a part of the bomb stayed on disk"
    TALLY["answers: gzip bombs stopped at the limit"] += 1


def _ztf_project(tmp_path, archive, extra: str):
    from tests.e2e.test_real_surveys import write_config

    host = archive.url.removeprefix("http://")
    # Credentials in the URL: every message must show them redacted.
    download = (f"  ztf:\n    download: {{base_url: 'http://vo-user:Pw-s3cret@{host}', retries: 2, backoff_s: 0.01,"
                f" backoff_max_s: 0.02, rate_limit_per_s: 0{extra}}}\n")
    return write_config(tmp_path / "p", "ztf", [("T00", 10.0, 20.0), ("T01", 11.0, 20.5)], download)


def test_an_oversize_answer_fails_at_once_with_one_line_and_is_written_once_at_most(
        fake_archive, module_database, tmp_path):
    from tests.e2e.test_real_surveys import ztf_answer
    from tests.integration.test_ztf_client import LC_PATH

    # The answer: 200 MB of blank lines, against ZTF's default limit (full run), or 40 MB against 2 MB.
    size, limit = (200 * MB, 100) if FULL else (40 * MB, 2)
    blank = b"\n" * (1 << 16)

    def answer(request):
        if request.query["POS"][0].split()[1].startswith("11."):
            return Reply(200, blank, {"Content-Type": "text/plain"}, repeat=size // len(blank))
        return ztf_answer(request)

    fake_archive.route(LC_PATH, answer)
    config = _ztf_project(tmp_path, fake_archive, "" if FULL else f", max_answer_mb: {limit}")
    data = tmp_path / "data"
    done = run_vo("run", str(config), "--json", data=data, url=module_database())
    assert done.returncode == 4, done.stderr  # a source failed
    summary = json.loads(done.stdout)
    assert summary["status"]["downloaded"] == 1 and summary["status"]["failed"] == 1, summary["status"]
    message = summary["failures"]["T01"]
    assert "\n" not in message and message.startswith("ztf: T01: http://***@127.0.0.1:"), message
    assert "nph_light_curves?POS=" in message and f"max_answer_mb = {limit:g} MB" in message, message
    assert "Pw-s3cret" not in done.stdout + done.stderr
    asked = [r for r in fake_archive.requests if r.query.get("POS", [""])[0].split()[1:2] == ["11.0000000"]]
    assert len(asked) == 1, f"the oversize answer was asked for {len(asked)} times"
    # The client stopped reading at the limit: the archive could not send much more (socket buffers).
    assert fake_archive.sent < limit * MB + 16 * MB + size // 10, f"{fake_archive.sent / MB:.0f} MB sent"
    cached = [p for p in (data / "cache").rglob("*") if p.is_file()]
    assert len(cached) == 1 and "T00" in str(cached[0]), cached  # the good answer, once; nothing of T01
    TALLY["answers: oversize answers refused once"] += 1


def test_an_answer_that_trickles_in_is_cut_at_the_total_deadline(fake_archive, tmp_path):
    from tests.e2e.test_real_surveys import ztf_answer
    from tests.integration.test_ztf_client import LC_PATH

    # A valid answer sent in 40 pieces 0.25 s apart (10 s): every read returns well within timeout_s = 1,
    # so only a deadline on the whole request stops it (the issue: 40 s accepted with timeout_s = 3).
    def trickle(request):
        reply = ztf_answer(request)
        reply.chunk, reply.drip = len(reply.body) // 40 + 1, 0.25
        return reply

    fake_archive.route(LC_PATH, trickle)
    parameters = ZtfParameters(base_url=fake_archive.url, **{**_FAST, "retries": 1}, timeout_s=1.0, deadline_s=2.0)
    client = VirtualZTF(parameters, cache=RawCache(tmp_path / "cache"))
    started = time.monotonic()
    try:
        with pytest.raises(TransientSurveyError) as failure:  # too slow today may be fine tomorrow: retried
            client.download(Source(name="drip", ra=10.0, dec=20.0))
    finally:
        client.close()
    elapsed = time.monotonic() - started
    message = str(failure.value)
    assert message.startswith("ztf: drip: http://127.0.0.1:") and "\n" not in message, message
    assert "deadline_s = 2 s" in message and "gave up after 2 attempt(s)" in message, message
    assert len(fake_archive.requests) == 2
    assert elapsed < 2 * 2.0 + 1.5, f"two attempts with a 2 s deadline took {elapsed:.1f} s"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()], "a cut answer was cached"
    TALLY["answers: trickling answers cut at the deadline"] += 1
