"""Ports of pruning: the rows of one step version of a project, and the files that hold its arrays."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["STEPS", "StepVersion", "VersionRecords", "VersionFiles"]

#: The steps of a version chain, upstream first (the keys of a manifest's ``versions.<survey>``).
STEPS = ("download", "reduction", "analysis", "simulation")


@dataclass(frozen=True, order=True)
class StepVersion:
    """The version one step of one survey made its products at.

    Raw data (``download``) is shared by every project; the products of the other steps belong to a
    project. A version hash includes its survey and step, so ``version`` alone tells the rows apart.

    Attributes
    ----------
    survey : str
        Survey name.
    step : str
        One of :data:`STEPS`.
    version : str
        The step's version hash.
    """

    survey: str
    step: str
    version: str


class VersionRecords(abc.ABC):
    """The database rows of step versions: counted, listed, removed; one transaction.

    Used as a context manager, like a unit of work: leaving without :meth:`commit` discards
    every removal.
    """

    def __enter__(self) -> "VersionRecords":
        return self

    def __exit__(self, *exc_info) -> None:
        self.rollback()

    @abc.abstractmethod
    def rows(self, project: str, product: StepVersion) -> dict[str, int]:
        """Return how many rows of each kind the step version has in ``project`` (raw data: in all projects).

        Kinds: ``raw_data``, ``lightcurves``, ``detections`` (real), ``simulated_detections``,
        ``injections``, ``summaries``, ``histogram_parts``, ``steps`` (finished steps of sources)
        and ``failures``; every kind is present, zero where it has none.
        """

    @abc.abstractmethod
    def files(self, project: str, product: StepVersion) -> set[str]:
        """Return the files (relative to the data folder) that the step version's rows point at."""

    @abc.abstractmethod
    def raw_used_elsewhere(self, project: str, product: StepVersion, pruned: Sequence[str]) -> bool:
        """Whether a lightcurve outside ``project``'s reduction versions ``pruned`` was made from this raw data."""

    @abc.abstractmethod
    def referenced(self, paths: Iterable[str], project: str | None = None, versions: Sequence[str] = ()) -> set[str]:
        """Return the ``paths`` that some row points at, not counting the rows of ``project`` at ``versions``.

        Raw data at ``versions`` is not counted either (it belongs to no project).
        """

    @abc.abstractmethod
    def remove(self, project: str, product: StepVersion) -> dict[str, int]:
        """Remove the step version's rows in ``project`` (and, for ``download``, its raw data); return the counts.

        The counts have the kinds of :meth:`rows`; finished steps go with the products, so no run
        trusts a step whose products are gone.
        """

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the removals durable."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard the removals."""


class VersionFiles(abc.ABC):
    """The data folder's product files by version, and the manifests of every project's versions."""

    @abc.abstractmethod
    def manifests(self) -> list[dict]:
        """Return the own manifest of every version of every project (``project``, ``version``, ``versions``...)."""

    @abc.abstractmethod
    def folder_files(self, project: str, product: StepVersion) -> list[str]:
        """Return every file in the folders of the step version (temporary files of killed writers too)."""

    @abc.abstractmethod
    def size(self, path: str) -> int:
        """Return the size of ``path`` in bytes (0 if it does not exist)."""

    @abc.abstractmethod
    def remove(self, path: str) -> None:
        """Delete ``path`` (nothing if it is already gone) and the folders it leaves empty."""

    @abc.abstractmethod
    def remove_manifests(self, project: str, version: str) -> int:
        """Delete the manifests of a project's version and its folder if left empty; return how many went."""
