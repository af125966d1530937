"""Messages the TUI's workers post to the app (never touching widgets from a thread)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

__all__ = ["StageStarted", "StageAdvanced", "LogLine", "RunFinished", "StatusLoaded", "SummariesLoaded", "SourceLoaded"]


@dataclass
class StageStarted(Message):
    """A stage of the run began."""

    stage: str
    total: int


@dataclass
class StageAdvanced(Message):
    """Items of a stage finished."""

    stage: str
    done: int
    skipped: int
    failed: int


@dataclass
class LogLine(Message):
    """A line for the log pane."""

    text: str


@dataclass
class RunFinished(Message):
    """The run ended; ``summary`` is the report dictionary."""

    summary: dict


@dataclass
class StatusLoaded(Message):
    """Fresh project status counts."""

    status: dict


@dataclass
class SummariesLoaded(Message):
    """Per-source summaries, best first: (name, SourceSummary) pairs."""

    rows: list


@dataclass
class SourceLoaded(Message):
    """A source's lightcurves with their detections, ready to draw."""

    name: str
    views: list
    scores: dict
