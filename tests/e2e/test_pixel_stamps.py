"""Image stamps of detections from a target pixel file: persisted at analyse time, read back, exported, drawn, checked.

The project is the synthetic K2-layout file of ``test_pixel_ingest.py``: a target at pixel (5.2, 4.9) and a
neighbour at (7.0, 7.3) of an 11x11 cutout, the target flaring at cadences 200-204 and the neighbour (15
times brighter) at 400-404. Expected values come from that construction and from the FITS file read
with astropy, not from the code under test.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import _admin
from tests.e2e.helpers import vo, vo_json
from tests.e2e.test_pixel_ingest import EPIC_POSITION, write_two_star_tpf
from tests.e2e.test_real_surveys import write_config
from tests.integration.test_target_pixel_files import BKJD_TO_MJD, TPF_REAL

SOURCE = "EPIC211983544"
TARGET_PIXEL, NEIGHBOUR_PIXEL = (5.2, 4.9), (7.0, 7.3)
OFFLINE = ("--set", "observatories.k2.download.offline=true")


def detection_rows(url: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT d.id, d.kind, d.peak_mjd, d.start_mjd, d.end_mjd, d.stamps_file, d.stamps_key "
                "FROM detections d WHERE NOT d.is_simulated ORDER BY d.peak_mjd"))]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def project(tmp_path_factory, postgres_url):
    """The two-star project, its analysis killed once after its stamps file was written, then run to the end."""
    folder = tmp_path_factory.mktemp("stamps")
    name = f"vo_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        path = folder / TPF_REAL
        peaks = write_two_star_tpf(path)
        data = folder / "data"
        config = write_config(folder / "k2", "k2", [(SOURCE, *EPIC_POSITION), ("Elsewhere", 10.0, -10.0)])
        done = vo_json("ingest", str(config), "k2", str(path), data_dir=data, database_url=url)
        assert done["ingested"] == {SOURCE: [str(path)]}, done
        # SIGKILL at the first histogram part of the analysis: after the batch's stamps file is written,
        # before the detections pointing at it are committed.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("VO_FAULT", "netcdf.before_rename:1")
            killed = vo("run", str(config), *OFFLINE, data_dir=data, database_url=url)
        assert killed.returncode == -9, killed.stderr
        after_kill = {"files": sorted((data / "stamps").rglob("*.h5")), "rows": detection_rows(url)}
        # The catalog's other star has no data offline: a failed source, so `vo run` exits 4.
        vo_json("run", str(config), *OFFLINE, data_dir=data, database_url=url, code=4)
        yield {"config": config, "data": data, "url": url, "path": path, "peaks": peaks, "after_kill": after_kill}
    finally:
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_stamps(project):
    """Each real detection (from the database) with its stamps read through the project facade."""
    from virtualobserver.adapters.container import open_project

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(project["data"]))
        env.setenv("VO_DATABASE_URL", project["url"])
        container, facade = open_project(project["config"])
        try:
            rows = detection_rows(project["url"])
            return [(row, facade.detection_stamps(SOURCE, row[0])) for row in rows], facade.detection_stamps(
                SOURCE, max(row[0] for row in rows) + 1000), facade.detection_stamps("Elsewhere", rows[0][0])
        finally:
            container.database().close()


def flare_at(found, mjd):
    [item] = [(row, stamps) for row, stamps in found if row[1] == "brightening" and row[3] - 1e-6 <= mjd <= row[4] + 1e-6]
    return item


def brightest(image) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.nanargmax(image), image.shape))


def test_a_killed_analysis_left_its_stamps_file_but_no_detections_and_the_rerun_wrote_no_second_one(project):
    killed = project["after_kill"]
    assert len(killed["files"]) == 1 and killed["rows"] == []
    files = sorted((project["data"] / "stamps").rglob("*.h5"))
    rows = detection_rows(project["url"])
    # The resumed batch wrote the same content, hence the same file: no duplicate file, no duplicate row.
    assert files == killed["files"]
    keys = [(file, key) for *_, file, key in rows]
    assert len(set(keys)) == len(rows) >= 2
    assert {Path(file).name for file, _ in keys} == {files[0].name}


def test_every_real_detection_has_stamps_showing_the_light_on_the_star_that_flared(project):
    found, unknown_id, other_source = open_stamps(project)
    assert all(stamps is not None for _, stamps in found)
    assert unknown_id is None and other_source is None
    (_, own), (_, neighbours) = flare_at(found, project["peaks"]["target_peak"]), flare_at(
        found, project["peaks"]["neighbour_peak"])
    assert brightest(own.difference) == tuple(round(v) for v in TARGET_PIXEL)
    assert brightest(neighbours.difference) == tuple(round(v) for v in NEIGHBOUR_PIXEL)
    # The peak stamp is the frame of the file at the peak cadence (float32 as stored by the mission).
    with fits.open(project["path"]) as hdus:
        frames = np.asarray(hdus["TARGETTABLES"].data["FLUX"], dtype=np.float64)
        times = hdus["TARGETTABLES"].data["TIME"] + BKJD_TO_MJD
    for stamps, cadence in ((own, 200), (neighbours, 400)):
        assert stamps.peak_time == pytest.approx(times[cadence], abs=1e-9)
        np.testing.assert_array_equal(stamps.peak, frames[cadence])
        np.testing.assert_allclose(stamps.difference, stamps.peak - stamps.reference, atol=1e-3)
        assert stamps.target_pixel == pytest.approx(TARGET_PIXEL, abs=1e-6)
        assert stamps.time_scale == "tdb" and stamps.wcs_header["CTYPE1"] == "RA---TAN"
    # The reference is quiet: away from both flares the difference is noise (2 e-/s per pixel).
    assert np.nanmax(np.abs(own.difference[:3, :3])) < 10.0


def test_vo_export_stamps_writes_fits_cutouts_whose_wcs_puts_the_target_at_the_catalog_position(project, tmp_path):
    found, _, _ = open_stamps(project)
    out = tmp_path / "stamps"
    done = vo_json("export", str(project["config"]), "--what", "stamps", "--out", str(out), "--source", SOURCE,
                   data_dir=project["data"], database_url=project["url"])
    assert done["detections"] == len(found)
    catalog = SkyCoord(*EPIC_POSITION, unit="deg")
    for row, stamps in found:
        [path] = out.glob(f"*_det{row[0]}_stamps.fits")
        with fits.open(path) as hdus:
            assert [h.name for h in hdus] == ["PRIMARY", "REFERENCE", "PEAK", "DIFFERENCE"]
            primary = hdus[0].header
            assert (primary["OBJECT"], primary["DETID"], primary["TIMESYS"]) == (SOURCE, row[0], "TDB")
            assert primary["PEAKTIME"] == pytest.approx(stamps.peak_time, abs=1e-9)
            for hdu, stored in zip(hdus[1:], (stamps.reference, stamps.peak, stamps.difference)):
                np.testing.assert_array_equal(hdu.data, stored.astype(np.float32))
                # The FITS pixel (col + 1, row + 1) of the target; astropy's pixel_to_world is 0-based.
                sky = WCS(hdu.header).pixel_to_world(TARGET_PIXEL[1], TARGET_PIXEL[0])
                assert sky.separation(catalog).arcsec < 0.01
                neighbour = WCS(hdu.header).pixel_to_world(NEIGHBOUR_PIXEL[1], NEIGHBOUR_PIXEL[0])
                # 1.8 rows and 2.4 columns of 3.98 arcsec pixels away.
                assert neighbour.separation(catalog).arcsec == pytest.approx(3.98 * np.hypot(1.8, 2.4), rel=1e-3)
    # --source and --limit filter as for the other products.
    none = vo_json("export", str(project["config"]), "--what", "stamps", "--out", str(tmp_path / "none"),
                   "--source", "Elsewhere", data_dir=project["data"], database_url=project["url"])
    zero = vo_json("export", str(project["config"]), "--what", "stamps", "--out", str(tmp_path / "zero"),
                   "--limit", "0", data_dir=project["data"], database_url=project["url"])
    assert none["detections"] == zero["detections"] == 0
    unknown = vo("export", str(project["config"]), "--what", "stamps", "--out", str(tmp_path / "x"), "--source",
                 "Nobody", data_dir=project["data"], database_url=project["url"])
    assert unknown.returncode != 0 and "Nobody" in unknown.stderr


def test_vo_plot_stamps_draws_three_panels_per_detection(project, tmp_path):
    found, _, _ = open_stamps(project)
    out = tmp_path / "stamps.svg"
    done = vo_json("plot", str(project["config"]), "--source", SOURCE, "--stamps", "--out", str(out),
                   data_dir=project["data"], database_url=project["url"])
    assert done == {"what": "stamps", "output": str(out)}
    svg = out.read_text()
    for row, _ in found:
        for panel in ("reference", "peak", "difference"):
            assert svg.count(f'id="stamp:{row[0]}:{panel}"') == 1
    assert svg.count('id="stamp:') == 3 * len(found)
    png = tmp_path / "stamps.png"
    vo_json("plot", str(project["config"]), "--source", SOURCE, "--stamps", "--out", str(png),
            data_dir=project["data"], database_url=project["url"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rerun_does_not_remake_stamps_and_vo_doctor_reports_a_lost_stamps_file(project, tmp_path):
    # Last in this module: it takes the stamps file away.
    [file] = sorted((project["data"] / "stamps").rglob("*.h5"))
    healthy = vo_json("doctor", str(project["config"]), data_dir=project["data"], database_url=project["url"])
    assert healthy["healthy"], healthy
    moved = tmp_path / file.name
    shutil.move(file, moved)
    # At the same version the analysis is done: nothing is analysed again, so the file stays lost.
    vo_json("run", str(project["config"]), *OFFLINE, data_dir=project["data"], database_url=project["url"], code=4)
    assert not file.exists()
    checked = vo("doctor", str(project["config"]), "--json", data_dir=project["data"], database_url=project["url"])
    assert checked.returncode != 0
    report = json.loads(checked.stdout)
    [finding] = report["findings"]
    assert finding["kind"] == "missing" and finding["path"] == file.relative_to(project["data"]).as_posix()
    assert "image stamps" in finding["what"] and SOURCE in finding["what"]
    # A file that is there but lacks a detection's dataset is reported as well.
    with h5py.File(moved, "r") as original, h5py.File(file, "w") as broken:
        broken.create_dataset("index", data=original["index"][()])
    checked = vo("doctor", str(project["config"]), "--json", data_dir=project["data"], database_url=project["url"])
    [finding] = json.loads(checked.stdout)["findings"]
    assert finding["kind"] == "corrupt" and "no dataset" in finding["reason"]
    # The repair sets the broken file aside and the analysis to be done again: the next run makes the same stamps.
    rows = detection_rows(project["url"])
    repaired = vo("doctor", str(project["config"]), "--repair", "--json", data_dir=project["data"],
                  database_url=project["url"])
    assert repaired.returncode == 0, repaired.stderr
    assert not file.exists()
    vo_json("run", str(project["config"]), *OFFLINE, data_dir=project["data"], database_url=project["url"], code=4)
    with h5py.File(moved, "r") as before, h5py.File(file, "r") as after:  # the same name: the same content
        assert sorted(after) == sorted(before)
        for name in before:
            np.testing.assert_array_equal(after[name][()], before[name][()])
    assert detection_rows(project["url"]) == rows
    healthy = vo_json("doctor", str(project["config"]), data_dir=project["data"], database_url=project["url"])
    assert healthy["healthy"], healthy
