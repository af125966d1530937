"""Messages the TUI's workers post (never touching widgets from a thread); each is handled on the UI thread.

None bubbles: each is meant for the screen whose worker posted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

__all__ = [
    "StageStarted", "StageAdvanced", "StageFinished", "LogLine", "RunFinished", "RunStopped", "StatusLoaded",
    "FailuresLoaded", "SummariesLoaded", "SourceLoaded", "StampsLoaded", "DetectionsLoaded", "LabelSaved", "CatalogLoaded",
    "ProjectsLoaded", "HistogramLoaded", "RateLoaded", "LoadFailed",
]


@dataclass
class StageStarted(Message, bubble=False):
    """A stage of the run began with ``total`` items."""

    stage: str
    total: int


@dataclass
class StageAdvanced(Message, bubble=False):
    """Items of a stage finished: ``done`` new (failures included), ``skipped`` already done, ``failed``."""

    stage: str
    done: int
    skipped: int
    failed: int


@dataclass
class StageFinished(Message, bubble=False):
    """A stage ended."""

    stage: str


@dataclass
class LogLine(Message, bubble=False):
    """A line for the log pane."""

    text: str


@dataclass
class RunFinished(Message, bubble=False):
    """The run ended; ``summary`` is the report dictionary."""

    summary: dict


@dataclass
class RunStopped(Message, bubble=False):
    """The run stopped early at the user's request (``reason``: ``pause`` or ``cancel``); committed work is kept."""

    reason: str


@dataclass
class StatusLoaded(Message, bubble=False):
    """Fresh project status counts."""

    status: dict


@dataclass
class FailuresLoaded(Message, bubble=False):
    """The current per-source failures of the project."""

    failures: list


@dataclass
class SummariesLoaded(Message, bubble=False):
    """Per-source summaries, best first: (name, SourceSummary) pairs."""

    rows: list


@dataclass
class SourceLoaded(Message, bubble=False):
    """A source's lightcurves with their detections, ready to draw."""

    name: str
    views: list
    scores: dict
    source: object = None
    survey: str | None = None
    focus: object = None
    labels: dict = field(default_factory=dict)


@dataclass
class StampsLoaded(Message, bubble=False):
    """The stamps of a detection (None when it has none), or the ``error`` that kept them from loading."""

    name: str
    detection_id: str
    stamps: object = None
    error: str | None = None


@dataclass
class DetectionsLoaded(Message, bubble=False):
    """The detection list (``DetectionRow`` objects) in the requested order."""

    rows: list


@dataclass
class LabelSaved(Message, bubble=False):
    """A triage label was persisted (or failed to be, with ``error``)."""

    detection_id: int
    label: str | None
    error: str | None = None


@dataclass
class CatalogLoaded(Message, bubble=False):
    """A page of catalog rows (a ``CatalogPage``)."""

    page: object


@dataclass
class ProjectsLoaded(Message, bubble=False):
    """Project files (``ConfigEntry``) and database projects (``ProjectRecord``)."""

    configs: list = field(default_factory=list)
    records: list = field(default_factory=list)


@dataclass
class HistogramLoaded(Message, bubble=False):
    """A merged histogram product (None if nothing was analysed yet)."""

    name: str
    survey: str
    histograms: object


@dataclass
class RateLoaded(Message, bubble=False):
    """The event rate of one kind (an ``EventRate``), or why there is none (``error``)."""

    kind: str
    survey: str
    rate: object = None
    error: str | None = None


@dataclass
class LoadFailed(Message, bubble=False):
    """Loading something failed with an error the user should read."""

    what: str
    error: str
