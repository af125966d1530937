"""Kill ``vo run`` with SIGKILL at random moments, resume, and compare with an uninterrupted run."""

import random
import signal
import subprocess
import time

import numpy as np
from sqlalchemy import create_engine, text

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from tests.e2e.helpers import REPO, vo, vo_command, vo_env, vo_json

from virtualobserver.adapters.files.batch_tables import read_index, read_tables
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.domain.histograms import Histograms

TABLES = ("sources", "raw_data", "lightcurves", "detections", "steps", "failures", "injections",
          "source_summaries", "histogram_parts")


def run_rows(url: str) -> dict:
    """Row counts per table and the rows that identify a run's products by meaning (not by id)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            def rows(sql):
                return connection.execute(text(sql)).all()

            return {
                "counts": {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES},
                "lightcurves": rows("SELECT s.name, l.filter, l.season, l.file, l.key FROM lightcurves l "
                                    "JOIN sources s ON s.id = l.source_id ORDER BY 1, 2, 3"),
                "raws": rows("SELECT source_name, file, key FROM raw_data ORDER BY 1"),
                "detections": rows(
                    "SELECT s.name, l.filter, l.season, d.kind, d.peak_mjd, d.start_mjd, d.end_mjd, d.snr, "
                    "d.is_simulated FROM detections d JOIN lightcurves l ON l.id = d.lightcurve_id "
                    "JOIN sources s ON s.id = d.source_id ORDER BY 1, 2, 3, 5, 9"),
                "injections": rows(
                    "SELECT s.name, i.sequence, i.kind, i.peak_mjd, i.amplitude, i.width, i.recovered "
                    "FROM injections i JOIN sources s ON s.id = i.source_id ORDER BY 1, 2, 3, 4"),
                "parts": rows("SELECT kind, key FROM histogram_parts ORDER BY 1, 2"),
                "scores_files": rows(
                    "SELECT DISTINCT scores_file FROM source_summaries WHERE scores_file IS NOT NULL"),
            }
    finally:
        engine.dispose()


def merged_parts(data_dir, parts) -> dict:
    """The merged histograms of every kind, from the part records of a run."""
    store = NetCdfHistogramStore(data_dir)
    histograms = {}
    for kind, key in parts:
        histograms.setdefault(kind, []).append(store.load(key))
    return {kind: Histograms.merge(items) for kind, items in histograms.items()}


def snapshot(url: str, data_dir) -> dict:
    """Row counts per table, plus every detection and every array, keyed by meaning (not by id)."""
    found = run_rows(url)
    lightcurves = found["lightcurves"]
    arrays = {}
    for name, band, season, file, key in lightcurves:
        arrays[("lc", name, band, season)] = read_tables(data_dir, file, [key], name)[0]
    for name, file, key in found["raws"]:
        arrays[("raw", name)] = read_tables(data_dir, file, [key], name)[0]
    # Per-epoch scores, quality flags and cut values: one batch file per analysed batch, whose index
    # names each table's source and lightcurve (by the lightcurve's key in its own file).
    lc_of = {(name, key): (band, season) for name, band, season, _, key in lightcurves}
    for file in sorted({file for (file,) in found["scores_files"]}):
        index = read_index(data_dir, file, file)
        tables = read_tables(data_dir, file, list(index["key"]), file)
        for name, lc_key, table in zip(index["source_name"], index["lightcurve"], tables):
            arrays[("scores", str(name), *lc_of[(str(name), str(lc_key))])] = table
    return {"counts": found["counts"], "detections": [tuple(row) for row in found["detections"]],
            "injections": [tuple(row) for row in found["injections"]], "arrays": arrays,
            "histograms": merged_parts(data_dir, found["parts"])}


def assert_same(reference: dict, resumed: dict) -> None:
    assert resumed["counts"] == reference["counts"]
    assert resumed["detections"] == reference["detections"]
    assert resumed["injections"] == reference["injections"]
    assert resumed["histograms"].keys() == reference["histograms"].keys()
    for kind, histogram in reference["histograms"].items():
        assert resumed["histograms"][kind] == histogram, kind
    assert resumed["arrays"].keys() == reference["arrays"].keys()
    for key, columns in reference["arrays"].items():
        assert resumed["arrays"][key].keys() == columns.keys(), key
        for column, values in columns.items():
            np.testing.assert_array_equal(resumed["arrays"][key][column], values, err_msg=str((key, column)))


# The demo project itself (simulation enabled), on its first 80 sources, in batches of 10, with a
# simulated download latency so that a kill lands in every stage.
DEMO = str(REPO / "configs" / "demo.yaml")
ARGS = ("--limit", "80", "--workers", "1", "--set", "project.batch_size=10",
        "--set", "observatories.demo.download.latency=0.04",
        "--set", "observatories.simulation.injections_per_source=3")


def test_sigkill_at_random_moments_then_resume_matches_uninterrupted_run(tmp_path, empty_database_url):
    reference_data = tmp_path / "reference"
    started = time.monotonic()
    done = vo("run", DEMO, *ARGS, data_dir=reference_data, database_url=empty_database_url)
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    reference = snapshot(empty_database_url, reference_data)
    assert reference["counts"]["sources"] == 80 and reference["counts"]["detections"] > 0
    assert reference["counts"]["injections"] > 0 and "efficiency" in reference["histograms"]
    assert sum(key[0] == "scores" for key in reference["arrays"]) == reference["counts"]["lightcurves"]
    efficiency = reference["histograms"]["efficiency"]
    assert efficiency.total("injected") == reference["counts"]["injections"]

    # The interrupted run uses the embedded server, so each kill also leaves a server behind.
    data = tmp_path / "killed"
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    analysed_after_kill = []
    for _ in range(2):
        process = subprocess.Popen(vo_command("run", DEMO, *ARGS), cwd=REPO,
                                   env=vo_env(data, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 0.8) * duration)
        process.send_signal(signal.SIGKILL)
        process.wait()
        analysed_after_kill.append(vo_json("status", DEMO, data_dir=data, database_url=None)["analysed"])
    # The kills must have interrupted real work, or this test would prove nothing.
    assert analysed_after_kill[0] < 80, f"seed {seed}: the first kill came after the run finished"
    finished = vo("run", DEMO, *ARGS, data_dir=data, database_url=None)
    assert finished.returncode == 0, f"seed {seed}: {finished.stderr}"
    assert not (data / "postgres" / "postmaster.pid").exists(), f"seed {seed}: server left running"

    server = EmbeddedPostgres(data)
    try:
        resumed = snapshot(server.start(), data)
    finally:
        server.stop()
    assert_same(reference, resumed)
