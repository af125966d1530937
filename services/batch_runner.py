"""Running batches: each batch goes through its steps in one process, under its lease, retried if the database drops."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from typing import TYPE_CHECKING

from virtualobserver.domain.analysis.analysis import HISTOGRAM_NAMES
from virtualobserver.domain.errors import DatabaseConnectionLost
from virtualobserver.services.batch_carry import BatchCarry
from virtualobserver.services.collector import fewer_collections
from virtualobserver.services.executor import BatchOutcome, InProcessExecutor, pack_batch, run_batch_task
from virtualobserver.services.histograms import compact_histograms
from virtualobserver.services.ports import AbstractUnitOfWork
from virtualobserver.services.simulate import EFFICIENCY, SIMULATE, simulate_batch
from virtualobserver.services.stages import ANALYSE, DOWNLOAD, REDUCE, StageResult, analyse_batch, download_batch, reduce_batch

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from virtualobserver.services.project import RunReport

__all__ = ["BatchRunnerMixin", "RUN", "SIMULATE_ONLY", "RECONNECT_DELAYS"]

#: Modes of :meth:`BatchRunnerMixin.run_batch`: the whole workflow, or simulation alone.
RUN, SIMULATE_ONLY = "run", "simulate"

#: Seconds to wait before each new attempt at a batch whose database connection broke (a restart takes seconds).
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class BatchRunnerMixin:
    """The batch loop of :class:`services.project.Project`: steps per batch, leases, executors, compaction.

    Expects the project's ``config``, ``name``, ``uow_factory``, ``store``, ``histogram_store``, ``clients``,
    ``mapper``, ``run_lock``, ``executor``, ``worker_recipe``, ``progress``, ``reconnect`` (a callable or None),
    ``_project_lock`` (None) and ``_part_sums`` (a dict).
    """

    def _stages(self, mode: str) -> dict[str, list[str]]:
        """Return the steps of ``mode`` per survey name."""
        if mode == SIMULATE_ONLY:
            return {s.name: [SIMULATE] for s in self.config.surveys}
        return {survey.name: [DOWNLOAD, REDUCE, ANALYSE] + ([SIMULATE] if survey.simulation.enabled else [])
                for survey in self.config.surveys}

    def _run_stages(self, batches, total: int, mode: str, report: RunReport) -> None:
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
        stages = self._stages(mode)
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
        stages = self._stages(mode)
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
