"""Abstract ports the services use; adapters implement them, fakes stand in for them in unit tests."""

from __future__ import annotations

import abc
import datetime as _dt
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from typing import TYPE_CHECKING, ContextManager

import numpy as np

from domain.catalog import Catalog, CatalogSpec
from domain.detection import Detection
from domain.errors import SurveyError
from domain.injection import Injection
from domain.lightcurve import Lightcurve
from domain.parameters import Parameters
from domain.rawdata import RawData
from domain.source import Source
from domain.summary import SourceSummary

if TYPE_CHECKING:  # the module is written by the science core; only names are needed here
    from domain.histograms import Histograms

__all__ = [
    "SurveyClient",
    "DataStore",
    "CatalogReader",
    "HistogramStore",
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
    "RunLock",
    "ProgressSink",
    "NullProgress",
]


class SurveyClient(abc.ABC):
    """A survey (the seed's ``VirtualObservatory``): downloads raw data and reduces it.

    Parameters
    ----------
    parameters : Parameters
        Download parameters, an instance of ``parameters_class``.
    """

    #: Configuration name of the survey.
    name: str = ""
    #: Parameters class of the download block of this survey.
    parameters_class: type[Parameters] = Parameters

    def __init__(self, parameters: Parameters | None = None):
        self.parameters = parameters if parameters is not None else self.parameters_class()

    @property
    def waits_on_network(self) -> bool:
        """Whether a download mostly waits (so that threads overlap downloads); archives do, a generator does not."""
        return True

    @abc.abstractmethod
    def download(self, source: Source) -> RawData:
        """Return the raw epoch table of one source.

        Parameters
        ----------
        source : Source
            Target to download.

        Returns
        -------
        RawData
            Columns as the survey delivers them (version is set by the caller).

        Raises
        ------
        SurveyError
            If the survey cannot deliver data for this source.
        """

    @abc.abstractmethod
    def reduce(self, raw: RawData, parameters: Parameters) -> list[Lightcurve]:
        """Turn raw data into uniform lightcurves (one per filter and season).

        Parameters
        ----------
        raw : RawData
            Loaded raw data of one source.
        parameters : Parameters
            Reduction parameters.

        Returns
        -------
        list of Lightcurve
            Possibly empty when no epoch survives.
        """


    def parse_file(self, path) -> RawData:
        """Read a survey answer the user already has (for ``vo ingest``).

        Parameters
        ----------
        path : str or pathlib.Path
            A file in the survey's own format.

        Returns
        -------
        RawData
            With ``source_name`` empty and ``ra``/``dec`` the position the file is about.

        Raises
        ------
        SurveyError
            If this survey cannot read files, or the file is not a valid answer.
        """
        raise SurveyError(f"survey {self.name!r} cannot ingest files")

    def combine(self, raws: Sequence[RawData]) -> RawData:
        """Merge several answers about one source (e.g. one TESS file per sector) into one.

        The default concatenates the epoch columns the answers share, keeps
        every image and lists each answer's metadata under ``"parts"``.

        Parameters
        ----------
        raws : sequence of RawData
            At least one answer, all for the same source.

        Returns
        -------
        RawData
            One epoch table.
        """
        if len(raws) == 1:
            return raws[0]
        shared = [name for name in raws[0].columns if all(name in r.columns for r in raws[1:])]
        columns = {name: np.concatenate([r.columns[name] for r in raws]) for name in shared}
        images = {name: image for r in raws for name, image in r.images.items()}
        first = raws[0]
        return RawData(first.survey, first.source_name, first.version, columns, ra=first.ra, dec=first.dec,
                       meta={"parts": [r.meta for r in raws]}, images=images)


class DataStore(abc.ABC):
    """Arrays of raw data and lightcurves on disk, written atomically."""

    @abc.abstractmethod
    def save_raw(self, raw: RawData) -> None:
        """Write the columns of ``raw`` and set ``raw.file`` and ``raw.key``."""

    @abc.abstractmethod
    def load_raw(self, raw: RawData) -> RawData:
        """Fill ``raw.columns`` from disk and return it."""

    @abc.abstractmethod
    def save_lightcurves(
        self, project: str, source_name: str, version: str, lightcurves: Sequence[Lightcurve]
    ) -> None:
        """Write all lightcurves of one source and version; set each ``file`` and ``key``."""

    @abc.abstractmethod
    def load_lightcurve(self, lightcurve: Lightcurve) -> Lightcurve:
        """Fill ``lightcurve.columns`` from disk and return it."""

    def load_lightcurves(self, lightcurves: Sequence[Lightcurve]) -> list[Lightcurve]:
        """Fill the columns of several lightcurves (stores may read each file once)."""
        return [self.load_lightcurve(lc) for lc in lightcurves]

    @abc.abstractmethod
    def save_epoch_scores(self, project: str, source_name: str, version: str,
                          tables: dict[str, dict[str, np.ndarray]]) -> None:
        """Write the per-epoch analysis products of one source (lightcurve key -> columns), atomically."""

    @abc.abstractmethod
    def load_epoch_scores(self, project: str, source_name: str, version: str) -> dict[str, dict[str, np.ndarray]]:
        """Read them back (empty if none were saved)."""

    # -- Batches: a run writes one file per batch and level. The defaults fall back on the
    # -- per-source methods, so a store that has no batch layout still works.
    def save_raw_many(self, raws: Sequence[RawData]) -> None:
        """Write the raw data of a batch; set each ``file`` and ``key``."""
        for raw in raws:
            self.save_raw(raw)

    def load_raw_many(self, raws: Sequence[RawData]) -> list[RawData]:
        """Fill the columns of several raw records (stores may read each file once)."""
        return [self.load_raw(raw) for raw in raws]

    def save_lightcurves_many(self, project: str, version: str,
                              by_source: dict[str, Sequence[Lightcurve]]) -> None:
        """Write the lightcurves of a batch of sources (source name -> its lightcurves); set ``file`` and ``key``."""
        for source_name, lightcurves in by_source.items():
            self.save_lightcurves(project, source_name, version, lightcurves)

    def save_epoch_scores_many(self, project: str, version: str,
                               by_source: dict[str, dict[str, dict[str, np.ndarray]]]) -> str | None:
        """Write the per-epoch products of a batch (source name -> lightcurve key -> columns).

        Returns
        -------
        str or None
            The file that holds them all, to be recorded and passed to :meth:`load_epoch_scores_from`;
            None when each source has its own file (found by :meth:`load_epoch_scores`).
        """
        for source_name, tables in by_source.items():
            self.save_epoch_scores(project, source_name, version, tables)
        return None

    def load_epoch_scores_from(self, file: str, source_name: str) -> dict[str, dict[str, np.ndarray]]:
        """Read one source's per-epoch products from a file of :meth:`save_epoch_scores_many` (empty if none)."""
        return {}


class HistogramStore(abc.ABC):
    """Histograms on disk (netCDF), written atomically and merged by addition."""

    @abc.abstractmethod
    def save(self, key: str, histograms: "Histograms") -> str:
        """Write ``histograms`` under ``key`` (a relative name made of safe parts); return the file name."""

    @abc.abstractmethod
    def load(self, key: str) -> "Histograms":
        """Read the histograms saved under ``key``."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether something is saved under ``key``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove what is saved under ``key`` (no error if nothing is)."""


class CatalogReader(abc.ABC):
    """Reads a catalog file (or service) described by a :class:`CatalogSpec`."""

    @abc.abstractmethod
    def read(self, spec: CatalogSpec) -> Catalog:
        """Return the catalog, with columns mapped to the standard names.

        Raises
        ------
        CatalogError
            If the file is missing or a row or column is malformed.
        """


class SourceRepository(abc.ABC):
    """Sources of projects; a name is unique within a project."""

    @abc.abstractmethod
    def add_many(self, project: str, sources: Sequence[Source]) -> int:
        """Insert the sources not yet in ``project``; return how many were new."""

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
        ``injection_id`` pointing at it. Re-adding the same (lightcurve, version, sequence) is a no-op.
        """

    @abc.abstractmethod
    def list(self, project: str, version: str) -> list[Injection]:
        """Return the injections of ``project`` at ``version`` (detections not loaded)."""

    @abc.abstractmethod
    def count(self, project: str, version: str, *, recovered: bool | None = None) -> int:
        """Return how many injections (optionally only recovered or missed ones) ``project`` has."""


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
        """Return (source name, summary) pairs, best first by ``order_by`` (a summary field)."""


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


class RunLock(abc.ABC):
    """Keeps two runs of the same project from working at once (their histograms would overlap)."""

    @abc.abstractmethod
    def hold(self, name: str, *, wait: bool = False) -> ContextManager[None]:
        """Return a context manager holding the lock ``name`` for its duration.

        A lock whose holder dies (even killed) is released, so it also serves as a lease on a
        batch that several workers might be given.

        Parameters
        ----------
        name : str
            What is locked (a project, or a project's batch).
        wait : bool
            Wait for the holder to release it instead of failing.

        Raises
        ------
        ProjectBusyError
            At once, if another process holds it and ``wait`` is false.
        """


class ProgressSink(abc.ABC):
    """Receives progress events of long operations (CLI bar, TUI pane, log)."""

    @abc.abstractmethod
    def start(self, stage: str, total: int) -> None:
        """A stage begins with ``total`` items."""

    @abc.abstractmethod
    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:
        """``done`` more items of ``stage`` finished (``skipped`` were already done)."""

    @abc.abstractmethod
    def message(self, text: str) -> None:
        """A line for the log."""

    @abc.abstractmethod
    def finish(self, stage: str) -> None:
        """A stage ended."""


class NullProgress(ProgressSink):
    """A sink that ignores every event."""

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        pass

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        pass

    def message(self, text: str) -> None:  # noqa: D102
        pass

    def finish(self, stage: str) -> None:  # noqa: D102
        pass


def batched(items: Iterable, size: int):
    """Yield lists of at most ``size`` items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
