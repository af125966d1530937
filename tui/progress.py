"""A ProgressSink that forwards service progress to the Textual app as messages."""

from __future__ import annotations

from domain.errors import RunCancelled
from services.ports import ProgressSink
from tui.messages import LogLine, StageAdvanced, StageStarted

__all__ = ["MessageProgress"]


class MessageProgress(ProgressSink):
    """Posts progress messages to ``app`` (thread-safe: post_message may be called from a worker).

    Parameters
    ----------
    app : textual.app.App
        Receiver of the messages.
    is_cancelled : callable, optional
        Returns True when the user cancelled; the sink then raises RunCancelled
        at the next event, so the run stops after the step it is in, keeping everything committed.
    """

    def __init__(self, app, is_cancelled=lambda: False):
        self.app = app
        self.is_cancelled = is_cancelled

    def _check(self) -> None:
        if self.is_cancelled():
            raise RunCancelled("run cancelled; every batch committed so far is kept")

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        self.app.post_message(StageStarted(stage, total))

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        self.app.post_message(StageAdvanced(stage, done, skipped, failed))
        self._check()

    def message(self, text: str) -> None:  # noqa: D102
        self.app.post_message(LogLine(text))

    def finish(self, stage: str) -> None:  # noqa: D102
        pass
