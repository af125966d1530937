"""Project.run and Project.status over fake adapters."""

import numpy as np
import pytest

from virtualobserver.domain.config import build_config
from virtualobserver.services.project import Project
from tests.factories import small_catalog
from tests.fakes import (
    FakeCatalogReader,
    FakeDataStore,
    FakeHistogramStore,
    FakeState,
    FakeStepRepository,
    FakeSurveyClient,
    FakeUnitOfWork,
)


def make_project(state=None, store=None, *, n=10, overrides=None, batch_size=4):
    document = {"project": {"name": "p", "surveys": ["fake"], "batch_size": batch_size},
                "catalog": {"path": "cat.csv", "selection": "mag < 30"}}
    config = build_config(document, survey_parameters={"fake": FakeSurveyClient.parameters_class},
                          overrides=overrides)
    state = state if state is not None else FakeState()
    return Project(config, uow_factory=lambda: FakeUnitOfWork(state), store=store or FakeDataStore(),
                   catalog_reader=FakeCatalogReader(small_catalog(n)), histogram_store=FakeHistogramStore(),
                   surveys={"fake": FakeSurveyClient}), state


@pytest.fixture(autouse=True)
def reset_client():
    FakeSurveyClient.downloads = []
    FakeSurveyClient.failing = set()


def test_run_downloads_reduces_analyses_every_source():
    project, state = make_project()
    report = project.run()
    assert report.selected == 10 and report.new_sources == 10
    assert [report.stages[s].done for s in ("download", "reduce", "analyse")] == [10, 10, 10]
    status = project.status()
    assert {k: status[k] for k in ("sources", "downloaded", "reduced", "analysed", "lightcurves", "failed")} == {
        "sources": 10, "downloaded": 10, "reduced": 10, "analysed": 10, "lightcurves": 10, "failed": 0}


def test_second_run_does_nothing():
    store = FakeDataStore()
    project, state = make_project(store=store)
    project.run()
    writes = store.writes
    again = make_project(state, store)[0].run()
    assert again.did_nothing and store.writes == writes and len(FakeSurveyClient.downloads) == 10
    assert [again.stages[s].skipped for s in ("download", "reduce", "analyse")] == [10, 10, 10]


def test_limit_then_full_run_resumes():
    project, state = make_project()
    project.run(limit=3)
    assert project.status()["analysed"] == 3
    report = make_project(state)[0].run()
    assert report.stages["download"].done == 7 and report.stages["download"].skipped == 3
    assert len(FakeSurveyClient.downloads) == 10


def test_changed_threshold_makes_new_analysis_version_only():
    store = FakeDataStore()
    project, state = make_project(store=store)
    project.run()
    changed, _ = make_project(state, store, overrides={"observatories.analysis.threshold": 2.0})
    report = changed.run()
    assert report.stages["download"].done == 0 and report.stages["reduce"].done == 0
    assert report.stages["analyse"].done == 10
    assert changed.status()["analysed"] == 10 and project.status()["analysed"] == 10
    new_version = changed.config.surveys[0].analysis_version
    assert new_version != project.config.surveys[0].analysis_version
    assert changed.status()["detections"] == sum(d.version == new_version for d in state.detections) > 0
    assert project.status()["detections"] == sum(d.version != new_version for d in state.detections)


def test_download_failures_recorded_and_retried():
    FakeSurveyClient.failing = {"S002", "S005"}
    project, state = make_project()
    report = project.run()
    assert set(report.stages["download"].failed) == {"S002", "S005"}
    status = project.status()
    assert status["failed"] == 2 and status["downloaded"] == 8 and status["analysed"] == 8
    assert {f["source"] for f in status["failures"]} == {"S002", "S005"}
    FakeSurveyClient.failing = set()
    make_project(state)[0].run()
    status = project.status()
    assert status["failed"] == 0 and status["analysed"] == 10


def test_a_batch_of_new_sources_asks_nothing_of_its_steps_and_a_resumed_one_asks(monkeypatch):
    # New sources have no steps on record: the batch knows what its own steps did. Failed downloads
    # must still keep their sources out of every later step.
    asked = []
    done = FakeStepRepository.done
    monkeypatch.setattr(FakeStepRepository, "done", lambda self, *a: asked.append(a[0]) or done(self, *a))
    FakeSurveyClient.failing = {"S002"}
    project, state = make_project(overrides={"observatories.simulation.enabled": True})
    report = project.run()
    assert asked == [] and report.stages["simulate"].done == 9 and "S002" in report.stages["download"].failed
    assert project.status()["analysed"] == 9 and len(state.steps) == 3 * 9
    FakeSurveyClient.failing = set()
    again = make_project(state, overrides={"observatories.simulation.enabled": True})[0].run()
    assert set(asked) == {"reduce", "analyse", "simulate"}
    assert again.stages["simulate"].done == 1 and again.stages["reduce"].skipped == 9
    assert len(state.steps) == 3 * 10


def test_batches_commit_separately():
    project, state = make_project(batch_size=3)
    project.run()
    assert len(state.steps) == 20  # reduce + analyse markers for every source


def test_source_lightcurves_returns_arrays_with_their_detections():
    store = FakeDataStore()
    project, state = make_project(store=store, overrides={"observatories.analysis.threshold": 2.0})
    project.run()
    with_detections = {d.source_id for d in state.detections}
    source = next(s for s in state.sources.values() if s.id in with_detections)
    views = project.source_lightcurves(source.name)
    assert views and all(lc.is_loaded and lc.flux.size == lc.num_epochs for lc, _ in views)
    found = [d for _, dets in views for d in dets]
    assert {d.id for d in found} == {d.id for d in state.detections if d.source_id == source.id}
    for lc, dets in views:
        assert all(d.lightcurve_id == lc.id and lc.mjds[0] <= d.peak_mjd <= lc.mjds[-1] for d in dets)
    assert project.source_lightcurves("no such source") == []


def test_unknown_survey_name_is_a_clear_error():
    from virtualobserver.domain.errors import ConfigError

    project, _ = make_project()
    with pytest.raises(ConfigError, match="survey 'ztf' is not in project 'p' \\(it has: fake\\)"):
        project.histograms("scanned", survey="ztf")


def test_failures_count_only_at_the_current_version():
    FakeSurveyClient.failing = {"S001"}
    store = FakeDataStore()
    other, state = make_project(store=store, overrides={"observatories.fake.download.num_points": 40})
    other.run()
    assert other.status()["failed"] == 1
    FakeSurveyClient.failing = set()
    current, _ = make_project(state, store)
    assert current.status()["failed"] == 0  # S001 failed only under other download parameters
    current.run()
    assert current.status()["failed"] == 0 and current.status()["downloaded"] == 10


def test_epoch_scores_are_saved_per_lightcurve_with_quality_flags():
    store = FakeDataStore()
    project, state = make_project(store=store)
    project.run()
    scores = project.epoch_scores("S003")
    own = [lc for lc in state.lightcurves if lc.source_id == state.sources[("p", "S003")].id]
    assert set(scores) == {lc.key for lc in own} and scores
    table = next(iter(scores.values()))
    assert {"mjd", "snr", "quality_flag", "cut_flag", "cut_offset", "best_score"} <= set(table)
    assert table["mjd"].size == table["snr"].size == table["quality_flag"].size
    assert np.isfinite(table["snr"][table["quality_flag"] == 0]).all()
    assert project.epoch_scores("no such source") == {}
    off, _ = make_project(FakeState(), FakeDataStore(), overrides={"observatories.analysis.save_epoch_scores": False})
    off.run()
    assert off.epoch_scores("S003") == {}


def _outcome(state):
    # Ids differ between the fakes of two histories: compare what was found and injected.
    return (sorted((round(d.peak_mjd, 9), d.kind, d.is_simulated) for d in state.detections),
            sorted((i.kind, round(i.peak_mjd, 9), i.recovered) for i in state.injections.values()))


def test_a_batch_hands_its_products_to_its_next_steps_without_reading_them_back():
    simulate = {"observatories.simulation.enabled": True}
    project, state = make_project(store=FakeDataStore(), overrides=simulate)
    project.run()
    assert project.store.reads == 0  # download -> reduce -> analyse -> simulate, all in memory
    assert len({i.source_id for i in state.injections.values()}) == 10

    # The same steps spread over two runs read the lightcurves back, and give the same outcome.
    split, split_state = make_project(store=FakeDataStore())
    split.run()
    again, _ = make_project(split_state, split.store, overrides=simulate)
    again.run()
    assert split.store.reads > 0
    assert _outcome(split_state) == _outcome(state)


def test_a_source_whose_download_keeps_failing_is_never_analysed_until_it_succeeds():
    # Run 1 is a batch of new sources (the batch's own record), run 2 a resumed one (the steps on
    # record): in both, a failed download must keep S003 out of reduce and analyse. Marking it
    # analysed with 0 lightcurves would lose it for good: run 3, after the failure clears, must
    # then download, reduce and analyse it fully.
    FakeSurveyClient.failing = {"S003"}
    project, state = make_project(n=6)
    for run in range(2):
        report = make_project(state, n=6)[0].run() if run else project.run()
        assert "S003" in report.stages["download"].failed
        done = {(stage, state.source_names("p")[i]) for (i, stage, _, _) in state.steps}
        assert {("download", "S003"), ("reduce", "S003"), ("analyse", "S003")}.isdisjoint(done), run
        status = project.status()
        assert (status["downloaded"], status["reduced"], status["analysed"], status["failed"]) == (5, 5, 5, 1)
    FakeSurveyClient.failing = set()
    report = make_project(state, n=6)[0].run()
    assert [report.stages[s].done for s in ("download", "reduce", "analyse")] == [1, 1, 1]
    status = project.status()
    assert (status["downloaded"], status["reduced"], status["analysed"], status["failed"]) == (6, 6, 6, 0)
    (s003,) = [s for (p, name), s in state.sources.items() if name == "S003"]
    assert [lc.source_id for lc in state.lightcurves].count(s003.id) == 1  # the fake survey: one filter
    version = project.config.surveys[0].analysis_version
    assert (s003.id, "analyse", "fake", version) in state.steps
    assert state.summaries[(s003.id, "fake", version)].num_lightcurves == 1  # analysed with its lightcurve
