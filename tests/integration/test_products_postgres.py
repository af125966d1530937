"""The Python API over a real PostgreSQL and HDF5: sources in batches, arrays read only when asked, labels."""

import numpy as np
import pytest

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.adapters.surveys.demo import VirtualDemoObs
from virtualobserver.services.products import Products
from virtualobserver.services.project import Project
from tests.e2e.helpers import write_project


class CountingStore(Hdf5DataStore):
    """The real HDF5 store, counting the lightcurves whose arrays it reads."""

    loaded = 0

    def load_lightcurves(self, lightcurves):
        type(self).loaded += len(lightcurves)
        return super().load_lightcurves(lightcurves)


@pytest.fixture
def project(tmp_path, session_factory):
    config = load_config(write_project(tmp_path, rows=14, batch_size=5),
                         survey_parameters={"demo": VirtualDemoObs.parameters_class})
    project = Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(session_factory),
                      store=CountingStore(tmp_path / "data"), catalog_reader=FileCatalogReader(),
                      histogram_store=NetCdfHistogramStore(tmp_path / "data"), surveys={"demo": VirtualDemoObs})
    project.run()
    CountingStore.loaded = 0
    return project


def test_sources_come_in_batches_and_arrays_only_when_asked(project):
    products = Products.of(project)
    seen = []
    for item in products.sources(batch_size=4):
        seen.append(item.source.name)
        assert item.lightcurves and not any(lc.is_loaded for lc in item.lightcurves)
        assert all(lc.num_epochs > 0 and lc.file for lc in item.lightcurves)  # the record's summary, no arrays
    assert seen == sorted(seen) and len(seen) == 14 and CountingStore.loaded == 0
    assert [i.source.name for i in products.sources(limit=6, batch_size=4)] == seen[:6]
    item = products.source(seen[3])
    loaded = products.load(item.lightcurves)
    assert CountingStore.loaded == len(loaded) and all(lc.is_loaded for lc in loaded)
    assert products.load(loaded) == loaded and CountingStore.loaded == len(loaded)  # not read twice
    own = dict((lc.key, lc) for lc, _ in project.source_lightcurves(seen[3]))
    for lc in loaded:
        np.testing.assert_array_equal(lc.flux, own[lc.key].flux)
    assert products.source("nobody") is None


def test_detections_come_with_their_labels_and_lightcurves(project):
    products = Products.of(project)
    rows = project.detections()
    assert rows, "the demo project should find events"
    project.label_detections({rows[0].id: "artifact"})
    found = {row.id: row for item in products.sources() for row in item.detections}
    assert set(found) == {row.id for row in rows}
    assert found[rows[0].id].label == "artifact" and all(found[r.id].label is None for r in rows[1:])
    item = products.source(rows[0].source)
    (lc,) = [lc for lc in item.lightcurves if lc.id == rows[0].detection.lightcurve_id]
    assert item.detections_of(lc)[0].id == rows[0].id
    table = products.table("detections")
    assert dict(zip(table["id"], table["label"]))[rows[0].id] == "artifact"
    assert set(table["file"]) <= {lc.file for i in products.sources() for lc in i.lightcurves}


def test_epoch_products_of_a_source_are_those_the_analysis_saved(project):
    products = Products.of(project)
    name = project.detections()[0].source
    item = products.source(name)
    scores = products.epoch_scores(item)
    saved = project.epoch_scores(name)  # the run's batch file, found through the source's summary
    assert set(scores) == set(saved) == {lc.key for lc in item.lightcurves}
    for lc in products.load(item.lightcurves):
        table = scores[lc.key]
        np.testing.assert_array_equal(table["quality_flag"], saved[lc.key]["quality_flag"])
        np.testing.assert_array_equal(table["mjd"], lc.mjds)
        assert table["trend"].shape == lc.mjds.shape and np.isfinite(table["trend"]).any()


def test_the_source_screen_reads_labels_and_names_through_the_project(project):
    # What the TUI's source screen and its palette read, on PostgreSQL: the labels of given detections
    # (unlabelled ones left out) and the registered sources' names, sorted.
    rows = project.detections()
    first, second = rows[0].id, rows[1].id
    project.label_detections({first: "real", second: "unsure"})
    project.label_detections({second: None})
    assert project.detection_labels([first, second]) == {first: "real"}
    assert project.detection_labels([]) == {}
    names = project.source_names()
    assert len(names) == 14 and names == sorted(names)
    assert project.source_names(limit=3) == names[:3]
