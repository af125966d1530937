"""DaskExecutor: a run's batches on Dask distributed workers (a local cluster, or an existing scheduler)."""

from __future__ import annotations

import itertools
import os
from typing import Callable, Iterable, Iterator

from virtualobserver.adapters.executors.local_cluster import start_local_cluster, warn_if_insecure
from virtualobserver.domain.errors import ConfigError
from virtualobserver.services.executor import BatchExecutor

__all__ = ["DaskExecutor"]


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    # A worker killed mid-task: the scheduler retries it itself a few times, then reports KilledWorker;
    # a connection dropped while the result travelled is CommClosedError (an OSError).
    return KilledWorker, CommClosedError


def _in_worker(fn: Callable, batch):
    # xarray asks dask for the current scheduler to choose the lock of its netCDF writes; inside a
    # worker that is the cluster, so each histogram write would take a distributed lock through the
    # scheduler (measured: a batch 1.5x slower). A batch is one process's work: local locks suffice.
    import dask

    with dask.config.set(scheduler="synchronous"):
        return fn(batch)


class DaskExecutor(BatchExecutor):
    """Runs each batch end to end as one task on a Dask worker; yields outcomes as they complete.

    Workers must reach the same PostgreSQL server and data folder as the driver (on one machine,
    the embedded server's unix socket). A batch whose worker died is submitted again, up to
    ``max_retries`` times: its committed steps are skipped, its uncommitted ones were rolled back by
    the server when the worker's connection closed. A local cluster speaks TLS with a certificate
    made for the run and listens on 127.0.0.1 only
    (:func:`adapters.executors.local_cluster.start_local_cluster`): other processes of the machine
    cannot connect, so they cannot run code in its workers.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes.
    scheduler : str, optional
        Address of an existing scheduler (``tls://HOST:PORT``; plain ``tcp://`` is warned about) instead.
    max_retries : int
        Resubmissions of one batch after lost workers before the run fails.
    dashboard : str, optional
        Address of the local cluster's dashboard (e.g. ``127.0.0.1:8787``); None: no dashboard.
    preflight : callable, optional
        Called as ``preflight(client, workers)`` before the first batch is submitted, with the addresses of
        every worker, and again for workers that joined since, before the next batch is submitted (e.g.
        :class:`adapters.executors.cluster_check.ClusterCheck`: each worker reaches the same database and
        data folder); what it raises stops the run (before any batch runs, for the workers at the start).
    single_batch_in_process : bool
        A run of one batch runs in the driver instead, without starting the cluster (for ``--workers auto``).
    """

    in_process = False

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None, max_retries: int = 3,
                 dashboard: str | None = None, preflight: Callable | None = None,
                 single_batch_in_process: bool = False):
        if (workers is None) == (scheduler is None):
            raise ConfigError("give either a number of local workers or a scheduler address")
        self.workers = workers
        self.scheduler = scheduler
        self.dashboard = dashboard
        self.max_retries = max_retries
        self.preflight = preflight
        self.single_batch_in_process = single_batch_in_process
        self._checked: set[str] = set()
        self._client = None
        self._cluster = None

    @property
    def client(self):
        """The ``distributed.Client``, starting the local cluster on first use."""
        if self._client is None:
            try:
                from distributed import Client
            except ImportError as exc:  # pragma: no cover - dask is a dependency
                raise ConfigError("dask[distributed] is needed for --workers > 1 and --scheduler") from exc
            if self.scheduler is not None:
                # Credentials of a secured cluster come from dask's configuration (see the README).
                warn_if_insecure(self.scheduler)
                self._client = Client(self.scheduler)
            else:
                # One thread per worker: batches hold the GIL for their numerics, so processes scale
                # where threads would not. TLS with a certificate of this run: no one else can connect.
                self._cluster, security = start_local_cluster(self.workers, self.dashboard)
                self._client = Client(self._cluster, security=security)
        return self._client

    def worker_pids(self) -> dict[str, int]:
        """Return the process id of every worker, by address (to watch or, in tests, to kill them)."""
        return self.client.run(os.getpid)

    def map_batches(self, fn: Callable, batches: Iterable) -> Iterator:
        """Submit ``fn(batch)`` per batch, a few per worker at a time, and yield results as they complete.

        Parameters
        ----------
        fn : callable
            Picklable; processes one batch in a worker.
        batches : iterable
            Picklable batches.

        Yields
        ------
        object
            Each batch's result, in completion order.

        Raises
        ------
        Exception
            The first failure of a batch that is not a lost worker, or a batch lost more than
            ``max_retries`` times.
        """
        from distributed import as_completed

        remaining = iter(batches)
        first = next(remaining, None)
        if first is None:  # a finished project: no cluster to start
            return
        remaining = itertools.chain([first], remaining)
        lost = _lost_worker_errors()
        client = self.client
        self._check_new_workers(client)  # before any batch is submitted: a mismatch stops the run with nothing done
        # Enough queued per worker that none idles while the driver handles a result, few enough
        # that a huge catalog is not materialised as futures all at once.
        window = 2 * max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        pending: dict = {}
        completed = as_completed()

        def submit(batch, tries: int) -> None:
            future = client.submit(_in_worker, fn, batch, pure=False)
            pending[future] = (batch, tries)
            completed.add(future)

        def submit_next() -> None:
            self._check_new_workers(client)
            batch = next(remaining, None)
            if batch is not None:
                submit(batch, 0)

        for _ in range(window):
            submit_next()
        try:
            for future in completed:
                batch, tries = pending.pop(future)
                try:
                    result = future.result()
                except lost:
                    if tries >= self.max_retries:
                        raise
                    submit(batch, tries + 1)
                    continue
                yield result
                submit_next()
        finally:
            # On a failure (or the caller stopping early) nothing is left running behind its back.
            for future in pending:
                future.cancel()

    def _check_new_workers(self, client) -> None:
        # A cluster may grow during a run (a batch system's workers arrive late, a nanny restarts a dead one at
        # a new address): each newcomer is checked before the next batch is submitted.
        if self.preflight is None:
            return
        current = set(client.scheduler_info(n_workers=-1)["workers"])
        new = sorted(current - self._checked)
        if new:
            try:
                self.preflight(client, new)
            except (TimeoutError, *_lost_worker_errors()):
                if not self._checked:  # at the start, every failure to check stops the run
                    raise
                # A newcomer gone again before it answered (a worker restarting): checked when it is back.
                return
            self._checked |= set(new)

    def close(self) -> None:
        """Close the client, and the local cluster if this executor started one."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
