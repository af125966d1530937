"""Resuming on a real PostgreSQL never loses a source whose download failed.

Run 1 (new sources: each batch knows what its own steps did) and run 2 (resumed: the steps on record)
both fail to download the same sources; neither may mark them reduced or analysed, or run 3, after
the failures clear, would skip them for good with no lightcurves.
"""

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.adapters.surveys.demo import VirtualDemoObs
from virtualobserver.services.project import Project
from tests.e2e.helpers import write_project

ROWS = 12


def _project(path, session_factory, folder, failure_fraction: float) -> Project:
    # failure_fraction is not a science parameter: every run has the same versions.
    config = load_config(path, survey_parameters={"demo": VirtualDemoObs.parameters_class},
                         overrides={"observatories.demo.download.failure_fraction": failure_fraction})
    return Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(session_factory),
                   store=Hdf5DataStore(folder / "data"), catalog_reader=FileCatalogReader(),
                   histogram_store=NetCdfHistogramStore(folder / "data"), surveys={"demo": VirtualDemoObs})


def _done(project: Project, session_factory, stage: str, version: str) -> set[str]:
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        return uow.steps.done_names(project.name, stage, "demo", version)


def test_failed_downloads_stay_pending_through_a_resumed_run_and_are_processed_once_they_succeed(
        tmp_path, session_factory):
    path = write_project(tmp_path, rows=ROWS, batch_size=5, num_points=60)
    failed = None
    for run in range(2):
        project = _project(path, session_factory, tmp_path, failure_fraction=0.3)
        report = project.run()
        survey = project.config.surveys[0]
        failed = failed or set(report.stages["download"].failed)
        assert set(report.stages["download"].failed) == failed and 0 < len(failed) < ROWS  # the same each run
        # (A download is on record as its raw data, which status counts.)
        for stage, version in (("reduce", survey.reduction_version), ("analyse", survey.analysis_version)):
            done = _done(project, session_factory, stage, version)
            assert done.isdisjoint(failed) and len(done) == ROWS - len(failed), (run, stage)
        status = project.status()
        assert (status["downloaded"], status["reduced"], status["analysed"], status["failed"]) == (
            (ROWS - len(failed),) * 3 + (len(failed),))
    project = _project(path, session_factory, tmp_path, failure_fraction=0.0)
    report = project.run()
    assert [report.stages[s].done for s in ("download", "reduce", "analyse")] == [len(failed)] * 3
    status = project.status()
    assert (status["downloaded"], status["reduced"], status["analysed"], status["failed"]) == (ROWS, ROWS, ROWS, 0)
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        summaries = dict(uow.summaries.list(project.name, "demo", survey.analysis_version))
        assert set(summaries) >= failed
        assert all(summaries[name].num_lightcurves > 0 and summaries[name].num_epochs > 0 for name in failed)
        sources = uow.sources.get_many(project.name, sorted(failed))
        lightcurves = uow.lightcurves.for_sources([s.id for s in sources.values()], "demo", survey.reduction_version)
        assert all(lightcurves[s.id] for s in sources.values())
