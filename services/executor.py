"""Batch executors: where a run's batches are processed (this process, or a cluster's workers)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from virtualobserver.domain.source import Source
from virtualobserver.services.collector import fewer_collections
from virtualobserver.services.stages import StageResult

__all__ = ["BatchExecutor", "BatchOutcome", "InProcessExecutor", "pack_batch", "run_batch_task", "unpack_batch",
           "worker_project"]

_FIELDS = ("name", "ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax", "project", "epoch")


@dataclass
class BatchOutcome:
    """What one batch did, sent back from wherever it ran (picklable).

    Attributes
    ----------
    results : dict
        ``(survey, stage)`` -> :class:`StageResult` of the batch.
    new_sources : int
        Sources the batch added to the project.
    parts : list
        ``(survey, version, name, key, histograms)`` of the histogram parts the batch committed, so that
        the driver merges them later without reading them back (see ``BatchCarry.parts``).
    pid : int
        Process id of the process that ran the batch (the run counts the processes its batches ran in).
    """

    results: dict[tuple[str, str], StageResult] = field(default_factory=dict)
    new_sources: int = 0
    parts: list[tuple] = field(default_factory=list)
    pid: int = 0


class BatchExecutor(abc.ABC):
    """Runs a function over a run's batches and yields each outcome as it completes (in any order).

    Every batch is one transaction per step that skips what was committed, so an executor may run
    a batch again after losing it (a dead worker) without duplicating anything.
    """

    #: Whether ``fn`` runs in this process (it may then be any callable; otherwise it must pickle).
    in_process: bool = True
    #: Whether a run of a single batch should run in this process instead (an executor whose start costs
    #: more than one batch, chosen automatically rather than asked for).
    single_batch_in_process: bool = False

    @abc.abstractmethod
    def map_batches(self, fn: Callable, batches: Iterable) -> Iterator:
        """Yield ``fn(batch)`` for every batch, as each completes.

        Parameters
        ----------
        fn : callable
            Processes one batch and returns its :class:`BatchOutcome`.
        batches : iterable
            The batches (lists of sources).

        Yields
        ------
        BatchOutcome
            One per batch; the first failure that is not a lost worker is raised.
        """

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the executor's resources (a cluster it started)."""


class InProcessExecutor(BatchExecutor):
    """One batch after another in this process: the default, and today's behaviour."""

    in_process = True

    def map_batches(self, fn: Callable, batches: Iterable) -> Iterator:
        """Yield ``fn(batch)`` for every batch, in order.

        Parameters
        ----------
        fn : callable
            Processes one batch.
        batches : iterable
            The batches.

        Yields
        ------
        object
            Each batch's result.
        """
        for batch in batches:
            yield fn(batch)


# A worker process builds one project per (picklable) recipe and keeps it for its later batches:
# building it opens the database engine and reads the configuration, which costs more than a batch.
_PROJECTS: dict = {}


def run_batch_task(make_project: Callable, mode: str, batch) -> BatchOutcome:
    """Run one batch end to end in a worker process, on the project ``make_project()`` builds there.

    Parameters
    ----------
    make_project : callable
        Picklable and hashable recipe returning a :class:`~services.project.Project` wired in this process.
    mode : str
        ``run`` (register, download, reduce, analyse, maybe simulate) or ``simulate``.
    batch : list of Source
        The batch.

    Returns
    -------
    BatchOutcome
        What the batch did.
    """
    with fewer_collections():
        return worker_project(make_project).run_batch(unpack_batch(batch), mode)


def worker_project(make_project: Callable):
    """Return this process's project for ``make_project``, building it on first use.

    Parameters
    ----------
    make_project : callable
        Picklable and hashable recipe (see :func:`run_batch_task`).

    Returns
    -------
    Project
        The project wired in this process.
    """
    project = _PROJECTS.get(make_project)
    if project is None:
        project = _PROJECTS[make_project] = make_project()
    return project


def pack_batch(batch) -> list[tuple]:
    """Return a batch's sources as plain tuples, to send to another process.

    Sources are instrumented by the ORM mapping once a database is opened; plain values unpickle
    in any worker, mapped or not.

    Parameters
    ----------
    batch : list of Source
        The batch.

    Returns
    -------
    list of tuple
        The constructor fields, then the id, per source.
    """
    return [(*(getattr(s, f) for f in _FIELDS), s.id) for s in batch]


def unpack_batch(packed: list[tuple]) -> list[Source]:
    """Rebuild the sources of :func:`pack_batch`.

    Parameters
    ----------
    packed : list of tuple
        What :func:`pack_batch` returned.

    Returns
    -------
    list of Source
        The sources, with their ids.
    """
    sources = []
    for row in packed:
        source = Source(**dict(zip(_FIELDS, row[:-1])))
        source.id = row[-1]
        sources.append(source)
    return sources
