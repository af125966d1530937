"""Fixtures of the unit tests."""

import pytest

from tests.fakes import FakeSurveyClient


@pytest.fixture(autouse=True)
def fresh_fake_survey():
    """Every test starts and ends with a fake survey that fails for no source and has counted no download.

    ``FakeSurveyClient.failing`` and ``.downloads`` are class attributes (the project builds its own client
    instances); a test that sets them and stops before resetting them (an assertion, ``-x``) made a later
    test in the same process lose a source: mutmut's clean run, whose test order is its own, failed on
    ``test_histogram_runs.py::test_simulated_detections_stay_out_of_default_counts`` (11 of 12 simulated)
    after ``test_ingest.py::test_a_failed_download_is_cleared_by_an_ingest``.
    """
    FakeSurveyClient.failing, FakeSurveyClient.downloads = set(), []
    yield
    FakeSurveyClient.failing, FakeSurveyClient.downloads = set(), []
