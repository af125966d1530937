"""Benchmark: cone searches over a project of 10**6 sources in PostgreSQL (HEALPix index, migration 0005).

Run ``python benchmarks/run_cone_search.py [N] [QUERIES]`` (default 1,000,000 and 500). On the embedded
server in a temporary folder (or ``VO_DATABASE_URL``), it makes a project of N sources uniform on
the sky, inserted with COPY (their HEALPix indices computed in numpy), ANALYZEs the table, then
times ``SqlAlchemySourceRepository.cone`` (index ranges, then the exact distance) for random
centres and radii of 1 arcsec to 1 degree, and checks every answer against a brute-force
distance over all N positions. Prints a Markdown row for ``benchmarks/results.md``.
"""

from __future__ import annotations

import io
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.postgres.database import Database  # noqa: E402
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork  # noqa: E402
from virtualobserver.adapters.settings import database_url_from_env  # noqa: E402
from virtualobserver.domain.astrometry import angular_separation_deg  # noqa: E402
from virtualobserver.domain.healpix import INDEX_ORDER, ang2pix_nested  # noqa: E402


def _copy_sources(engine, project_id: int, ra: np.ndarray, dec: np.ndarray) -> None:
    pixels = ang2pix_nested(INDEX_ORDER, ra, dec)
    buffer = io.StringIO()
    for i, (r, d, p) in enumerate(zip(ra.tolist(), dec.tolist(), pixels.tolist())):
        buffer.write(f"{project_id}\tcone-{i:07d}\t{r!r}\t{d!r}\t{p}\n")
    buffer.seek(0)
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            cursor.copy_expert("COPY sources (project_id, name, ra, dec, healpix) FROM STDIN", buffer)
            cursor.execute("ANALYZE sources")
        connection.commit()
    finally:
        connection.close()


def main(n: int = 1_000_000, queries: int = 500) -> None:
    work = Path(tempfile.mkdtemp(prefix="vo-cone-"))
    database = Database(database_url_from_env(), work / "data")
    try:
        engine = database.engine
        rng = np.random.default_rng(7)
        ra = rng.uniform(0.0, 360.0, n)
        dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
        with engine.begin() as connection:
            from sqlalchemy import text

            project_id = connection.execute(
                text("INSERT INTO projects (name) VALUES ('cone-bench') RETURNING id")).scalar_one()
        start = time.perf_counter()
        _copy_sources(engine, project_id, ra, dec)
        loading = time.perf_counter() - start
        factory = database.session_factory()
        times, found = [], 0
        with SqlAlchemyUnitOfWork(factory) as uow:
            uow.sources.cone("cone-bench", 10.0, 10.0, 0.1)  # warm the plan cache and the connection
            for _ in range(queries):
                c_ra, c_dec = rng.uniform(0.0, 360.0), float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0))))
                radius = 10 ** rng.uniform(np.log10(1 / 3600), 0.0)
                start = time.perf_counter()
                result = uow.sources.cone("cone-bench", c_ra, c_dec, radius)
                times.append(time.perf_counter() - start)
                expected = np.flatnonzero(angular_separation_deg(c_ra, c_dec, ra, dec) <= radius)
                assert sorted(s.name for s, _ in result) == [f"cone-{i:07d}" for i in expected]
                found += len(result)
    finally:
        database.close()
        shutil.rmtree(work, ignore_errors=True)
    ms = np.array(times) * 1000
    print(f"| {time.strftime('%Y-%m-%d')} | {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()} | {n} | {queries} (radius 1 arcsec - 1 deg, {found / queries:.0f} "
          f"sources each on average) | {np.median(ms):.2f} ms | {np.percentile(ms, 95):.2f} ms | {ms.max():.1f} ms "
          f"| COPY {n} rows: {loading:.1f} s |")


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:3]))
