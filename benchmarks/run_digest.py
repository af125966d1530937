"""Digest of a run's results, to show that a speed-up changed no result bit.

Run ``python benchmarks/run_digest.py [N]`` (default 300) before and after a change: it runs the
``reference`` and ``realistic`` workloads of ``run_scale.py`` on N sources each (batches of 100), on a
fresh embedded PostgreSQL and data folder, and prints one SHA-256 per table (rows ordered by id,
every column except times of day), one per merged histogram, and one over the arrays of every stored
lightcurve, raw table and epoch-score table. Equal digests mean equal results. File names are
digested apart (``files``): they are content hashes of the batch files, which also change when only
the encoding of a file changes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_scale import WORKLOADS  # noqa: E402

_TABLES = {
    "sources": "SELECT * FROM sources ORDER BY id",
    "raw_data": "SELECT * FROM raw_data ORDER BY id",
    "lightcurves": "SELECT * FROM lightcurves ORDER BY id",
    "detections": "SELECT * FROM detections ORDER BY id",
    "injections": "SELECT * FROM injections ORDER BY id",
    "summaries": "SELECT * FROM source_summaries ORDER BY source_id, survey, version",
    "steps": "SELECT * FROM steps ORDER BY source_id, stage, survey, version",
}
_TIMES = {"created_at", "finished_at", "labelled_at"}
_FILES = {"file", "key", "scores_file"}


def _digest_arrays(hasher, columns: dict) -> None:
    import numpy as np

    for name in sorted(columns):
        values = np.asarray(columns[name])
        hasher.update(name.encode())
        hasher.update(values.astype(str).tobytes() if values.dtype.kind in "OSU" else values.tobytes())


def digest(workload: str, n: int) -> dict[str, str]:
    """Run ``workload`` on ``n`` sources in a temporary folder; return a digest per result table."""
    from sqlalchemy import text

    from virtualobserver.adapters.catalogs.demo import write_demo_catalog
    from virtualobserver.adapters.container import open_project
    from virtualobserver.adapters.files.batch_tables import read_tables
    from virtualobserver.services.histograms import merged_histograms

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        os.environ["VO_DATA"] = str(work / "data")
        os.environ.pop("VO_DATABASE_URL", None)
        write_demo_catalog(work / "catalog.csv", rows=n, seed=3)
        config = WORKLOADS[workload].replace("CATALOG", str(work / "catalog.csv"))
        (work / "p.yaml").write_text(config.replace("batch_size: 1000", "batch_size: 100")
                                     .replace("batch_size: 200", "batch_size: 100"))
        container, project = open_project(work / "p.yaml", workers=1)
        out: dict[str, str] = {}
        try:
            project.run()
            files = hashlib.sha256()
            arrays = hashlib.sha256()
            with container.database().engine.connect() as connection:
                for table, query in _TABLES.items():
                    result = connection.execute(text(query))
                    names = list(result.keys())
                    hasher = hashlib.sha256()
                    for row in result:
                        for name, value in zip(names, row):
                            if name in _FILES:
                                files.update(repr(value).encode())
                            elif name not in _TIMES:
                                hasher.update(f"{name}={value!r};".encode())
                    out[table] = hasher.hexdigest()[:16]
                for table in ("raw_data", "lightcurves"):
                    for file, key in connection.execute(text(f"SELECT file, key FROM {table} ORDER BY id")):
                        _digest_arrays(arrays, read_tables(work / "data", file, [key], table)[0])
                scores = connection.execute(text(
                    "SELECT DISTINCT scores_file FROM source_summaries WHERE scores_file IS NOT NULL "
                    "ORDER BY scores_file")).scalars().all()
                parts = connection.execute(text(
                    "SELECT DISTINCT version, kind FROM histogram_parts ORDER BY version, kind")).all()
            for file in scores:
                from virtualobserver.adapters.files.batch_tables import h5py_module  # h5py with the filters of batch tables

                with h5py_module().File(work / "data" / file, "r") as f:
                    for name in sorted(f):
                        _digest_arrays(arrays, {name: f[name][()]} if f[name].dtype.names is None else
                                       {f"{name}.{c}": f[name][c] for c in f[name].dtype.names})
            out["arrays"] = arrays.hexdigest()[:16]
            with container.uow() as uow:
                for version, kind in parts:
                    merged = merged_histograms(uow, container.histogram_store(), "bench", "demo", version, kind)
                    hasher = hashlib.sha256(repr(merged.axes).encode())
                    for variable in merged.variables:
                        hasher.update(merged._counts_of(variable).tobytes())
                    out[f"histogram {kind}"] = hasher.hexdigest()[:16]
            out["files"] = files.hexdigest()[:16]
        finally:
            container.database().close()
    return out


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for workload in ("reference", "realistic"):
        for name, value in digest(workload, size).items():
            print(f"{workload:10s} {name:28s} {value}")
