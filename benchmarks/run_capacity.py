"""Capacity per source, measured on the demo: rows by table, bytes, WAL, fsyncs and connections; scaled to 10⁷.

Run ``python benchmarks/run_capacity.py [BATCH_SIZE ...]`` (default 100 1000) from the repository. For
each batch size, ``Project.run`` of ``configs/demo.yaml`` (1,278 sources: download, reduce, analyse,
4 injections each) runs in this process (one worker) on a fresh embedded PostgreSQL and data folder,
and the script measures:

* rows per source in every table (``count(*)`` after the run, over the project's sources);
* bytes per source: files in the data folder (without the database and the answer cache), and the
  database (``pg_database_size`` after the run less before);
* WAL bytes and WAL syncs during the run (``pg_stat_wal.wal_bytes``; ``pg_stat_wal.wal_sync``, or from
  PostgreSQL 18 on ``pg_stat_io``'s fsyncs of the ``wal`` object);
* fsyncs of files by the client (every ``os.fsync``/``os.fdatasync`` call of the process, counted);
* database connections of the process: the most seen at once in ``pg_stat_activity`` (sampled
  every 20 ms by a separate connection, which is not counted).

It then prints the per-source and per-batch numbers and the 10⁷-source table of
``benchmarks/results.md`` (rows, WAL, bytes, fsyncs/s at a target throughput, connections).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = 10_000_000
RATE = 50_000  # sources/s over the whole cluster, the figure for 10⁷ sources in ~3 minutes
#: Sources/s of one worker, for the number of workers (and so connections) at RATE: run_scale.py's reference
#: workload on one quiet core (1,505-1,641/s, README); this script's own rate is printed but is the demo's and
#: as loaded as the machine.
PER_WORKER = 1_600


def _count_fsyncs() -> dict:
    counts = {"fsync": 0}
    for name in ("fsync", "fdatasync"):
        original = getattr(os, name, None)
        if original is None:
            continue

        def counted(fd, _original=original):
            counts["fsync"] += 1
            return _original(fd)

        setattr(os, name, counted)
    return counts


def _bytes(folder: Path, skip: tuple) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not set(p.relative_to(folder).parts[:1]) & set(skip))


def measure(batch_size: int) -> dict:
    """Run the demo at ``batch_size`` on a fresh data folder; return the measured totals."""
    from sqlalchemy import create_engine, text

    work = Path(tempfile.mkdtemp(prefix="vo-capacity-"))
    os.environ["VO_DATA"] = str(work / "data")
    os.environ.pop("VO_DATABASE_URL", None)
    from virtualobserver.adapters.container import build_container, close_container

    container = build_container(REPO / "configs" / "demo.yaml", {"project.batch_size": batch_size}, workers=4,
                                batch_workers=1)
    project = container.project()
    try:
        project.status()  # start and migrate the server before measuring
        url = container.database().url
        probe = create_engine(url, isolation_level="AUTOCOMMIT")
        with probe.connect() as connection:
            version = connection.execute(text("SHOW server_version_num")).scalar()
        # PostgreSQL 18 moved the WAL sync count from pg_stat_wal to pg_stat_io.
        syncs = ("(SELECT sum(fsyncs) FROM pg_stat_io WHERE object = 'wal')" if int(version) >= 180000
                 else "(SELECT wal_sync FROM pg_stat_wal)")
        stats = text(f"SELECT (SELECT wal_bytes FROM pg_stat_wal), {syncs}, "
                     "(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), "
                     "pg_database_size(current_database())")
        with probe.connect() as connection:
            connection.execute(text("SELECT pg_stat_force_next_flush()"))
            time.sleep(1.2)
            before = connection.execute(stats).one()
        seen = {"most": 0}
        stop = threading.Event()

        def sample():
            with probe.connect() as connection:
                query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid()")
                while not stop.is_set():
                    seen["most"] = max(seen["most"], connection.execute(query).scalar())
                    time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        counts = _count_fsyncs()
        start = time.perf_counter()
        report = project.run()
        seconds = time.perf_counter() - start
        fsyncs = counts["fsync"]
        stop.set()
        sampler.join()
        time.sleep(1.2)  # statistics reach the shared counters at most a second after the transaction
        with probe.connect() as connection:
            after = connection.execute(stats).one()
            tables = [t for (t,) in connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
                "ORDER BY tablename"))]
            rows = {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
        probe.dispose()
        sources = report.selected
        files = _bytes(work / "data", ("postgres", "cache"))
        return {"batch_size": batch_size, "sources": sources, "batches": math.ceil(sources / batch_size),
                "seconds": seconds, "rows": rows, "file_bytes": files, "db_bytes": after[3] - before[3],
                "wal_bytes": int(after[0] - before[0]), "wal_syncs": int(after[1] - before[1]),
                "commits": after[2] - before[2], "file_fsyncs": fsyncs, "connections": seen["most"],
                "server": version}
    finally:
        close_container(container)
        shutil.rmtree(work, ignore_errors=True)


def _human(n: float) -> str:
    for unit in ("", " k", " M", " G", " T"):
        if abs(n) < 1000:
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n:.3g} P"


def report(m: dict) -> None:
    """Print the per-source numbers and the 10⁷ table of one measurement."""
    n, b = m["sources"], m["batches"]
    total_rows = sum(m["rows"].values())
    print(f"\n## batch_size {m['batch_size']} (PostgreSQL {m['server']}): {n} sources in {b} batches, {m['seconds']:.1f} s "
          f"({n / m['seconds']:.0f} sources/s in one process); load average {os.getloadavg()}")
    print("| table | rows | rows per source |\n|---|---|---|")
    for table, count in sorted(m["rows"].items(), key=lambda kv: -kv[1]):
        if count:
            print(f"| {table} | {count} | {count / n:.2f} |")
    print(f"| **all** | {total_rows} | **{total_rows / n:.2f}** |")
    per = {"file bytes": m["file_bytes"] / n, "database bytes": m["db_bytes"] / n, "WAL bytes": m["wal_bytes"] / n}
    print("\n| per source | value |\n|---|---|")
    for key, value in per.items():
        print(f"| {key} | {value:,.0f} |")
    print(f"| file fsyncs per batch | {m['file_fsyncs'] / b:.1f} |\n| WAL syncs per batch | {m['wal_syncs'] / b:.1f} |"
          "\n| connections of the process (most at once) | "
          f"{m['connections']} |")
    workers = math.ceil(RATE / PER_WORKER)
    fsyncs = (m["file_fsyncs"] + m["wal_syncs"]) / n * RATE
    print(f"\n10⁷ sources at {RATE:,} sources/s ({workers} workers at {PER_WORKER:,} sources/s each):")
    print(f"rows {_human(total_rows / n * TARGET)}, WAL {_human(m['wal_bytes'] / n * TARGET)}B, files "
          f"{_human(m['file_bytes'] / n * TARGET)}B, database {_human(m['db_bytes'] / n * TARGET)}B, fsyncs/s "
          f"{fsyncs:,.0f} (files {m['file_fsyncs'] / n * RATE:,.0f}, WAL {m['wal_syncs'] / n * RATE:,.0f}), "
          f"connections {workers * m['connections'] + m['connections']}")


def main(sizes: list[int]) -> None:
    """Measure each batch size in turn."""
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), f"cores {os.cpu_count()}")
    for size in sizes:
        report(measure(size))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
