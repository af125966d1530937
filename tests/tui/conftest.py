"""Fixtures of the TUI tests: the fake surveys' class-level state is reset for every test."""

import pytest

from tests.fakes import FakeSurveyClient
from tests.tui.fake_project import FlareSurvey


@pytest.fixture(autouse=True)
def reset_survey():
    """Forget downloads and failing names left by another test."""
    FakeSurveyClient.downloads = []
    FakeSurveyClient.failing = set()
    yield
    FakeSurveyClient.failing = set()
    FlareSurvey.__dict__.get("failing") is not None and delattr(FlareSurvey, "failing")
