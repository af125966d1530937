"""Benchmark: ZTF lightcurves of N catalog sources from a HATS collection, against the per-request client.

``python benchmarks/run_ztf_hats.py [N] [EPOCHS] [BATCH]`` (default 100000 sources, 30 epochs per ZTF object,
batches of 1000, the size a project's batch_size gives the client):

1. writes a synthetic sky (tests/ztf_hats_sky.py: a g and an r object per source) as a HATS collection
   (tests/hats_writer.py, hats' own tools) in a temporary folder;
2. downloads every source with VirtualZtfHats in batches, in catalog order (the grid's rows: neighbouring
   sources in one batch) and then shuffled (each batch spread over the sky), timing wall and CPU and counting
   partition reads; it asserts that every source got its two objects and all their epochs;
3. times the per-request client (VirtualZTF) on ``min(N, 300)`` of the same sources against a local archive
   (tests/http_server.py) that answers each cone at once with that source's rows (CSV): the client's own cost
   per source without any network, to which IRSA's polite rate (5 requests/s, the default) adds
   N / 5 seconds.

Prints a Markdown row for benchmarks/results.md, with the date, the machine and its load average.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hats_writer import write_hats_collection  # noqa: E402
from tests.http_server import FakeArchive, Reply  # noqa: E402
from tests.ztf_hats_sky import synthetic_ztf_sky  # noqa: E402
from virtualobserver.adapters.http.cache import RawCache  # noqa: E402
from virtualobserver.adapters.surveys.ztf import VirtualZTF, ZtfParameters  # noqa: E402
from virtualobserver.adapters.surveys.ztf_hats import VirtualZtfHats  # noqa: E402
from virtualobserver.domain.source import Source  # noqa: E402

LC_PATH = "/cgi-bin/ZTF/nph_light_curves"


def download_all(client: VirtualZtfHats, sources: list[Source], batch: int) -> tuple[float, float, list]:
    wall, cpu = time.perf_counter(), time.process_time()
    raws = []
    for start in range(0, len(sources), batch):
        raws += client.download_many(sources[start:start + batch])
    return time.perf_counter() - wall, time.process_time() - cpu, raws


def per_request_cost(sources: list[Source], columns: dict, work: Path) -> tuple[float, float]:
    names = list(columns)
    order = np.argsort(columns["oid"], kind="stable")
    oids = columns["oid"][order]
    bodies = {}
    for index, source in enumerate(sources):
        # The source's two objects are oids 2*index and 2*index + 1 above the base (tests/ztf_hats_sky.py).
        first = np.searchsorted(oids, oids[0] + 2 * index)
        last = np.searchsorted(oids, oids[0] + 2 * index + 2)
        rows = order[first:last]
        lines = [",".join(names)] + [",".join(repr(columns[n][i].item()) if columns[n].dtype.kind == "f"
                                              else str(columns[n][i]) for n in names) for i in rows]
        bodies[f"{source.ra:.7f} {source.dec:.7f}"] = ("\n".join(lines) + "\n").encode()

    def answer(request):
        _, ra, dec, _ = request.query["POS"][0].split()
        return Reply(200, bodies[f"{ra} {dec}"], {"Content-Type": "text/plain"})

    with FakeArchive() as archive:
        archive.route(LC_PATH, answer)
        client = VirtualZTF(ZtfParameters(base_url=archive.url, rate_limit_per_s=0.0, format="csv"),
                            cache=RawCache(work / "cache"))
        wall, cpu = time.perf_counter(), time.process_time()
        raws = [client.download(source) for source in sources]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        client.close()
    assert all(raw.num_epochs > 0 for raw in raws)
    return wall / len(sources), cpu / len(sources)


def main(n: int = 100_000, epochs: int = 30, batch: int = 1000) -> None:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="vo-hats-bench-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        catalog, columns, _ = synthetic_ztf_sky(n, epochs=epochs, flare_every=max(1, n // 10))
        sources = [Source(str(name), float(ra), float(dec), mag=float(mag)) for name, ra, dec, mag in
                   zip(catalog["name"], catalog["ra"], catalog["dec"], catalog["mag"])]
        collection = write_hats_collection(work / "ztf_lc_hats", columns)
        rows = columns["oid"].size
        on_disk = sum(p.stat().st_size for p in collection.rglob("*.parquet"))
        print(f"sky of {n} sources, {rows} epochs written as HATS in {time.perf_counter() - start:.1f} s "
              f"({on_disk / 1e6:.0f} MB of Parquet)", flush=True)

        client = VirtualZtfHats(ZtfParameters(access="hats", hats_path=str(collection)))
        wall, cpu, raws = download_all(client, sources, batch)
        partitions = len({name for raw in raws for name in raw.meta["partitions"]})
        assert all(raw.num_epochs == 2 * epochs and len(raw.meta["kept"]) == 2 for raw in raws)
        print(f"HATS, catalog order: {wall:.1f} s wall, {cpu:.1f} s CPU, {wall / n * 1e6:.0f} us/source wall, "
              f"{cpu / n * 1e6:.0f} us/source CPU; {client.partition_reads} partition reads of {partitions} "
              f"partitions; read {client.timings['read']:.1f} s, match {client.timings['match']:.1f} s", flush=True)
        del raws

        shuffled = [sources[i] for i in np.random.default_rng(1).permutation(n)]
        again = VirtualZtfHats(ZtfParameters(access="hats", hats_path=str(collection)))
        wall2, cpu2, raws = download_all(again, shuffled, batch)
        assert all(raw.num_epochs == 2 * epochs for raw in raws)
        print(f"HATS, shuffled order: {wall2:.1f} s wall, {cpu2:.1f} s CPU, {again.partition_reads} partition reads",
              flush=True)
        del raws

        sample = sources[:min(n, 300)]
        per_wall, per_cpu = per_request_cost(sample, columns, work)
        polite_hours = n / ZtfParameters().rate_limit_per_s / 3600.0
        print(f"per-request client, local archive, {len(sample)} sources: {per_wall * 1e3:.2f} ms/source wall, "
              f"{per_cpu * 1e3:.2f} ms/source CPU; at IRSA's polite 5 requests/s: {polite_hours:.1f} h for {n}",
              flush=True)
    load_after = os.getloadavg()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"| {date} | {machine} | load {load_before[0]:.1f} -> {load_after[0]:.1f} | {n} | {epochs} | "
          f"{wall:.1f} s ({wall / n * 1e6:.0f} us/source; CPU {cpu / n * 1e6:.0f} us) | "
          f"{client.partition_reads}/{partitions} | {wall2:.1f} s, {again.partition_reads} reads | "
          f"{per_cpu * 1e3:.2f} ms CPU/source ({per_cpu * n / 60:.0f} min CPU for {n}) | {polite_hours:.1f} h |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
