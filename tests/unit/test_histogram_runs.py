"""Histograms of disjoint runs add up to the histograms of one run over the union, bin for bin."""

import functools
import pickle

from virtualobserver.domain.config import build_config
from virtualobserver.services.executor import BatchExecutor
from virtualobserver.services.project import Project
from tests.factories import small_catalog
from tests.fakes import (
    FakeCatalogReader,
    FakeDataStore,
    FakeHistogramStore,
    FakeState,
    FakeSurveyClient,
    FakeUnitOfWork,
)

NAMES = ("scanned", "cut_offset", "cut_limiting_mag", "cut_chi", "cut_sharp")


def project(name, selection, state, store, histogram_store, simulation=False):
    document = {"project": {"name": name, "surveys": ["fake"], "batch_size": 3},
                "catalog": {"path": "cat.csv", "selection": selection},
                "observatories": {"histograms": {"filters": ["g"]},
                                  "simulation": {"enabled": simulation, "injections_per_source": 3,
                                                 "kinds": ["gaussian_bump", "box_dip"]}}}
    config = build_config(document, survey_parameters={"fake": FakeSurveyClient.parameters_class})
    return Project(config, uow_factory=lambda: FakeUnitOfWork(state), store=store,
                   catalog_reader=FakeCatalogReader(small_catalog(12)), histogram_store=histogram_store,
                   surveys={"fake": FakeSurveyClient})


def test_disjoint_halves_add_up_to_the_whole():
    state, store, histogram_store = FakeState(), FakeDataStore(), FakeHistogramStore()
    runs = {name: project(name, selection, state, store, histogram_store, simulation=True)
            for name, selection in (("a", "mag < 16.5"), ("b", "mag >= 16.5"), ("whole", ""))}
    for p in runs.values():
        p.run()
    assert runs["a"].status()["analysed"] + runs["b"].status()["analysed"] == runs["whole"].status()["analysed"] == 12
    for name in NAMES + ("efficiency",):
        a, b, whole = (runs[k].histograms(name) for k in ("a", "b", "whole"))
        assert a is not None and a.total(a.variables[0]) > 0
        assert a + b == whole, name
    scanned = runs["whole"].histograms("scanned")
    assert scanned.total("epochs") == sum(lc.num_good for lc in state.lightcurves
                                          if lc.source_id in {s.id for (p, _), s in state.sources.items()
                                                              if p == "whole"})


def test_rerun_does_not_count_twice():
    state, store, histogram_store = FakeState(), FakeDataStore(), FakeHistogramStore()
    first = project("p", "", state, store, histogram_store, simulation=True)
    first.run()
    before = {name: first.histograms(name) for name in NAMES + ("efficiency",)}
    project("p", "", state, store, histogram_store, simulation=True).run()
    assert {name: first.histograms(name) for name in before} == before


def test_simulated_detections_stay_out_of_default_counts():
    state, store, histogram_store = FakeState(), FakeDataStore(), FakeHistogramStore()
    plain = project("p", "", state, store, histogram_store)
    plain.run()
    real = plain.status()["detections"]
    report = project("p", "", state, store, histogram_store).simulate()
    status = plain.status()
    assert report.stages["simulate"].done == 12 and status["injections"] == 3 * 12
    assert status["detections_simulated"] > 0 and status["detections"] == real
    assert all(not d.is_simulated for d in state.detections if d.version == plain.config.surveys[0].analysis_version)


def test_compaction_keeps_the_sums_and_deletes_old_parts():
    state, store, histogram_store = FakeState(), FakeDataStore(), FakeHistogramStore()
    p = project("p", "", state, store, histogram_store, simulation=True)
    p.run()  # 12 sources in batches of 3: 4 parts per histogram, below the default threshold
    before = {name: p.histograms(name) for name in NAMES + ("efficiency",)}
    parts_before = len(histogram_store.files)
    assert p.compact(min_parts=20) == 0 and len(histogram_store.files) == parts_before
    assert p.compact(min_parts=2) == 4 * len(before)
    assert {name: p.histograms(name) for name in before} == before
    assert len(histogram_store.files) == len(before)  # one merged part each, old files deleted
    assert all(k.split("/")[-1].startswith("merged-") for k in histogram_store.files)


class _CountingStore(FakeHistogramStore):
    def __init__(self):
        super().__init__()
        self.loaded = []

    def load(self, key):
        self.loaded.append(key)
        return super().load(key)


def test_compaction_after_a_run_reads_back_only_the_parts_other_runs_wrote():
    state, store, histogram_store = FakeState(), FakeDataStore(), _CountingStore()
    project("p", "mag < 16.5", state, store, histogram_store, simulation=True).run()
    earlier = set(histogram_store.files)
    later = project("p", "", state, store, histogram_store, simulation=True)
    later.run()  # the rest of the catalog, in this process
    expected = {name: project("p", "", state, store, histogram_store).histograms(name) for name in NAMES + ("efficiency",)}
    histogram_store.loaded.clear()
    assert later.compact(min_parts=2) > 0
    assert set(histogram_store.loaded) == earlier  # its own parts came from memory
    assert {name: later.histograms(name) for name in expected} == expected
    assert later._batches._part_sums == {}  # merged away: the keys they covered are gone


def test_sums_of_a_run_are_kept_until_a_compaction_merges_them():
    state, store, histogram_store = FakeState(), FakeDataStore(), _CountingStore()
    p = project("p", "", state, store, histogram_store, simulation=True)
    p.run()  # 4 parts per histogram: below the threshold of the run's own compaction
    assert len(p._batches._part_sums) == len(NAMES) + 1
    histogram_store.loaded.clear()
    assert p.compact(min_parts=2) > 0 and histogram_store.loaded == []


class _PicklingExecutor(BatchExecutor):
    """Runs each batch as a worker would: the task and its outcome go through pickle."""

    in_process = False

    def map_batches(self, fn, batches):
        for batch in batches:
            yield pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(batch)))))


def test_parts_a_worker_wrote_come_back_with_its_outcome_and_are_not_read_back():
    state, store, histogram_store = FakeState(), FakeDataStore(), _CountingStore()
    worker = project("p", "", state, store, histogram_store, simulation=True)
    driver = project("p", "", state, store, histogram_store, simulation=True)
    driver.executor, driver.worker_recipe = _PicklingExecutor(), functools.partial(_same_project, worker)
    driver.run()
    assert len(worker._batches._part_sums) == 0 and len(driver._batches._part_sums) == len(NAMES) + 1
    expected = {name: project("p", "", state, store, histogram_store).histograms(name) for name in NAMES}
    histogram_store.loaded.clear()
    assert driver.compact(min_parts=2) > 0 and histogram_store.loaded == []
    assert {name: driver.histograms(name) for name in NAMES} == expected


def _same_project(project):
    return project
