"""Ingesting files a user already has: matched to catalog sources, stored once, then reduced like downloads."""

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError, SurveyError
from tests.factories import small_catalog
from tests.fakes import FakeDataStore, FakeSurveyClient
from tests.unit.test_project import make_project


@pytest.fixture(autouse=True)
def reset_client():
    FakeSurveyClient.downloads = []
    FakeSurveyClient.failing = set()


def answer(tmp_path, name, ra, dec, n=30, start=59000.0):
    path = tmp_path / f"{name}.npz"
    mjd = start + np.arange(n, dtype=float)
    np.savez(path, mjd=mjd, mag=np.full(n, 17.0), magerr=np.full(n, 0.02), filter=np.array(["g"] * n),
             flag=np.zeros(n, int), exptime=np.full(n, 30.0), ra=ra, dec=dec)
    return path


def row(i):
    catalog = small_catalog(10)
    return catalog.columns["name"][i], catalog.columns["ra"][i], catalog.columns["dec"][i]


def test_file_becomes_raw_data_of_the_nearest_source_and_is_not_downloaded_again(tmp_path):
    project, state = make_project(store=FakeDataStore())
    name, ra, dec = row(3)
    path = answer(tmp_path, "mine", ra + 1.0 / 3600 / np.cos(np.radians(dec)), dec)  # 1 arcsec away
    report = project.ingest("fake", [path])
    assert report.ingested == {name: [str(path)]} and not report.failed
    project.run()
    assert name not in FakeSurveyClient.downloads and len(FakeSurveyClient.downloads) == 9
    status = project.status()
    assert status["reduced"] == 10 and status["analysed"] == 10
    lightcurves = project.source_lightcurves(name)
    assert sum(lc.num_epochs for lc, _ in lightcurves) == 30  # the ingested epochs, not a download's 60


def test_far_file_is_refused_with_its_position_and_nothing_is_stored(tmp_path):
    project, state = make_project()
    _, ra, dec = row(2)
    path = answer(tmp_path, "far", ra, dec + 0.01)  # 36 arcsec away
    report = project.ingest("fake", [path], radius_arcsec=5.0)
    assert list(report.failed) == [str(path)] and "within 5 arcsec" in report.failed[str(path)]
    assert f"{dec + 0.01:.6f}" in report.failed[str(path)]
    assert not report.ingested and project.status()["downloaded"] == 0


def test_several_files_of_one_source_are_combined_and_a_second_ingest_keeps_the_first(tmp_path):
    project, _ = make_project()
    name, ra, dec = row(5)
    first, second = answer(tmp_path, "a", ra, dec, n=10), answer(tmp_path, "b", ra, dec, n=12, start=59500.0)
    report = project.ingest("fake", [first, second])
    assert report.ingested == {name: [str(first), str(second)]}
    again = project.ingest("fake", [answer(tmp_path, "c", ra, dec, n=5)])
    assert again.kept == {name: [str(tmp_path / "c.npz")]} and not again.ingested
    project.run()
    assert sum(lc.num_epochs for lc, _ in project.source_lightcurves(name)) == 22


def test_explicit_source_name_and_unreadable_files(tmp_path):
    project, _ = make_project()
    name, _, _ = row(7)
    path = answer(tmp_path, "anywhere", 0.0, 0.0)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a numpy file")
    report = project.ingest("fake", [path, bad], source_name=name)
    assert report.ingested == {name: [str(path)]}
    assert "not a fake survey answer" in report.failed[str(bad)]
    # An unknown name is one error for the command, not one failure per file.
    with pytest.raises(DataError, match="^no selected catalog source named 'nobody' in project"):
        project.ingest("fake", [path, bad], source_name="nobody")


def test_unknown_survey_is_an_error(tmp_path):
    project, _ = make_project()
    with pytest.raises(Exception, match="not in project"):
        project.ingest("ztf", [answer(tmp_path, "x", 1.0, 1.0)])


def test_a_failed_download_is_cleared_by_an_ingest(tmp_path):
    project, state = make_project()
    name, ra, dec = row(4)
    FakeSurveyClient.failing = {name}
    project.run()
    assert project.status()["failed"] == 1
    project.ingest("fake", [answer(tmp_path, "rescue", ra, dec)])
    project.run()
    status = project.status()
    assert status["failed"] == 0 and status["analysed"] == 10


def test_surveys_without_file_support_say_so():
    from virtualobserver.adapters.surveys.demo import VirtualDemoObs

    with pytest.raises(SurveyError, match="survey 'demo' cannot ingest files"):
        VirtualDemoObs().parse_file("x")
