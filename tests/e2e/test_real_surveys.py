"""Real survey clients through the ``vo`` command: a ZTF project against a local archive, and ingested files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.helpers import REPO, vo, vo_json
from tests.http_server import Reply
from tests.integration.test_ztf_client import LC_PATH, Obj, encode, ztf_table
from tests.unit.test_tess_format import write_spoc_lc

ZTF_REAL = "ztf_dr1_lightcurve_SN2018hmx_ipac.tbl"
TESS_REAL = "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"


def write_config(folder: Path, survey: str, rows: list[tuple[str, float, float]], extra: str = "",
                 analysis: str = "threshold: 5.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.csv").write_text("name,ra,dec,mag\n" + "".join(f"{n},{r},{d},16.0\n" for n, r, d in rows))
    config = folder / "project.yaml"
    config.write_text(f"""
project: {{name: {survey}-e2e, surveys: [{survey}], batch_size: 8}}
catalog: {{path: catalog.csv}}
observatories:
  reduction: {{min_epochs: 3}}
  analysis: {{{analysis}}}
{extra}""")
    return config


def ztf_answer(request) -> Reply:
    """An IRSA answer at the queried position: a g and an r object with 8 epochs each."""
    _, ra, dec, _ = request.query["POS"][0].split()
    objects = [Obj(633110300000001, "zg", float(ra), float(dec), 16.3, epochs=8),
               Obj(633210300000001, "zr", float(ra), float(dec), 15.9, epochs=8)]
    return Reply(200, encode(ztf_table(objects), "ipac_table"), {"Content-Type": "text/plain"})


def test_ztf_project_downloads_through_failures_then_resumes_and_reuses_the_cache(tmp_path, fake_archive,
                                                                               empty_database_url):
    rows = [(f"T{i:02d}", 10.0 + i, 20.0 + 0.5 * i) for i in range(20)]
    download = (f"  ztf:\n    download: {{base_url: '{fake_archive.url}', backoff_s: 0.01, backoff_max_s: 0.05,"
                " rate_limit_per_s: 0, max_concurrency: 6}\n")
    config = write_config(tmp_path / "p", "ztf", rows, download)
    fake_archive.route(LC_PATH, ztf_answer)
    # The archive stumbles on the way: two 503s (one with Retry-After), a 429, a reset and a cut answer.
    fake_archive.queue(LC_PATH, Reply(503), Reply(503, headers={"Retry-After": "0"}), Reply(429, headers={
        "Retry-After": "0"}), Reply(reset=True), Reply(200, b"|oid|mjd|\n" * 50, truncate=20))
    data = tmp_path / "data"
    first = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    status = first["status"]
    assert status["downloaded"] == status["reduced"] == status["analysed"] == 20 and status["failed"] == 0
    assert status["lightcurves"] == 40  # one zg and one zr lightcurve per source
    asked = [r for r in fake_archive.requests if r.path == LC_PATH]
    assert len(asked) == 20 + 5  # every source once, plus one retry per failure
    assert not list(data.rglob("*.part*")), "a temporary download file was left behind"

    again = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    assert again["nothing_to_do"] and len(fake_archive.requests) == len(asked), again

    # A new download version (another catflags mask) re-reads the shared raw-answer cache, offline.
    changed = vo_json("run", str(config), "--set", "observatories.ztf.download.bad_catflags_mask=0",
                      "--set", "observatories.ztf.download.offline=true", data_dir=data,
                      database_url=empty_database_url)
    assert changed["download"]["done"] == 20 and changed["status"]["failed"] == 0
    assert len(fake_archive.requests) == len(asked)
    shown = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    cached = sum(p.stat().st_size for p in (data / "cache").rglob("*") if p.is_file())
    assert shown["cache"]["bytes"] == shown["cache"]["surveys"]["ztf"] == cached > 0


def test_a_failing_archive_is_reported_per_source_and_retried_by_the_next_run(tmp_path, fake_archive,
                                                                            empty_database_url):
    rows = [("A", 10.0, 20.0), ("B", 11.0, 21.0)]
    download = (f"  ztf:\n    download: {{base_url: '{fake_archive.url}', retries: 1, backoff_s: 0.01,"
                " backoff_max_s: 0.02, rate_limit_per_s: 0}\n")
    config = write_config(tmp_path / "p", "ztf", rows, download)
    fake_archive.route(LC_PATH, lambda request: Reply(200, b"<!DOCTYPE html><html><title>IRSA is down for "
                                                           b"maintenance</title></html>",
                                                      {"Content-Type": "text/html"}))
    data = tmp_path / "data"
    done = vo("run", str(config), data_dir=data, database_url=empty_database_url)
    assert done.returncode == 4, done.stderr  # both sources failed: a distinct exit code
    # One line for the one kind of failure (not one per source, nor the URL of each), printed once.
    failed = [line.strip() for line in done.stdout.splitlines() if "failed (" in line]
    assert len(failed) == 1 and failed[0].startswith("2 sources failed (A, B): ztf: "), done.stdout
    assert "IRSA is down for maintenance" in failed[0] and "http" not in done.stdout, done.stdout
    status = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    assert status["failed"] == 2 and status["downloaded"] == 0
    assert all("IRSA is down for maintenance" in f["message"] for f in status["failures"]), status["failures"]
    fake_archive.route(LC_PATH, ztf_answer)
    healed = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    assert healed["status"]["failed"] == 0 and healed["status"]["analysed"] == 2


def test_ingested_synthetic_files_flow_through_reduce_and_analyse(tmp_path, empty_database_url):
    ztf = write_config(tmp_path / "z", "ztf", [("Synthetic", 150.0, 2.0), ("Other", 151.0, 2.0)])
    data = tmp_path / "data"
    answer = REPO / "tests" / "data" / "ztf_small_ipac.tbl"
    done = vo_json("ingest", str(ztf), "ztf", str(answer), data_dir=data, database_url=empty_database_url)
    assert done["ingested"] == {"Synthetic": [str(answer)]} and not done["failed"]
    offline = ("--set", "observatories.ztf.download.offline=true")
    run = vo_json("run", str(ztf), *offline, data_dir=data, database_url=empty_database_url, code=4)
    assert run["status"]["reduced"] == 1 and run["status"]["lightcurves"] == 2
    assert "Other" in run["failures"] and "offline" in run["failures"]["Other"]

    fits = tmp_path / "tess_lc.fits"
    write_spoc_lc(fits, ra=51.1119, dec=-77.4515)
    tess = write_config(tmp_path / "t", "tess", [("M dwarf", 51.1119, -77.4515)])
    done = vo_json("ingest", str(tess), "tess", str(fits), data_dir=data, database_url=empty_database_url)
    assert list(done["ingested"]) == ["M dwarf"]
    run = vo_json("run", str(tess), data_dir=data, database_url=empty_database_url)
    assert run["status"]["analysed"] == 1 and run["status"]["lightcurves"] == 1


def test_real_answers_ingested_reduce_as_the_archive_made_them(tmp_path, shared_data, empty_database_url):
    from virtualobserver.adapters.container import open_project

    data = tmp_path / "data"
    ztf = write_config(tmp_path / "z", "ztf", [("SN2018hmx", 128.41389, 55.59812)])
    tess = write_config(tmp_path / "t", "tess", [("TIC358108509", 51.1119, -77.4515)],
                        analysis="threshold: 5.0, widths_days: [0.01, 0.05]")
    for config, survey, name in ((ztf, "ztf", ZTF_REAL), (tess, "tess", TESS_REAL)):
        local = tmp_path / name
        shutil.copy(shared_data / name, local)
        done = vo_json("ingest", str(config), survey, str(local), data_dir=data, database_url=empty_database_url)
        assert len(done["ingested"]) == 1, done
        run = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
        assert run["status"]["analysed"] == 1 and run["status"]["failed"] == 0

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", empty_database_url)
        container, project = open_project(ztf)
        try:
            lightcurves = [lc for lc, _ in project.source_lightcurves("SN2018hmx")]
            assert sorted((lc.filter, lc.num_epochs, lc.num_good) for lc in lightcurves) == [
                ("zg", 16, 14), ("zr", 16, 16)]  # both 32768-flagged epochs are g epochs
        finally:
            container.database().close()
        container, project = open_project(tess)
        try:
            [(lc, detections)] = project.source_lightcurves("TIC358108509")
            assert lc.time_scale == "tdb" and lc.times.scale == "tdb" and lc.season == 1
            assert np.nanmin(lc.mjds) == pytest.approx(1325.296 + 2457000 - 2400000.5, abs=0.01)
            assert detections, "the flare star's flares are found"
        finally:
            container.database().close()
