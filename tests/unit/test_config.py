"""Project configuration: precedence of general, per-survey and explicit values; clear errors."""

import pytest

from virtualobserver.domain.config import build_config
from virtualobserver.domain.errors import ConfigError
from tests.fakes import FakeSurveyParameters

SURVEYS = {"fake": FakeSurveyParameters, "other": FakeSurveyParameters}


def doc(**observatories):
    return {"project": {"name": "p", "surveys": ["fake", "other"]}, "catalog": {"path": "cat.csv"},
            "observatories": observatories}


def test_general_block_overridden_per_survey_then_by_arguments():
    cfg = build_config(
        doc(analysis={"threshold": 4.0, "extent_threshold": 1.0}, fake={"analysis": {"threshold": 6.0}}),
        survey_parameters=SURVEYS, overrides={"observatories.analysis.extent_threshold": 1.5},
    )
    fake, other = cfg.surveys
    assert (fake.analysis.threshold, other.analysis.threshold) == (6.0, 4.0)
    assert fake.analysis.extent_threshold == other.analysis.extent_threshold == 1.5
    explicit = build_config(doc(fake={"analysis": {"threshold": 6.0}}), survey_parameters=SURVEYS,
                            overrides={"observatories.fake.analysis.threshold": 7.0})
    assert explicit.surveys[0].analysis.threshold == 7.0


def test_versions_chain_and_change_with_science_parameters():
    base = build_config(doc(), survey_parameters=SURVEYS).surveys[0]
    changed = build_config(doc(analysis={"threshold": 4.0}), survey_parameters=SURVEYS).surveys[0]
    assert base.reduction_version == changed.reduction_version
    assert base.analysis_version != changed.analysis_version
    batch = build_config(doc(), survey_parameters=SURVEYS, overrides={"project.batch_size": 7}).surveys[0]
    assert batch.analysis_version == base.analysis_version


@pytest.mark.parametrize("document, key", [
    ({"project": {"name": "p"}, "catalog": {"path": "c"}, "extra": 1}, "extra"),
    ({"project": {"name": "p", "surveys": ["nope"]}, "catalog": {"path": "c"}}, r"project\.surveys\[0\]"),
    ({"project": {"name": "p", "surveys": ["fake"]}, "catalog": {"path": "c"},
      "observatories": {"fake": {"download": {"num_points": "many"}}}}, r"observatories\.fake\.download\.num_points"),
    ({"project": {"name": "p", "surveys": ["fake"]}, "catalog": {"path": "c", "columns": {"colour": "bp_rp"}}}, r"catalog\.columns\.colour"),
    ({"project": {"name": ""}, "catalog": {"path": "c"}}, r"project\.name"),
    ({"project": {"name": "p", "surveys": ["fake"]}}, r"catalog\.path"),
    ({"project": {"name": "p", "batch_size": 1.5}, "catalog": {"path": "c"}}, r"project\.batch_size"),
])
def test_bad_values_name_key_and_file(document, key):
    with pytest.raises(ConfigError, match=rf"my\.yaml: '{key}'"):
        build_config(document, survey_parameters=SURVEYS, source="my.yaml")


def test_catalog_path_resolves_against_config_folder():
    cfg = build_config(doc(), survey_parameters=SURVEYS, base_dir="/data/configs")
    assert cfg.catalog.path == "/data/configs/cat.csv"


def test_unsettable_override_is_an_error():
    with pytest.raises(ConfigError, match="not a settable key"):
        build_config(doc(), survey_parameters=SURVEYS, overrides={"analysis.threshold": 3})


def test_algorithm_version_bump_changes_downstream_versions(monkeypatch):
    from virtualobserver.domain import config as config_module

    def versions():
        survey = build_config(doc(), survey_parameters=SURVEYS).surveys[0]
        return survey.reduction_version, survey.analysis_version, survey.simulation_version

    before = versions()
    monkeypatch.setitem(config_module.ALGORITHMS, "analysis", "999")
    after = versions()
    assert after[0] == before[0] and after[1] != before[1] and after[2] != before[2]
