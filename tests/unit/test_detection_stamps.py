"""Project.detection_stamps over fakes: the persisted stamps of a real detection, None otherwise."""

import numpy as np

from tests.tui.fake_project import ImagedFlareSurvey, make_project


def test_stamps_of_a_real_detection_come_from_the_frames_of_its_lightcurve():
    project, _ = make_project(n=12, simulate=True, survey=ImagedFlareSurvey)
    project.run()
    rows = [r for r in project.detections() if r.detection.centroid_offset_sigma is not None]
    assert rows
    for row in rows:
        d = row.detection
        stamps = project.detection_stamps(row.source, d.id)
        assert stamps is not None and stamps.shape == (11, 11) and stamps.target_pixel == (5.0, 5.0)
        # The peak frame is an epoch of the detection's own lightcurve inside the event.
        [(lc, _)] = [(lc, ds) for lc, ds in project.source_lightcurves(row.source) if any(x.id == d.id for x in ds)]
        assert stamps.peak_time in lc.mjds and d.start_mjd <= stamps.peak_time <= d.end_mjd
        np.testing.assert_allclose(stamps.difference, stamps.peak - stamps.reference)
    name = rows[0].source
    assert project.detection_stamps(name, 10**9) is None  # no such detection
    assert project.detection_stamps("no such source", rows[0].detection.id) is None
    simulated = project.detections(include_simulated=True)
    fake = next(r for r in simulated if r.detection.is_simulated)
    assert project.detection_stamps(fake.source, fake.detection.id) is None  # injected flux is in no image


def test_a_survey_without_images_has_no_stamps():
    project, _ = make_project(n=12)
    project.run()
    row = project.detections()[0]
    assert project.detection_stamps(row.source, row.detection.id) is None
