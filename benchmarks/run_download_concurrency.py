"""Benchmark: downloads from a slow archive, serial against concurrent, within the configured rate.

Run ``python benchmarks/run_download_concurrency.py [N] [LATENCY_S] [CONCURRENCY] [RATE]``
(defaults 1000 sources, 0.2 s, 16, 100/s). In one process it starts a local archive
(tests/http_server.py) that answers every ZTF light-curve query after ``LATENCY_S`` with a
synthetic IRSA IPAC table, then runs a real ZTF project (``Project.run``: download, reduce,
analyse; embedded PostgreSQL or ``VO_DATABASE_URL``; real HDF5 files) twice:

* serial: ``max_concurrency: 1`` over the first N/10 sources (a serial run of N would take N x latency);
* concurrent: ``max_concurrency: CONCURRENCY``, ``rate_limit_per_s: RATE`` over all N.

It checks from the server's own request log that no one-second window saw more than RATE requests
(+1 for the bucket's single-token burst) and that no more than CONCURRENCY were in flight, and prints
a Markdown row for ``benchmarks/results.md``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.container import open_project  # noqa: E402
from tests.http_server import FakeArchive, Reply  # noqa: E402
from tests.integration.test_ztf_client import LC_PATH, Obj, encode, ztf_table  # noqa: E402


def positions(rows: int) -> list[tuple[float, float]]:
    return [(round((i * 0.37) % 360, 5), round(-60 + (i * 0.011) % 120, 5)) for i in range(rows)]


def answers(rows: int) -> dict[tuple[float, float], bytes]:
    # Made before the clock starts: the archive's own work must not compete with the client for the CPU.
    return {(ra, dec): encode(ztf_table([Obj(633110300000001, "zg", ra, dec, 16.3, epochs=8),
                                         Obj(633210300000001, "zr", ra, dec, 15.9, epochs=8)]), "ipac_table")
            for ra, dec in positions(rows)}


def answer(latency: float, tables: dict[tuple[float, float], bytes]):
    def handler(request) -> Reply:
        _, ra, dec, _ = request.query["POS"][0].split()
        return Reply(200, tables[(round(float(ra), 5), round(float(dec), 5))], {"Content-Type": "text/plain"},
                     delay=latency)
    return handler


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


def run(work: Path, name: str, rows: int, archive: FakeArchive, concurrency: int, rate: float):
    folder = work / name
    folder.mkdir()
    (folder / "catalog.csv").write_text("name,ra,dec,mag\n" + "".join(
        f"{name}{i:05d},{ra:.5f},{dec:.5f},16.0\n" for i, (ra, dec) in enumerate(positions(rows))))
    (folder / "project.yaml").write_text(f"""
project: {{name: {name}, surveys: [ztf], batch_size: 100}}
catalog: {{path: catalog.csv}}
observatories:
  ztf:
    download: {{base_url: '{archive.url}', max_concurrency: {concurrency}, rate_limit_per_s: {rate}}}
""")
    container, project = open_project(folder / "project.yaml", workers=1)
    client, spans = project.clients["ztf"], []
    download = client.download

    def timed(source):
        start = time.perf_counter()
        try:
            return download(source)
        finally:
            spans.append((start, time.perf_counter()))

    client.download = timed
    try:
        start = time.perf_counter()
        report = project.run()
        elapsed = time.perf_counter() - start
        assert report.stages["download"].done == rows and not report.stages["download"].failed, report.as_dict()
    finally:
        container.database().close()
    return elapsed, union_length(spans)


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def main(n: int = 1000, latency: float = 0.2, concurrency: int = 16, rate: float = 100.0) -> None:
    work = Path(tempfile.mkdtemp(prefix="vo-bench-net-"))
    os.environ.setdefault("VO_DATA", str(work / "data"))
    archive = FakeArchive()
    archive.route(LC_PATH, answer(latency, answers(n)))
    try:
        serial_n = max(10, n // 10)
        serial, serial_download = run(work, "serial", serial_n, archive, 1, 0.0)
        archive.requests.clear()
        archive.max_in_flight = 0
        concurrent, concurrent_download = run(work, "concurrent", n, archive, concurrency, rate)
        peak_rate = busiest_second([r.time for r in archive.requests])
        peak_flight = archive.max_in_flight
    finally:
        archive.close()
        shutil.rmtree(work, ignore_errors=True)
    assert peak_rate <= rate + 1, f"rate limit exceeded: {peak_rate} requests in one second"
    assert peak_flight <= concurrency, f"concurrency exceeded: {peak_flight} in flight"
    serial_rate, concurrent_rate = serial_n / serial_download, n / concurrent_download
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print("| date | machine | latency | downloads, 1 in flight | downloads, concurrent | speed-up | "
          f"busiest second | most in flight | whole run of {n} (download, reduce, analyse) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {time.strftime('%Y-%m-%d')} | {machine} | {latency * 1000:.0f} ms | {serial_rate:.1f} sources/s "
          f"| {concurrent_rate:.1f} sources/s (max_concurrency {concurrency}, rate {rate:g}/s) "
          f"| {concurrent_rate / serial_rate:.1f}x | {peak_rate} requests | {peak_flight} "
          f"| {concurrent:.1f} s ({n / concurrent:.1f} sources/s; serial: {serial_n / serial:.1f} sources/s) |")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1000, *(float(a) for a in args[1:2]), *(int(a) for a in args[2:3]),
         *(float(a) for a in args[3:4]))
