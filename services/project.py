"""Project: runs the workflow (select, download, reduce, analyse) in batches and reports its state."""

from __future__ import annotations

from typing import Callable, Mapping

from virtualobserver.domain.catalog import STANDARD_COLUMNS
from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import ConfigError, VOError
from virtualobserver.domain.stamps import Stamps
from virtualobserver.services.ports import (
    AbstractUnitOfWork,
    CatalogReader,
    DataStore,
    HistogramStore,
    NullProgress,
    ProgressSink,
    RunLock,
    SurveyClient,
    batched,
)
from virtualobserver.services.export import EXPORTS, detection_rows
from virtualobserver.services.histograms import merged_histograms
from virtualobserver.services.executor import BatchExecutor, InProcessExecutor
from virtualobserver.services.simulate import EFFICIENCY, SIMULATE
from virtualobserver.services.stages import (
    ANALYSE,
    DOWNLOAD,
    REDUCE,
    StageResult,
    lightcurves_of,
)
from virtualobserver.services.targets import check_known_sources, selected_catalog
from virtualobserver.services.ingest import IngestReport, ingest_files
from virtualobserver.services.batch_runner import RUN, SIMULATE_ONLY, BatchRunner, RunReport
from virtualobserver.services.browsing import Browsing
from virtualobserver.services.catalog_browser import CatalogPage, Cone
from virtualobserver.services.executor import BatchOutcome
from virtualobserver.services.triage import DetectionRow
from virtualobserver.services.provenance import record_manifest
from virtualobserver.services.provenance_ports import ManifestStore
from virtualobserver.services.rates import event_rate
from virtualobserver.services.status import project_status

__all__ = ["Project", "RunReport"]



class Project:
    """The workflow of one project configuration over ports.

    Every step skips what is already done at the current version, and each
    batch of each step is one transaction whose files are written before the
    commit, so a run killed at any moment resumes without duplicates.

    Parameters
    ----------
    config : ProjectConfig
        Validated configuration.
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Arrays on disk.
    catalog_reader : CatalogReader
        Reads the target catalog.
    histogram_store : HistogramStore
        Histogram files.
    surveys : mapping of str to type
        Survey client classes by configuration name.
    progress : ProgressSink, optional
        Receives progress events.
    mapper : callable, optional
        ``map``-like function for downloads (e.g. a thread pool's ``map``).
    run_lock : RunLock, optional
        Keeps a second run of the same project from starting while one works.
    manifest_store : ManifestStore, optional
        Keeps each version's manifest: resolved configuration, versions, code version, catalog hash.
    executor : BatchExecutor, optional
        Where batches run (default: one after another in this process).
    worker_recipe : callable, optional
        Picklable, hashable recipe building this project in another process; needed by executors
        that do not run in this process.
    reconnect : callable, optional
        Called before a batch whose database connection broke is tried again (restarts an
        embedded database server of this process that died).
    """

    def __init__(
        self,
        config: ProjectConfig,
        *,
        uow_factory: Callable[[], AbstractUnitOfWork],
        store: DataStore,
        catalog_reader: CatalogReader,
        histogram_store: HistogramStore,
        surveys: Mapping[str, type[SurveyClient]],
        progress: ProgressSink | None = None,
        mapper: Callable = map,
        run_lock: RunLock | None = None,
        manifest_store: ManifestStore | None = None,
        executor: BatchExecutor | None = None,
        worker_recipe: Callable | None = None,
        reconnect: Callable[[], None] | None = None,
    ):
        self.config = config
        self.uow_factory = uow_factory
        self.store = store
        self.catalog_reader = catalog_reader
        self.histogram_store = histogram_store
        self.manifest_store = manifest_store
        self._batches = BatchRunner(
            config, uow_factory=uow_factory, store=store, histogram_store=histogram_store,
            clients={s.name: surveys[s.name](s.download) for s in config.surveys},
            progress=progress or NullProgress(), mapper=mapper, run_lock=run_lock,
            executor=executor or InProcessExecutor(), worker_recipe=worker_recipe, reconnect=reconnect)
        self._browsing = Browsing(config, uow_factory=uow_factory, store=store, catalog_reader=catalog_reader,
                                  survey=self._survey)

    @property
    def name(self) -> str:
        """Project name."""
        return self.config.name

    @property
    def clients(self):
        """Survey clients by survey name (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.clients

    @clients.setter
    def clients(self, value) -> None:
        self._batches.clients = value

    @property
    def progress(self):
        """Receives progress events (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.progress

    @progress.setter
    def progress(self, value) -> None:
        self._batches.progress = value

    @property
    def mapper(self):
        """``map``-like function for downloads (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.mapper

    @mapper.setter
    def mapper(self, value) -> None:
        self._batches.mapper = value

    @property
    def run_lock(self):
        """Keeps a second run of the project out (None: no lock) (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.run_lock

    @run_lock.setter
    def run_lock(self, value) -> None:
        self._batches.run_lock = value

    @property
    def executor(self):
        """Where batches run (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.executor

    @executor.setter
    def executor(self, value) -> None:
        self._batches.executor = value

    @property
    def worker_recipe(self):
        """Builds this project in another process (None: none) (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.worker_recipe

    @worker_recipe.setter
    def worker_recipe(self, value) -> None:
        self._batches.worker_recipe = value

    @property
    def reconnect(self):
        """Called before a batch whose database connection broke is tried again (None: nothing) (held by the project's :class:`~services.batch_runner.BatchRunner`)."""
        return self._batches.reconnect

    @reconnect.setter
    def reconnect(self, value) -> None:
        self._batches.reconnect = value

    def run(self, limit: int | None = None) -> RunReport:
        """Select targets, then download, reduce, analyse (and simulate, if enabled) them in batches.

        Parameters
        ----------
        limit : int, optional
            Process only the first ``limit`` selected sources.

        Returns
        -------
        RunReport
            What was done, skipped and failed.
        """
        report = RunReport()
        catalog = selected_catalog(self.config, self.catalog_reader).with_columns(STANDARD_COLUMNS)
        # Before anything is written: what killed runs left half-written goes (only dead writers' temporaries).
        self.store.sweep_interrupted()
        check_known_sources(catalog, self.name, self.uow_factory, limit)  # before anything is recorded
        self._record_manifest()
        report.selected = len(catalog) if limit is None else min(limit, len(catalog))
        self.progress.message(f"project {self.name}: {report.selected} sources selected")

        stages = self._batches.stages(RUN)
        finished = self._finished_names(stages)
        batches = self._unfinished_batches(catalog, limit, finished, stages, report)
        self._batches.run_stages(batches, report.selected, RUN, report)
        return report

    def _finished_names(self, stages: dict[str, list[str]]) -> set[str]:
        """Return the names of the project's sources that have every step done at the current versions in every survey.

        Every step counts, not only the last: a repair (``vo doctor --repair``) takes out what an
        earlier step made (raw data, an analysis) and leaves later steps on record, and such a
        source still has work. One query per step and survey, so that a resumed run passes over
        finished batches without a query each.
        """
        versions = {REDUCE: "reduction_version", ANALYSE: "analysis_version", SIMULATE: "simulation_version"}
        finished = None
        with self.uow_factory() as uow:
            for survey in self.config.surveys:
                for stage in stages[survey.name]:
                    if stage == DOWNLOAD:  # a download is done when its raw data is on record
                        names = uow.raw_data.names_for_project(self.name, survey.name, survey.download_version)
                    else:
                        names = uow.steps.done_names(self.name, stage, survey.name, getattr(survey, versions[stage]))
                    finished = names if finished is None else finished & names
                    if not finished:
                        return set()
        return finished or set()

    def _unfinished_batches(self, catalog, limit: int | None, finished: set[str], stages: dict[str, list[str]],
                            report: RunReport):
        """Yield the catalog's batches that hold work; count the finished ones as skipped (and report progress)."""
        size = self.config.batch_size
        end = len(catalog) if limit is None else min(limit, len(catalog))
        names = catalog.columns["name"]
        for start in range(0, end, size):
            stop = min(start + size, end)
            if finished and all(str(name) in finished for name in names[start:stop]):
                for survey in self.config.surveys:
                    for stage in stages[survey.name]:
                        report.stages.setdefault(stage, StageResult()).skipped += stop - start
                        self.progress.advance(f"{survey.name}:{stage}", 0, skipped=stop - start)
                continue
            yield catalog.sources(self.name, start, stop)

    def _record_manifest(self) -> None:
        # Before the version's first product: written once per version; an identical manifest is left as it is
        # and a different one never replaces it, so every product can be traced to how it was made.
        if self.manifest_store is not None:
            record_manifest(self.config, self.manifest_store)

    def simulate(self, limit: int | None = None) -> RunReport:
        """Run simulation mode alone over the project's analysed sources (whatever the ``enabled`` setting).

        Parameters
        ----------
        limit : int, optional
            Consider only the first ``limit`` sources of the project (by name).

        Returns
        -------
        RunReport
            What the simulate stage did.
        """
        report = RunReport()
        self._record_manifest()
        with self.uow_factory() as uow:
            sources = uow.sources.list(self.name, limit=limit)
        report.selected = len(sources)
        self._batches.run_stages(batched(sources, self.config.batch_size), len(sources), SIMULATE_ONLY, report)
        return report

    def _survey(self, name: str | None):
        """Return the configuration of survey ``name`` (default: the project's first survey)."""
        for survey in self.config.surveys:
            if name in (None, survey.name):
                return survey
        known = ", ".join(s.name for s in self.config.surveys)
        raise ConfigError(f"survey {name!r} is not in project {self.name!r} (it has: {known})")

    def histograms(self, name: str, survey: str | None = None):
        """Return the merged histogram ``name`` of the current analysis version (None if nothing analysed).

        Parameters
        ----------
        name : str
            ``scanned``, ``cut_offset``, ``cut_limiting_mag``, ``cut_chi``, ``cut_sharp`` or ``efficiency``.
        survey : str, optional
            Survey name (default: the first of the project).

        Returns
        -------
        Histograms or None
            The sum of every committed part.
        """
        config = self._survey(survey)
        version = config.simulation_version if name == EFFICIENCY else config.analysis_version
        with self.uow_factory() as uow:
            return merged_histograms(uow, self.histogram_store, self.name, config.name, version, name)

    def rate(self, kind: str, survey: str | None = None, *, labels: str = "not-artifact", confidence: float = 0.9,
             method: str = "feldman-cousins"):
        """Return the rate of events of ``kind`` per source per year, with its interval and inputs.

        Parameters
        ----------
        kind : str
            Event kind of the simulation (``flare``, ``gaussian_dip``, ...).
        survey : str, optional
            Survey name (default: the first of the project).
        labels : str
            Detections that count: ``not-artifact`` (default), ``real`` or ``all``.
        confidence : float
            Confidence level of the interval (default 0.9).
        method : str
            Interval of the count: ``feldman-cousins`` (default) or ``garwood``.

        Returns
        -------
        EventRate
            See :func:`services.rates.event_rate`.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            return event_rate(uow, self.name, config, kind, labels=labels, confidence=confidence, method=method)

    def summaries(self, survey: str | None = None, *, order_by: str = "best_snr", limit: int | None = 20):
        """Return (source name, SourceSummary) of the current analysis version, best first.

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the first of the project).
        order_by : str
            Summary field to sort by (descending; the signed ``best_snr`` by its absolute value).
        limit : int, optional
            Most rows returned.

        Returns
        -------
        list of tuple
            (name, summary) pairs.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            return uow.summaries.list(self.name, config.name, config.analysis_version, order_by=order_by,
                                      limit=limit)

    def source_lightcurves(self, name: str, survey: str | None = None, *, include_simulated: bool = False):
        """Return a source's loaded lightcurves, each with its detections (the data to judge them).

        Parameters
        ----------
        name : str
            Source name.
        survey : str, optional
            Survey name (default: the first of the project).
        include_simulated : bool
            Also return simulated detections (of the current simulation version).

        Returns
        -------
        list of tuple
            (Lightcurve with arrays loaded, list of Detection) per lightcurve; empty if not reduced.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            source = uow.sources.get_many(self.name, [name]).get(name)
            if source is None:
                return []
            own = lightcurves_of(uow, config, [source])[source.id]
            detections = uow.detections.for_sources([source.id], config.analysis_version).get(source.id, [])
            if include_simulated:
                detections += uow.detections.for_sources(
                    [source.id], config.simulation_version, include_simulated=True).get(source.id, [])
        loaded = self.store.load_lightcurves(own)
        return [(lc, [d for d in detections if d.lightcurve_id == lc.id]) for lc in loaded]

    def epoch_scores(self, name: str, survey: str | None = None) -> dict[str, dict]:
        """Return the saved per-epoch analysis products of a source, by lightcurve key.

        Parameters
        ----------
        name : str
            Source name.
        survey : str, optional
            Survey name (default: the first of the project).

        Returns
        -------
        dict
            Lightcurve key -> columns (``mjd``, ``snr``, ``delta_mag``, ``best_score``, ``best_width``,
            ``quality_flag``, ``cut_<name>``); empty if not analysed or not saved.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            source = uow.sources.get_many(self.name, [name]).get(name)
            file = None if source is None else uow.summaries.scores_file(source.id, config.name,
                                                                         config.analysis_version)
        if file:  # a batch file of the run's layout
            return self.store.load_epoch_scores_from(file, name)
        return self.store.load_epoch_scores(self.name, name, config.analysis_version)

    def ingest(self, survey: str, paths, *, source_name: str | None = None,
               radius_arcsec: float = 5.0) -> IngestReport:
        """Add survey files the user already has as raw data of the matching sources.

        Parameters
        ----------
        survey : str
            Survey the files come from (one of the project's).
        paths : sequence of path
            The files.
        source_name : str, optional
            Catalog source all files belong to (default: the nearest to each file's position).
        radius_arcsec : float
            Largest distance from a file's position to its source.

        Returns
        -------
        IngestReport
            Per source and file: ingested, kept (data already there) or failed.
        """
        config = self._survey(survey)
        return ingest_files(self.config, self.catalog_reader, self.uow_factory, self.store,
                            self.clients[config.name], config.name, paths, source_name=source_name,
                            radius_arcsec=radius_arcsec)

    def export(self, what: str, survey: str | None = None, *, include_simulated: bool = False) -> list[dict]:
        """Return the rows of a product table: ``detections``, ``injections`` or ``summaries``.

        Parameters
        ----------
        what : str
            Which table.
        survey : str, optional
            Survey name (default: the first of the project).
        include_simulated : bool
            For detections: add the simulated ones (marked); never included otherwise.

        Returns
        -------
        list of dict
            One row per item.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            if what == "detections":
                return detection_rows(uow, self.name, config, include_simulated=include_simulated)
            return EXPORTS[what](uow, self.name, config)

    def status(self, *, selected: bool = True) -> dict:
        """Return counts of the project's products at the current versions, over all sources and the selected ones.

        Parameters
        ----------
        selected : bool
            Also count over the sources the configuration selects (reads the catalog).

        Returns
        -------
        dict
            See :func:`services.status.project_status`: the top-level counts are over every source
            in the project, ``selected`` over the selection (None if not asked, or the catalog does not
            read: then ``selected_error`` says why).
        """
        names, error = None, None
        if selected:
            try:
                catalog = selected_catalog(self.config, self.catalog_reader)
                names = [str(name) for name in catalog.columns["name"]]
            except VOError as exc:  # the counts over the project are still worth showing
                error = str(exc)
        status = project_status(self.config, self.uow_factory, names)
        if error:
            status["selected_error"] = error
        return status

    # Batches: see services.batch_runner.BatchRunner.

    def run_batch(self, batch, mode: str = RUN) -> BatchOutcome:
        """Process one batch end to end under its lease: see :meth:`services.batch_runner.BatchRunner.run_batch`."""
        return self._batches.run_batch(batch, mode)

    def compact(self, min_parts: int = 20) -> int:
        """Merge the histogram parts of the current versions: see :meth:`services.batch_runner.BatchRunner.compact`."""
        return self._batches.compact(min_parts)

    # Browsing: see services.browsing.Browsing.

    def failures(self) -> list[dict]:
        """Return the current failures: see :meth:`services.browsing.Browsing.failures`."""
        return self._browsing.failures()

    def detections(self, survey: str | None = None, *, order_by: str = "snr", descending: bool | None = None,
                   include_simulated: bool = False, label: str | None = "any") -> list[DetectionRow]:
        """Return the detections with their triage labels: see :meth:`services.browsing.Browsing.detections`."""
        return self._browsing.detections(survey, order_by=order_by, descending=descending,
                                         include_simulated=include_simulated, label=label)

    def label_detections(self, labels: dict[int, str | None]) -> int:
        """Persist triage labels by detection id: see :meth:`services.browsing.Browsing.label_detections`."""
        return self._browsing.label_detections(labels)

    def detection_labels(self, detection_ids) -> dict[int, str]:
        """Return the triage labels of detections: see :meth:`services.browsing.Browsing.detection_labels`."""
        return self._browsing.detection_labels(detection_ids)

    def source_names(self, limit: int | None = 100_000) -> list[str]:
        """Return the names of the project's sources: see :meth:`services.browsing.Browsing.source_names`."""
        return self._browsing.source_names(limit)

    def detection_stamps(self, source_name: str, detection_id: int) -> Stamps | None:
        """Return a detection's stamps: see :meth:`services.browsing.Browsing.detection_stamps`."""
        return self._browsing.detection_stamps(source_name, detection_id)

    def browse_catalog(self, selection: str = "", cone: Cone | None = None, *, survey: str | None = None,
                       only: str | None = None, offset: int = 0, limit: int = 200) -> CatalogPage:
        """Return a page of the selected catalog rows: see :meth:`services.browsing.Browsing.browse_catalog`."""
        return self._browsing.browse_catalog(selection, cone, survey=survey, only=only, offset=offset, limit=limit)

    def source(self, name: str):
        """Return the persisted source ``name``: see :meth:`services.browsing.Browsing.source`."""
        return self._browsing.source(name)

    def projects(self):
        """Return every project in the database with its counts: see :meth:`services.browsing.Browsing.projects`."""
        return self._browsing.projects()
