"""Kepler and K2 files a user has, through ``vo ingest`` and ``vo run``: synthetic files, and the real ones."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from tests.e2e.helpers import vo, vo_json
from tests.e2e.test_real_surveys import write_config
from tests.unit.test_kepler_format import BKJD_TO_MJD, K2_REAL, KEPLER_REAL, write_kepler_lc

KIC_POSITION = (287.86721, 46.98308)
EPIC_POSITION = (55.967295, 24.841616)


def test_ingested_synthetic_kepler_and_k2_files_flow_through_reduce_and_analyse(tmp_path, empty_database_url):
    data = tmp_path / "data"
    for survey, name, position, extra in (
            ("kepler", "kplr010002792-2010174085026_llc.fits", KIC_POSITION, {}),
            ("k2", "ktwo211117077-c04_llc.fits", EPIC_POSITION, {"kepler_id": 211117077, "mission": "K2",
                                                                "season": 4})):
        path = write_kepler_lc(tmp_path / name, ra=position[0], dec=position[1], **extra)
        config = write_config(tmp_path / survey, survey, [("Star", *position), ("Elsewhere", 10.0, -10.0)])
        done = vo_json("ingest", str(config), survey, str(path), data_dir=data, database_url=empty_database_url)
        assert done["ingested"] == {"Star": [str(path)]} and not done["failed"], done
        offline = ("--set", f"observatories.{survey}.download.offline=true")
        run = vo_json("run", str(config), *offline, data_dir=data, database_url=empty_database_url, code=4)
        assert run["status"]["analysed"] == 1 and run["status"]["lightcurves"] == 1
        assert "Elsewhere" in run["failures"] and "offline" in run["failures"]["Elsewhere"]


def test_a_file_of_the_wrong_mission_is_reported_not_ingested(tmp_path, empty_database_url):
    path = write_kepler_lc(tmp_path / "kplr010002792-2010174085026_llc.fits")
    config = write_config(tmp_path / "k2", "k2", [("Star", *KIC_POSITION)])
    done = vo("ingest", str(config), "k2", str(path), "--json", data_dir=tmp_path / "data",
              database_url=empty_database_url)
    assert done.returncode == 2, done.stderr  # bad input: a file that could not be ingested
    report = json.loads(done.stdout)
    assert not report["ingested"]
    assert "a Kepler file (MISSION keyword), not K2" in report["failed"][str(path)]


def test_real_files_ingested_reduce_as_lightkurve_reads_them(tmp_path, shared_data, empty_database_url):
    from virtualobserver.adapters.container import open_project

    lk = pytest.importorskip("lightkurve")
    data = tmp_path / "data"
    projects = {}
    for survey, name, source, position in (("kepler", KEPLER_REAL, "KIC10002792", KIC_POSITION),
                                           ("k2", K2_REAL, "EPIC211117077", EPIC_POSITION)):
        local = shutil.copy(shared_data / name, tmp_path / name)
        config = write_config(tmp_path / survey, survey, [(source, *position)])
        done = vo_json("ingest", str(config), survey, str(local), data_dir=data, database_url=empty_database_url)
        assert list(done["ingested"]) == [source], done
        run = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
        assert run["status"]["analysed"] == 1 and run["status"]["failed"] == 0
        projects[survey] = (config, source, name)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", empty_database_url)
        for survey, (config, source, name) in projects.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = lk.read(str(shared_data / name), quality_bitmask="default")
            container, project = open_project(config)
            try:
                [(lc, _)] = project.source_lightcurves(source)
            finally:
                container.database().close()
            assert (lc.survey, lc.filter, lc.time_scale, lc.times.scale) == (survey, "Kepler", "tdb", "tdb")
            assert lc.season == (5 if survey == "kepler" else 4)
            # Every cadence is kept; the searched ones are lightkurve's good cadences with a flux.
            assert lc.num_good == int(np.isfinite(theirs.flux.value).sum()) and lc.num_epochs > len(theirs)
            good = lc.flag == 0
            np.testing.assert_allclose(lc.mjds[good] - BKJD_TO_MJD,
                                       theirs.time.value[np.isfinite(theirs.flux.value)], rtol=0, atol=1e-8)
