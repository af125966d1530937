"""Running batches: each batch goes through its steps in one process, under its lease, retried if the database drops."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from virtualobserver.domain.analysis.analysis import HISTOGRAM_NAMES
from virtualobserver.domain.errors import DatabaseConnectionLost
from virtualobserver.services.batch_carry import BatchCarry
from virtualobserver.services.collector import fewer_collections
from virtualobserver.domain.config import ProjectConfig
from virtualobserver.services.executor import BatchExecutor, BatchOutcome, InProcessExecutor, pack_batch, run_batch_task
from virtualobserver.services.histograms import compact_histograms
from virtualobserver.services.ports import (
    AbstractUnitOfWork,
    DataStore,
    HistogramStore,
    ProgressSink,
    RunLock,
    SurveyClient,
)
from virtualobserver.services.simulate import EFFICIENCY, SIMULATE, simulate_batch
from virtualobserver.services.stages import ANALYSE, DOWNLOAD, REDUCE, StageResult, analyse_batch, download_batch, reduce_batch

__all__ = ["BatchRunner", "RunReport", "RUN", "SIMULATE_ONLY", "RECONNECT_DELAYS"]

#: Modes of :meth:`BatchRunner.run_batch`: the whole workflow, or simulation alone.
RUN, SIMULATE_ONLY = "run", "simulate"

#: Seconds to wait before each new attempt at a batch whose database connection broke (a restart takes seconds).
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class RunReport:
    """What a run did, per stage (summed over surveys).

    Attributes
    ----------
    selected : int
        Sources selected from the catalog for this run.
    new_sources : int
        Sources added to the project by this run.
    stages : dict
        Stage name -> :class:`StageResult`.
    processes : set of int
        Process ids of the processes that ran the batches (this one, or the workers of a cluster); not in
        :meth:`as_dict`, which says what the run did, the same wherever it ran.
    """

    selected: int = 0
    new_sources: int = 0
    stages: dict[str, StageResult] = field(default_factory=dict)
    processes: set[int] = field(default_factory=set)

    @property
    def did_nothing(self) -> bool:
        """True when every selected source was already downloaded, reduced and analysed."""
        return self.new_sources == 0 and all(r.done == 0 and not r.failed for r in self.stages.values())

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary."""
        return {
            "selected": self.selected,
            "new_sources": self.new_sources,
            "nothing_to_do": self.did_nothing,
            **{
                stage: {"done": r.done, "skipped": r.skipped, "failed": len(r.failed), "products": r.products}
                for stage, r in self.stages.items()
            },
            "failures": {name: msg for r in self.stages.values() for name, msg in r.failed.items()},
        }


class BatchRunner:
    """The batch loop of a :class:`~services.project.Project`: steps per batch, leases, executors, compaction.

    The project holds one and forwards :meth:`run_batch` and :meth:`compact` to it; the parts a run
    may swap (``progress``, ``run_lock``, ``executor``, ``worker_recipe``, ``reconnect``) are
    attributes here, which the project's attributes of those names read and set.

    Parameters
    ----------
    config : ProjectConfig
        The project's configuration.
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Arrays on disk.
    histogram_store : HistogramStore
        Histogram files.
    clients : mapping of str to SurveyClient
        Survey clients by survey name.
    progress : ProgressSink
        Receives progress events.
    mapper : callable
        ``map``-like function for downloads.
    run_lock : RunLock or None
        Keeps a second run of the same project out; leases the batches.
    executor : BatchExecutor
        Where batches run.
    worker_recipe : callable or None
        Builds the project in another process (executors outside this one need it).
    reconnect : callable or None
        Called before a batch whose database connection broke is tried again.
    """

    def __init__(self, config: ProjectConfig, *, uow_factory: Callable[[], AbstractUnitOfWork], store: DataStore,
                 histogram_store: HistogramStore, clients: Mapping[str, SurveyClient], progress: ProgressSink,
                 mapper: Callable, run_lock: RunLock | None, executor: BatchExecutor,
                 worker_recipe: Callable | None, reconnect: Callable[[], None] | None):
        self.config = config
        self.uow_factory = uow_factory
        self.store = store
        self.histogram_store = histogram_store
        self.clients = clients
        self.progress = progress
        self.mapper = mapper
        self.run_lock = run_lock
        self.executor = executor
        self.worker_recipe = worker_recipe
        self.reconnect = reconnect
        self._project_lock = None  # the project's HeldLock while a run holds it
        # (survey, version, histogram name) -> keys and sum of the parts this run's batches wrote.
        self._part_sums: dict[tuple[str, str, str], tuple[frozenset[str], object]] = {}

    @property
    def name(self) -> str:
        """Project name."""
        return self.config.name

    def stages(self, mode: str) -> dict[str, list[str]]:
        """Return the steps of ``mode`` per survey name."""
        if mode == SIMULATE_ONLY:
            return {s.name: [SIMULATE] for s in self.config.surveys}
        return {survey.name: [DOWNLOAD, REDUCE, ANALYSE] + ([SIMULATE] if survey.simulation.enabled else [])
                for survey in self.config.surveys}

    def run_stages(self, batches, total: int, mode: str, report: RunReport) -> None:
        """Run the steps of ``mode`` over ``batches`` under the project lock, adding to ``report``; then compact."""
        # The project lock keeps a second driver out; each batch also takes its own lease (run_batch),
        # so the workers of one driver never serialise on the project lock.
        lock = self.run_lock.hold(self.name) if self.run_lock is not None else contextlib.nullcontext()
        with lock as held, fewer_collections():
            self._project_lock = held
            try:
                self._run_batches(batches, total, mode, report)
                self._keep_project_lock()
                # After every batch, in the driver: parts are per batch, so merging them later is exact.
                self.compact()
            finally:
                self._project_lock = None

    def _run_batches(self, batches, total: int, mode: str, report: RunReport) -> None:
        stages = self.stages(mode)
        for survey in self.config.surveys:
            for stage in stages[survey.name]:
                self.progress.start(f"{survey.name}:{stage}", total)
        executor = self.executor
        if not executor.in_process and executor.single_batch_in_process:
            # Peek at two batches: a run of one is not worth starting a cluster for.
            batches = iter(batches)
            head = list(itertools.islice(batches, 2))
            batches = itertools.chain(head, batches)
            if len(head) < 2:
                executor = InProcessExecutor()
        if executor.in_process:
            outcomes = executor.map_batches(lambda batch: self.run_batch(batch, mode), batches)
        else:
            if self.worker_recipe is None:
                raise ValueError("an executor outside this process needs the project's worker_recipe")
            work = functools.partial(run_batch_task, self.worker_recipe, mode)
            outcomes = executor.map_batches(work, (pack_batch(b) for b in batches))
        for outcome in outcomes:
            self._keep_project_lock()
            # Progress is reported where the outcomes arrive (the driver), whichever process did the work.
            report.new_sources += outcome.new_sources
            report.processes.add(outcome.pid)
            self._add_parts(outcome.parts)
            outcome.parts = []
            for (survey, stage), result in outcome.results.items():
                report.stages.setdefault(stage, StageResult()).add(result)
                self.progress.advance(f"{survey}:{stage}", result.done + len(result.failed),
                                      skipped=result.skipped, failed=len(result.failed))
        for survey in self.config.surveys:
            for stage in stages[survey.name]:
                self.progress.finish(f"{survey.name}:{stage}")

    def run_batch(self, batch, mode: str = RUN) -> BatchOutcome:
        """Process one batch end to end, holding its lease; a broken database connection is retried.

        Parameters
        ----------
        batch : list of Source
            The batch (catalog sources for ``run``; the project's persisted sources for ``simulate``).
        mode : str
            ``run`` or ``simulate``.

        Returns
        -------
        BatchOutcome
            What each step did, and how many sources were new.
        """
        return self._with_reconnects(lambda: self._leased_batch(batch, mode), "retrying the batch")

    def _with_reconnects(self, work, retrying: str):
        # A broken connection is retried after a back-off, bounded: each new attempt first restarts the
        # database server if it was ours and died (the project's reconnect hook; pooled connections are
        # checked before use) and takes the project lock again if its session died too (in the driver
        # only; a worker holds no project lock).
        for attempt in range(len(RECONNECT_DELAYS) + 1):
            try:
                if attempt:
                    if self.reconnect is not None:
                        self.reconnect()
                    self._project_lock_kept()
                return work()
            except DatabaseConnectionLost as exc:
                # Every step skips what was committed, so doing the batch again is safe.
                if attempt == len(RECONNECT_DELAYS):
                    raise DatabaseConnectionLost(f"the database stayed unreachable for {sum(RECONNECT_DELAYS):g} s "
                                                 f"after the connection was lost ({exc})") from exc
                self.progress.message(f"database connection lost ({exc}); {retrying}")
                time.sleep(RECONNECT_DELAYS[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def _project_lock_kept(self) -> None:
        if self._project_lock is not None:
            self._project_lock.keep()

    def _keep_project_lock(self) -> None:
        # Between batches: the lock's session may have died with a batch's (the server restarted).
        self._with_reconnects(self._project_lock_kept, "taking the project lock again")

    def _leased_batch(self, batch, mode: str) -> BatchOutcome:
        # The lease is a session-level advisory lock: a worker that dies mid-batch loses its
        # connection and with it the lease, so the batch's retry elsewhere never waits for a corpse,
        # while two live workers given the same batch do it one after the other (the second skips).
        lease = (self.run_lock.hold(f"{self.name}:batch:{batch[0].name}:{batch[-1].name}", wait=True)
                 if self.run_lock is not None and batch else contextlib.nullcontext())
        with lease:
            return self._run_batch(batch, mode)

    def _run_batch(self, batch, mode: str) -> BatchOutcome:
        outcome = BatchOutcome(pid=os.getpid())
        stages = self.stages(mode)
        carry = BatchCarry()
        with self.uow_factory() as uow:
            persisted = self._register(uow, batch, outcome) if mode == RUN else batch
            carry.fresh = mode == RUN and outcome.new_sources == len(batch)
            for survey in self.config.surveys:
                for stage in stages[survey.name]:
                    outcome.results[(survey.name, stage)] = self._step(stage, uow, survey, persisted, carry)
        outcome.parts = carry.parts
        return outcome

    def _add_parts(self, parts: list[tuple]) -> None:
        # Every step of the batch committed: its parts are on record. Their sums by product let the
        # compaction after the run skip reading back what this run's batches wrote, in this process or a
        # worker (parts of earlier runs are read). A part already counted (its batch done again) is not
        # added twice.
        sums = self._part_sums
        for survey, version, name, key, histograms in parts:
            keys, total = sums.get((survey, version, name), (frozenset(), None))
            if key not in keys:
                if total is None:
                    total = histograms.copy()
                else:
                    total += histograms
                sums[(survey, version, name)] = (keys | {key}, total)

    def _register(self, uow, batch, outcome: BatchOutcome):
        added = uow.sources.add_many(self.name, batch)
        outcome.new_sources += added
        uow.commit()
        if added == len(batch):
            # Every row is new, so it holds what these sources hold (add_many gave them their ids): no read back.
            return list(batch)
        persisted = uow.sources.get_many(self.name, [s.name for s in batch])
        return [persisted[s.name] for s in batch]

    def compact(self, min_parts: int = 20) -> int:
        """Merge the histogram parts of every product of the current versions (see ``compact_histograms``).

        Parameters
        ----------
        min_parts : int
            Only products with at least this many parts are merged.

        Returns
        -------
        int
            The number of parts merged away.
        """
        merged = 0
        for survey in self.config.surveys:
            products = [(survey.analysis_version, name) for name in HISTOGRAM_NAMES]
            products.append((survey.simulation_version, EFFICIENCY))
            for version, name in products:
                product = (survey.name, version, name)
                with self.uow_factory() as uow:
                    done = compact_histograms(uow, self.histogram_store, self.name, survey.name, version, name,
                                              min_parts=min_parts, known=self._part_sums.get(product))
                if done:  # the merged part replaced those keys
                    self._part_sums.pop(product, None)
                merged += done
        return merged

    def _step(self, stage: str, uow: AbstractUnitOfWork, survey, sources, carry: BatchCarry) -> StageResult:
        client = self.clients[survey.name]
        if stage == DOWNLOAD:
            return download_batch(uow, self.store, client, survey, sources, self.mapper, carry)
        if stage == REDUCE:
            return reduce_batch(uow, self.store, client, survey, self.name, sources, carry)
        if stage == ANALYSE:
            return analyse_batch(uow, self.store, self.histogram_store, survey, self.name, sources, carry, client)
        return simulate_batch(uow, self.store, self.histogram_store, survey, self.name, sources, carry)
