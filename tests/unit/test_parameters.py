"""Parameters: defaults, validation with key and file in the message, versions."""

import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters
from virtualobserver.domain.errors import ConfigError
from virtualobserver.domain.reduction import ReductionParameters


def test_defaults_and_overrides():
    p = AnalysisParameters(threshold=4)
    assert p.threshold == 4.0 and isinstance(p.threshold, float)
    assert p.extent_threshold == AnalysisParameters.SPECS["extent_threshold"].default


def test_unknown_key_names_key_and_file():
    with pytest.raises(ConfigError, match=r"cfg\.yaml: 'observatories\.analysis\.treshold': unknown key"):
        AnalysisParameters.from_mapping({"treshold": 3}, source="cfg.yaml", prefix="observatories.analysis")


@pytest.mark.parametrize("value", ["5", True, [5], None])
def test_wrong_type_is_an_error(value):
    with pytest.raises(ConfigError, match="threshold.*expected float"):
        AnalysisParameters(threshold=value)


def test_range_and_choices():
    with pytest.raises(ConfigError, match="below the minimum"):
        ReductionParameters(season_gap_days=0.0)
    with pytest.raises(ConfigError, match="not one of"):
        AnalysisParameters(direction="sideways")


def test_version_follows_science_values_only():
    a, b = AnalysisParameters(), AnalysisParameters(threshold=4.0)
    assert a.version() != b.version()
    assert a.version() == AnalysisParameters().version()
