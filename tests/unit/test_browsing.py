"""Project queries for people: detections with triage labels, catalog browsing with a cone, the workspace."""

import numpy as np
import pytest

from virtualobserver.domain.errors import ConfigError, DataError, SelectionError
from virtualobserver.domain.astrometry import angular_separation_deg as angular_separation
from virtualobserver.services.catalog_browser import Cone, parse_cone
from tests.fakes import FakeState
from tests.tui.fake_project import make_project, make_workspace


@pytest.fixture
def project():
    project, _ = make_project(n=12, simulate=True)
    project.run(limit=9)
    return project


def test_detections_sorted_three_ways_and_simulated_only_when_asked(project):
    rows = project.detections()
    assert rows and all(not r.detection.is_simulated for r in rows)
    assert [abs(r.detection.snr) for r in rows] == sorted((abs(r.detection.snr) for r in rows), reverse=True)
    by_time = project.detections(order_by="time")
    assert [r.detection.peak_mjd for r in by_time] == sorted(r.detection.peak_mjd for r in rows)
    by_source = project.detections(order_by="source", descending=True)
    assert [r.source for r in by_source] == sorted((r.source for r in rows), reverse=True)
    assert {r.filter for r in rows} <= {"g", "r"} and {r.season for r in rows} <= {0, 1}
    with_simulated = project.detections(include_simulated=True)
    assert len(with_simulated) > len(rows) and any(r.detection.is_simulated for r in with_simulated)
    with pytest.raises(DataError, match="cannot sort detections by 'mag'"):
        project.detections(order_by="mag")


def test_labels_persist_filter_and_reach_the_export(project):
    rows = project.detections()
    first, second = rows[0].id, rows[1].id
    assert project.label_detections({first: "real", second: "artifact"}) == 2
    assert project.label_detections({second: None}) == 1
    assert [r.id for r in project.detections(label="real")] == [first]
    assert len(project.detections(label=None)) == len(rows) - 1
    assert project.detections(order_by="label")[-1].id == first  # judged ones after the unjudged
    exported = project.export("detections")
    assert sorted(row["label"] for row in exported)[-1] == "real" and {row["label"] for row in exported} == {"", "real"}
    with pytest.raises(DataError, match="unknown label 'maybe'"):
        project.label_detections({first: "maybe"})
    with pytest.raises(DataError, match="no detection with id"):
        project.label_detections({10**9: "real"})
    assert project.detections(label="real")[0].label == "real"  # nothing changed by the failures


def test_catalog_page_flags_selection_cone_only_and_paging(project):
    page = project.browse_catalog()
    assert (page.catalog, page.selected, page.matching, len(page.rows)) == (12, 12, 12, 12)
    first, last = page.rows[0], page.rows[-1]
    assert first.in_project and first.has_data and first.lightcurves == 4 and first.analysed
    assert not last.in_project and not last.has_data and last.lightcurves == 0
    assert sum(r.detections for r in page.rows) == len(project.detections())
    assert [r.name for r in project.browse_catalog("mag < 15 or parallax > 9.5").rows] == ["S000", "S001", "S002",
                                                                                           "S011"]
    cone = project.browse_catalog(cone=Cone(1.0, -60.0, 30.0))
    assert [r.name for r in cone.rows][:1] == ["S000"] and cone.rows[0].separation == 0.0
    assert all(a.separation <= b.separation for a, b in zip(cone.rows, cone.rows[1:]))
    assert project.browse_catalog(only="data").matching == 9
    assert {r.name for r in project.browse_catalog(only="detections").rows} == {r.source for r in project.detections()}
    second = project.browse_catalog(offset=10, limit=5)
    assert [r.name for r in second.rows] == ["S010", "S011"] and second.offset == 10
    with pytest.raises(SelectionError):
        project.browse_catalog("magnitude < 3")
    with pytest.raises(SelectionError, match="only: expected"):
        project.browse_catalog(only="images")


@pytest.mark.parametrize("text, expected", [
    ("", None),
    ("150.1 2.2 0.5", Cone(150.1, 2.2, 0.5)),
    ("150.1, -2.2, 30arcmin", Cone(150.1, -2.2, 0.5)),
    ("10:00:24 +02:12:00 36\"", Cone(150.1, 2.2, 0.01)),
    ("10h00m24s 2d12m 1'", Cone(150.1, 2.2, 1 / 60)),
])
def test_parse_cone(text, expected):
    cone = parse_cone(text)
    if expected is None:
        assert cone is None
    else:
        assert np.allclose([cone.ra, cone.dec, cone.radius], [expected.ra, expected.dec, expected.radius])


@pytest.mark.parametrize("text, message", [
    ("150 2", "expected 'RA DEC RADIUS'"), ("150 95 1", "need"), ("150 2 0", "need"), ("x 2 1", "cannot read"),
    ("150 2 1parsec", "cannot read the radius"),
])
def test_parse_cone_refuses(text, message):
    with pytest.raises(SelectionError, match=message):
        parse_cone(text)


def test_angular_separation_is_exact_at_poles_and_antipodes():
    assert np.allclose(angular_separation(0, 90, 180, 89), 1.0)
    assert np.allclose(angular_separation(10, 0, 190, 0), 180.0)
    assert np.allclose(angular_separation(359.9, 0, 0.1, 0), 0.2)
    assert np.allclose(angular_separation(0, 60, 1, 60), 0.5, atol=1e-3)


def test_workspace_lists_configs_and_projects_and_opens_them():
    state = FakeState()
    make_project(state, n=4, name="demo")[0].run()
    workspace = make_workspace(state)
    configs = workspace.configs()
    assert [c.project for c in configs] == ["demo", "other", None]
    assert set(configs[0].versions["fake"]) == {"download", "reduce", "analyse", "simulate"}
    assert "expected int" in configs[2].error
    records = workspace.projects()
    assert [r.name for r in records] == ["demo"] and records[0].sources == 4
    assert {(stage, n) for _, stage, _, n in records[0].steps} == {("reduce", 4), ("analyse", 4)}
    opened = workspace.open("configs/other.yaml")
    assert opened.name == "other" and opened.status()["sources"] == 0
    with pytest.raises(ConfigError):
        workspace.open("configs/broken.yaml")
    assert opened.projects()[0].name == "demo"


def test_failures_at_the_current_version_only(project):
    from tests.fakes import FakeSurveyClient

    FakeSurveyClient.failing = {"S010"}
    try:
        project.run()
    finally:
        FakeSurveyClient.failing = set()
    assert project.failures() == [{"source": "S010", "stage": "download", "survey": "fake",
                                   "message": "no data for S010"}]
    assert project.status()["failures"] == project.failures()
    assert project.source("S010").name == "S010" and project.source("nope") is None


def test_detection_stamps_are_read_from_the_store_for_the_detection_that_points_at_them():
    from virtualobserver.domain.stamps import Stamps

    project, state = make_project(n=12)
    project.run(limit=9)
    rows = project.detections()
    first, second = rows[0], rows[1]
    # The flare survey has no images: no detection has stamps.
    assert project.detection_stamps(first.source, first.id) is None
    image = np.arange(6.0).reshape(2, 3)
    stamps = Stamps(reference=image, peak=image + 1, difference=np.ones((2, 3)), peak_time=1.0, reference_frames=3)
    project.store.files["stamps/f"] = {"s0": stamps}
    [stored] = [d for d in state.detections if d.id == first.id]
    stored.stamps_file, stored.stamps_key = "stamps/f", "s0"
    assert project.detection_stamps(first.source, first.id) is stamps
    assert project.detection_stamps(second.source, second.id) is None
    # Only under its own source, and never for an unknown source or id.
    other = next(r.source for r in rows if r.source != first.source)
    assert project.detection_stamps(other, first.id) is None
    assert project.detection_stamps("nobody", first.id) is None
    assert project.detection_stamps(first.source, 10**9) is None
