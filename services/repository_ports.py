"""Persistence ports: the repositories of each record kind and the unit of work that holds them."""

from __future__ import annotations

import abc
import datetime as _dt
from dataclasses import dataclass, field
from typing import Sequence

from virtualobserver.domain.detection import Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary
from virtualobserver.services.rate_ports import RateRepository

__all__ = [
    "SourceRepository",
    "RawDataRepository",
    "LightcurveRepository",
    "DetectionRepository",
    "StepRepository",
    "InjectionRepository",
    "SummaryRepository",
    "HistogramPartRepository",
    "TriageRepository",
    "TRIAGE_LABELS",
    "ProjectRecord",
    "ProjectRepository",
    "AbstractUnitOfWork",
]


class SourceRepository(abc.ABC):
    """Sources of projects; a name is unique within a project."""

    @abc.abstractmethod
    def add_many(self, project: str, sources: Sequence[Source]) -> int:
        """Insert the sources not yet in ``project``; return how many were new.

        Every given source gets the ``id`` of its stored row (new or not) and ``project``.
        """

    @abc.abstractmethod
    def get_many(self, project: str, names: Sequence[str]) -> dict[str, Source]:
        """Return the persisted sources of ``project`` with these names, by name."""

    @abc.abstractmethod
    def list(self, project: str, *, limit: int | None = None, offset: int = 0) -> list[Source]:
        """Return sources of ``project`` ordered by name."""

    @abc.abstractmethod
    def cone(self, project: str, ra: float, dec: float, radius_deg: float) -> list[tuple[Source, float]]:
        """Return the sources of ``project`` within ``radius_deg`` degrees of (ra, dec) and their distances.

        Returns
        -------
        list of tuple
            (Source, distance in degrees), nearest first.
        """

    @abc.abstractmethod
    def count(self, project: str) -> int:
        """Return the number of sources in ``project``."""

    #: Fields of a stored source that its products depend on (what :meth:`stored_values` returns).
    VALUE_FIELDS = ("ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax", "epoch")

    def stored_values(self, project: str, names: Sequence[str]) -> dict[str, tuple]:
        """Return the :data:`VALUE_FIELDS` of the sources of ``project`` with these names (those stored).

        Implementations should read only these columns; this default builds whole sources.

        Parameters
        ----------
        project : str
            Project name.
        names : sequence of str
            Source names; names not stored are left out of the answer.

        Returns
        -------
        dict of str to tuple
            Name to the values, in the order of :data:`VALUE_FIELDS` (None where not set).
        """
        found = self.get_many(project, names)
        return {name: tuple(getattr(source, f, None) for f in self.VALUE_FIELDS) for name, source in found.items()}


class RawDataRepository(abc.ABC):
    """Records of downloaded raw data, shared by all projects."""

    @abc.abstractmethod
    def get_many(self, survey: str, version: str, names: Sequence[str]) -> dict[str, RawData]:
        """Return records (arrays not loaded) for these source names, by name."""

    @abc.abstractmethod
    def add_many(self, raws: Sequence[RawData]) -> None:
        """Insert records; an existing (survey, source_name, version) is left as it is."""

    @abc.abstractmethod
    def count_for_project(self, project: str, survey: str, version: str) -> int:
        """Return how many sources of ``project`` have raw data of this version."""

    @abc.abstractmethod
    def names_for_project(self, project: str, survey: str, version: str) -> set[str]:
        """Return the names of the sources of ``project`` that have raw data of this version, in one query."""


class LightcurveRepository(abc.ABC):
    """Records of reduced lightcurves (arrays live in the DataStore)."""

    @abc.abstractmethod
    def add_many(self, lightcurves: Sequence[Lightcurve]) -> None:
        """Insert records; each has ``source_id``, ``version``, ``file`` and ``key`` set."""

    @abc.abstractmethod
    def for_sources(self, source_ids: Sequence[int], survey: str, version: str) -> dict[int, list[Lightcurve]]:
        """Return the lightcurves of these sources, by source id."""

    @abc.abstractmethod
    def count(self, project: str, version: str | None = None) -> int:
        """Return the number of lightcurves of ``project`` (of one version if given)."""

    def count_for_sources(self, source_ids: Sequence[int], survey: str, version: str) -> int:
        """Return how many lightcurves these sources have at ``version`` (adapters count without loading them)."""
        return sum(len(found) for found in self.for_sources(source_ids, survey, version).values())


class DetectionRepository(abc.ABC):
    """Detections; simulated ones are hidden unless asked for."""

    @abc.abstractmethod
    def add_many(self, detections: Sequence[Detection]) -> None:
        """Insert detections; each has ``source_id``, ``lightcurve_id`` and ``version`` set."""

    @abc.abstractmethod
    def list(
        self, project: str, version: str | None = None, *, include_simulated: bool = False
    ) -> list[Detection]:
        """Return detections of ``project``, ordered by source and peak time."""

    @abc.abstractmethod
    def count(self, project: str, version: str | None = None, *, include_simulated: bool = False) -> int:
        """Return the number of detections of ``project``."""

    @abc.abstractmethod
    def for_sources(self, source_ids: Sequence[int], version: str, *,
                    include_simulated: bool = False) -> dict[int, list[Detection]]:
        """Return the detections of these sources at ``version``, by source id, in peak-time order."""

    def count_for_sources(self, source_ids: Sequence[int], version: str, *, include_simulated: bool = False) -> int:
        """Return how many detections these sources have at ``version`` (adapters count without loading them)."""
        found = self.for_sources(source_ids, version, include_simulated=include_simulated)
        return sum(len(detections) for detections in found.values())


class StepRepository(abc.ABC):
    """Which sources finished which step at which version, and which failed."""

    @abc.abstractmethod
    def done(self, stage: str, survey: str, version: str, source_ids: Sequence[int]) -> set[int]:
        """Return the ids among ``source_ids`` that finished ``stage`` at ``version``."""

    @abc.abstractmethod
    def mark_done(self, stage: str, survey: str, version: str, counts: dict[int, int]) -> None:
        """Record that these sources finished ``stage``; ``counts`` maps source id to products made."""

    @abc.abstractmethod
    def count_done(self, project: str, stage: str, survey: str, version: str) -> int:
        """Return how many sources of ``project`` finished ``stage`` at ``version``."""

    @abc.abstractmethod
    def record_failures(self, stage: str, survey: str, version: str, messages: dict[int, str]) -> None:
        """Record (or update) failures, by source id."""

    @abc.abstractmethod
    def clear_failures(self, stage: str, survey: str, source_ids: Sequence[int]) -> None:
        """Forget failures of these sources at ``stage`` (they succeeded since)."""

    @abc.abstractmethod
    def failures(self, project: str) -> list[tuple[str, str, str, str, str]]:
        """Return (source name, stage, survey, version, message) of the current failures of ``project``."""

    @abc.abstractmethod
    def done_names(self, project: str, stage: str, survey: str, version: str) -> set[str]:
        """Return the names of the sources of ``project`` that finished ``stage`` at ``version`` (one query).

        A resumed run uses it to pass over whole batches that are done without asking again per batch.
        """


class InjectionRepository(abc.ABC):
    """Injected events (the truth of simulation mode) and their simulated detections."""

    @abc.abstractmethod
    def add_many(self, injections: Sequence[Injection]) -> None:
        """Insert injections (each with ``source_id``, ``lightcurve_id``, ``version``, ``sequence``).

        An injection's ``detection`` (if any) is inserted too, with ``is_simulated=True`` and
        ``injection_id`` pointing at it. Re-adding the same (source, version, sequence) is a no-op.
        """

    @abc.abstractmethod
    def list(self, project: str, version: str) -> list[Injection]:
        """Return the injections of ``project`` at ``version`` (detections not loaded)."""

    @abc.abstractmethod
    def count(self, project: str, version: str, *, recovered: bool | None = None) -> int:
        """Return how many injections (optionally only recovered or missed ones) ``project`` has."""

    def count_for_sources(self, project: str, version: str, source_ids: Sequence[int]) -> int:
        """Return how many injections these sources of ``project`` have at ``version`` (adapters count in SQL)."""
        chosen = set(source_ids)
        return sum(1 for injection in self.list(project, version) if injection.source_id in chosen)

    def for_sources(self, project: str, version: str, source_ids: Sequence[int]) -> list[Injection]:
        """Return the injections of these sources of ``project`` at ``version`` (adapters select in SQL)."""
        chosen = set(source_ids)
        return [injection for injection in self.list(project, version) if injection.source_id in chosen]


class SummaryRepository(abc.ABC):
    """Per-source summaries of an analysis version."""

    @abc.abstractmethod
    def upsert_many(self, summaries: Sequence[SourceSummary], *, scores_file: str | None = None) -> None:
        """Insert or replace summaries, keyed by (source_id, survey, version).

        ``scores_file`` is the file that holds these sources' per-epoch products (if saved in one).
        """

    @abc.abstractmethod
    def scores_file(self, source_id: int, survey: str, version: str) -> str | None:
        """Return the file of a source's per-epoch products recorded with its summary (None if none)."""

    @abc.abstractmethod
    def list(self, project: str, survey: str, version: str, *, order_by: str = "best_snr",
             limit: int | None = None) -> list[tuple[str, SourceSummary]]:
        """Return (source name, summary) pairs, best first by ``order_by`` (a summary field).

        Largest first, missing values last, ties by name; the signed ``best_snr`` ranks by its absolute
        value (the strongest event first, brightening or dimming).
        """


class HistogramPartRepository(abc.ABC):
    """Which histogram files (parts, one per committed batch) make up a product."""

    @abc.abstractmethod
    def add(self, project: str, survey: str, version: str, kind: str, key: str) -> None:
        """Record that the part stored under ``key`` belongs to (project, survey, version, kind)."""

    @abc.abstractmethod
    def keys(self, project: str, survey: str, version: str, kind: str) -> list[str]:
        """Return the keys of every recorded part, oldest first."""

    @abc.abstractmethod
    def replace(self, project: str, survey: str, version: str, kind: str, old: Sequence[str], new: str) -> None:
        """Swap parts ``old`` for one merged part ``new`` (compaction), in this transaction."""


#: Labels a person gives a detection when judging it (``None`` means not judged yet).
TRIAGE_LABELS = ("real", "artifact", "unsure")


class TriageRepository(abc.ABC):
    """The labels people gave detections (real, artifact, unsure); they survive re-analysis at a version."""

    @abc.abstractmethod
    def set_labels(self, labels: dict[int, str | None]) -> int:
        """Set (or, with ``None``, clear) the label of detections by id; return how many exist.

        Parameters
        ----------
        labels : dict
            Detection id -> one of :data:`TRIAGE_LABELS`, or None to forget the label.

        Returns
        -------
        int
            The number of detections found and changed (ids that do not exist are ignored).
        """

    @abc.abstractmethod
    def labels(self, detection_ids: Sequence[int]) -> dict[int, str]:
        """Return the labels of these detections by id (unlabelled ones are absent)."""

    @abc.abstractmethod
    def rows(self, project: str, version: str, *, include_simulated: bool = False,
             ) -> list[tuple[Detection, str, str | None, int | None, str | None]]:
        """Return the detections of ``project`` at ``version`` with what identifies them to a person.

        Parameters
        ----------
        project : str
            Project name.
        version : str
            Analysis (or simulation) version.
        include_simulated : bool
            Also return simulated detections (hidden otherwise).

        Returns
        -------
        list of tuple
            ``(detection, source name, filter, season, label)``, by source name and peak time.
        """


@dataclass
class ProjectRecord:
    """What the database holds for one project, over every version.

    Attributes
    ----------
    name : str
        Project name.
    created_at : datetime.datetime or None
        When its first source was stored.
    sources : int
        Sources of the project.
    steps : list of tuple
        ``(survey, stage, version, sources done)`` for every version any step ran at.
    detections : dict
        Analysis version -> real detections at that version.
    failures : int
        Current failures (any version).
    """

    name: str
    created_at: _dt.datetime | None = None
    sources: int = 0
    steps: list[tuple[str, str, str, int]] = field(default_factory=list)
    detections: dict[str, int] = field(default_factory=dict)
    failures: int = 0


class ProjectRepository(abc.ABC):
    """The projects of the database (for choosing one to open)."""

    @abc.abstractmethod
    def list(self) -> list[ProjectRecord]:
        """Return every project with its per-version step counts, by name."""


class AbstractUnitOfWork(abc.ABC):
    """One transaction over all repositories: commit makes every change durable together."""

    sources: SourceRepository
    raw_data: RawDataRepository
    lightcurves: LightcurveRepository
    detections: DetectionRepository
    steps: StepRepository
    injections: InjectionRepository
    summaries: SummaryRepository
    histogram_parts: HistogramPartRepository
    triage: TriageRepository
    projects: ProjectRepository
    rates: RateRepository

    def __enter__(self) -> "AbstractUnitOfWork":
        return self

    def __exit__(self, *exc_info) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make every change since the last commit durable."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard every change since the last commit."""
