"""`vo doctor`: orphans, missing and corrupt files found, repaired and re-made; a lost database rebuilt from files."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import create_engine, text

from virtualobserver.adapters.files.data_folder import ProductFolder
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.domain.lightcurve import Lightcurve
from tests.reliability.harness import TALLY, assert_nothing_lost, doctor_check, run_vo


def _copy_run(reference, tmp_path, module_database):
    """A finished run like the reference: its data folder copied and its database cloned."""
    data = tmp_path / "data"
    shutil.copytree(reference["data"], data)
    url = module_database()
    source = create_engine(reference["url"]).url.database
    target = create_engine(url).url.database
    admin = create_engine(create_engine(url).url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{target}"'))
        connection.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
    admin.dispose()
    return data, url


def _rows(url: str, sql: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_doctor_finds_repairs_and_the_next_run_remakes_everything(reference, module_database, tmp_path):
    config = reference["config"]
    data, url = _copy_run(reference, tmp_path, module_database)
    assert doctor_check(config, data, url).healthy

    # Damage of every kind: a lost lightcurve file, a cut raw file, a garbled histogram part, a cut epoch-score
    # file, an orphan and a temporary file left by a killed writer.
    lc_file = _rows(url, "SELECT file FROM lightcurves ORDER BY id LIMIT 1")[0][0]
    raw_file = _rows(url, f"SELECT file FROM raw_data WHERE file <> '{lc_file}' ORDER BY id DESC LIMIT 1")[0][0]
    part = _rows(url, "SELECT key FROM histogram_parts WHERE kind = 'scanned' ORDER BY id DESC LIMIT 1")[0][0]
    scores = sorted((data / "analysis").rglob("*.h5"))[-1]
    (data / lc_file).unlink()
    with open(data / raw_file, "r+b") as f:
        f.truncate(f.seek(0, 2) // 2)
    (data / f"{part}.nc").write_bytes(b"CDF\x01 not really netCDF")
    scores.write_bytes(scores.read_bytes()[:200])
    orphan = data / "raw" / "stray.h5"
    orphan.write_bytes(b"left over")
    temporary = data / "histograms" / ".x.nc.vo-tmp-elsewhere-999999999"
    temporary.write_bytes(b"half written")

    found = run_vo("doctor", str(config), "--json", data=data, url=url)
    assert found.returncode == 3, found.stderr
    kinds = {(f["kind"], f["path"]) for f in json.loads(found.stdout)["findings"]}
    assert ("missing", lc_file) in kinds and ("corrupt", raw_file) in kinds
    assert ("corrupt", f"{part}.nc") in kinds and ("corrupt", str(scores.relative_to(data))) in kinds
    assert ("orphan", "raw/stray.h5") in kinds and ("temporary", str(temporary.relative_to(data))) in kinds
    TALLY["doctor: damage kinds repaired"] += 6

    repaired = run_vo("doctor", str(config), "--repair", data=data, url=url)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    quarantined = {p.name for p in (data / "quarantine").rglob("*") if p.is_file()}
    assert {"stray.h5", temporary.name, scores.name} <= quarantined  # set aside, never deleted
    assert doctor_check(config, data, url).healthy  # what is left is consistent, if incomplete

    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(data / "quarantine")
    assert_nothing_lost(reference["snapshot"], config, data, url, "after repair")


def test_a_lost_database_is_rebuilt_from_the_files_and_a_run_finishes_the_rest(reference, module_database,
                                                                              tmp_path):
    config = reference["config"]
    data = tmp_path / "data"
    shutil.copytree(reference["data"], data)
    url = module_database()  # the database is gone: a new, empty one

    rebuilt = run_vo("doctor", str(config), "--rebuild-db", data=data, url=url)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    counts = _rows(url, "SELECT (SELECT count(*) FROM raw_data), (SELECT count(*) FROM lightcurves)")[0]
    assert counts == (reference["snapshot"]["counts"]["raw_data"], reference["snapshot"]["counts"]["lightcurves"])
    positions = "SELECT source_name, ra, dec FROM raw_data ORDER BY 1"  # not NaN: as the reference has them
    assert _rows(url, positions) == _rows(reference["url"], positions)

    done = run_vo("run", str(config), "--json", data=data, url=url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["download"]["done"] == 0 and report["reduce"]["done"] == 0  # nothing downloaded or reduced again
    assert report["analyse"]["done"] == 24
    repaired = run_vo("doctor", str(config), "--repair", data=data, url=url)  # old histogram parts set aside
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    shutil.rmtree(data / "quarantine", ignore_errors=True)
    assert_nothing_lost(reference["snapshot"], config, data, url, "after rebuild")
    TALLY["doctor: databases rebuilt from files"] += 1


def test_the_doctor_names_files_as_the_stores_do(tmp_path):
    store, folder = Hdf5DataStore(tmp_path), ProductFolder(tmp_path)
    lc = Lightcurve("demo", "g", 0, columns={"mjd": [1.0, 2.0], "flux": [1.0, 1.0], "fluxerr": [0.1, 0.1],
                                             "mag": [18.0, 18.0], "magerr": [0.1, 0.1], "flag": [0, 0],
                                             "filter": ["g", "g"], "exptime": [30.0, 30.0]})
    store.save_lightcurves("my project", "../odd/name", "v1", [lc])
    assert lc.file == folder.lightcurve_path("my project", "v1", "../odd/name")
    store.save_epoch_scores("my project", "../odd/name", "v1", {"g_season0": {"snr": [1.0, 2.0]}})
    assert (tmp_path / folder.scores_path("my project", "v1", "../odd/name")).is_file()
    assert folder.files() == sorted([lc.file, folder.scores_path("my project", "v1", "../odd/name")])
