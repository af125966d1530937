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
