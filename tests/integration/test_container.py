"""Wiring of the composition root: inputs reach the project; ports can be overridden with fakes."""

from pathlib import Path

from virtualobserver.adapters.container import build_container
from tests.factories import small_catalog
from tests.fakes import FakeCatalogReader

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def test_overrides_and_workers_reach_the_project_config():
    container = build_container(DEMO, {"observatories.analysis.threshold": 3.5, "project.batch_size": 7})
    config = container.project_config()
    assert config.surveys[0].analysis.threshold == 3.5 and config.batch_size == 7
    plain = build_container(DEMO).project_config()
    assert plain.surveys[0].analysis_version != config.surveys[0].analysis_version


def test_catalog_reader_can_be_overridden():
    container = build_container(DEMO)
    container.catalog_reader.override(FakeCatalogReader(small_catalog(3)))
    assert len(container.catalog_reader().read(None)) == 3


def test_each_survey_of_the_registry_is_the_client_of_that_name():
    # The registry names clients by module and class (so none is imported before it is used): each
    # name must lead to the client that calls itself so, with its own download parameters.
    from virtualobserver.adapters.surveys.registry import CLIENTS, SURVEYS, survey_parameters

    assert list(SURVEYS) == list(CLIENTS) == ["demo", "ztf", "tess", "kepler", "k2"]
    parameters = survey_parameters()
    for name in CLIENTS:
        assert SURVEYS[name].name == name
        assert parameters[name] is SURVEYS[name].parameters_class
    assert "hst" not in SURVEYS and "hst" not in parameters


def test_a_project_builds_only_its_own_survey_clients():
    container = build_container(Path(__file__).parents[2] / "configs" / "demo.yaml")
    factories = container.surveys()
    assert sorted(factories) == ["demo", "k2", "kepler", "tess", "ztf"]
    assert factories["demo"] is factories["demo"]  # made once, then kept
    from virtualobserver.adapters.surveys.demo import VirtualDemoObs

    assert factories["demo"] is VirtualDemoObs  # the demo keeps no raw cache: the class itself
