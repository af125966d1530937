"""Ports of the doctor: the records that point at files, and the data folder that holds them."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Sequence

from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData

__all__ = ["RawRecord", "StepRecord", "ScoresRecord", "LightcurveRecord", "PartRecord", "RecordIndex", "DataFolder"]


@dataclass(frozen=True)
class RawRecord:
    """A raw-data row (shared by all projects) and the file it points at."""

    id: int
    survey: str
    source_name: str
    version: str
    file: str | None
    key: str | None


@dataclass(frozen=True)
class StepRecord:
    """A finished step of one source: (project, stage, survey, version)."""

    project: str
    stage: str
    survey: str
    version: str
    source_id: int
    source_name: str


@dataclass(frozen=True)
class ScoresRecord:
    """A source's analysis summary and the file of its per-epoch products, if the row names one (batch layout)."""

    project: str
    survey: str
    version: str
    source_id: int
    source_name: str
    file: str | None


@dataclass(frozen=True)
class LightcurveRecord:
    """A lightcurve row and the file and dataset it points at."""

    id: int
    project: str
    survey: str
    version: str
    source_id: int
    source_name: str
    file: str | None
    key: str | None


@dataclass(frozen=True)
class StampsRecord:
    """A detection row that points at its image stamps: the file and the dataset in it."""

    project: str
    survey: str
    version: str
    source_name: str
    file: str
    key: str


@dataclass(frozen=True)
class PartRecord:
    """A histogram part row: one netCDF file counted in a product (project, survey, version, kind)."""

    project: str
    survey: str
    version: str
    kind: str
    key: str


class RecordIndex(abc.ABC):
    """Every database row that points at a file, and the removals a repair needs; one transaction.

    Used as a context manager, like a unit of work: leaving without :meth:`commit`
    discards every removal.
    """

    def __enter__(self) -> "RecordIndex":
        return self

    def __exit__(self, *exc_info) -> None:
        self.rollback()

    @abc.abstractmethod
    def raw(self) -> list[RawRecord]:
        """Return every raw-data row."""

    @abc.abstractmethod
    def steps(self, stage: str) -> list[StepRecord]:
        """Return every finished step of ``stage`` (``reduce``, ``analyse``, ...), over all projects."""

    @abc.abstractmethod
    def scores(self) -> list[ScoresRecord]:
        """Return every per-source analysis summary with the file of its epoch scores where recorded."""

    @abc.abstractmethod
    def lightcurves(self) -> list[LightcurveRecord]:
        """Return every lightcurve row."""

    @abc.abstractmethod
    def parts(self) -> list[PartRecord]:
        """Return every histogram part row."""

    @abc.abstractmethod
    def stamps(self) -> list[StampsRecord]:
        """Return every detection row that points at image stamps."""

    @abc.abstractmethod
    def forget_raw(self, ids: Sequence[int]) -> None:
        """Remove raw-data rows (their lightcurves keep their own files and stay)."""

    @abc.abstractmethod
    def forget_reduction(self, project: str, survey: str, version: str, source_ids: Sequence[int]) -> None:
        """Remove the sources' lightcurves of this version (with what refers to them) and their reduce steps."""

    @abc.abstractmethod
    def reset_stage(self, project: str, stage: str, survey: str, version: str) -> list[str]:
        """Remove every step of ``stage`` at ``version`` and every histogram part of that version.

        For ``analyse``, the summaries of that version go too (they name the epoch-score files).

        Returns
        -------
        list of str
            Keys of the removed parts (their files are left to the caller).
        """

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the removals durable."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard the removals."""


class DataFolder(abc.ABC):
    """The files under the data folder, addressed by paths relative to it."""

    @abc.abstractmethod
    def files(self) -> list[str]:
        """Return every product file (raw, lightcurves, epoch scores, histograms), temporary ones included."""

    @abc.abstractmethod
    def manifests(self) -> list[str]:
        """Return every version manifest (how a version's products were made), sorted."""

    @abc.abstractmethod
    def is_temporary(self, path: str) -> bool:
        """Whether ``path`` is a temporary file of an atomic write (left by a killed writer if it is old)."""

    @abc.abstractmethod
    def lightcurve_path(self, project: str, version: str, source_name: str) -> str:
        """Return the file of a source's lightcurves of a reduction version."""

    @abc.abstractmethod
    def lightcurve_files(self, project: str) -> list[str]:
        """Return the lightcurve files of ``project`` (all versions)."""

    @abc.abstractmethod
    def scores_path(self, project: str, version: str, source_name: str) -> str:
        """Return the file of a source's epoch scores of an analysis version."""

    @abc.abstractmethod
    def histogram_path(self, key: str) -> str:
        """Return the file of a histogram part key."""

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a file ``path`` exists."""

    @abc.abstractmethod
    def problem(self, path: str, keys: Sequence[str] | None = None) -> str | None:
        """Return why ``path`` (and its datasets ``keys``) cannot be read, or None if it reads whole."""

    @abc.abstractmethod
    def quarantine(self, path: str) -> str:
        """Move ``path`` aside (never deleting it) and return where it went."""

    @abc.abstractmethod
    def read_raw(self, path: str) -> list[RawData]:
        """Return the raw-data records a raw file describes (arrays not kept); empty if it is not readable."""

    @abc.abstractmethod
    def read_lightcurves(self, path: str) -> list[Lightcurve]:
        """Return the lightcurves of a lightcurve file, columns loaded and ``file``/``key`` set."""
