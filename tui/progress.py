"""A ProgressSink that forwards service progress to a Textual node as messages."""

from __future__ import annotations

from virtualobserver.domain.errors import RunCancelled
from virtualobserver.services.ports import ProgressSink
from virtualobserver.tui.messages import LogLine, StageAdvanced, StageFinished, StageStarted

__all__ = ["MessageProgress"]


class MessageProgress(ProgressSink):
    """Posts progress messages to ``target`` (thread-safe: post_message may be called from a worker).

    Parameters
    ----------
    target : textual.message_pump.MessagePump
        Receiver of the messages (the app or a screen).
    is_cancelled : callable, optional
        Returns True when the user asked the run to stop (pause or cancel); the sink then
        raises RunCancelled at the next event, so the run stops after the batch step it is in,
        keeping everything committed. The services skip finished work, so a new run resumes there.
    """

    def __init__(self, target, is_cancelled=lambda: False):
        self.target = target
        self.is_cancelled = is_cancelled

    def _check(self) -> None:
        if self.is_cancelled():
            raise RunCancelled("run stopped; every batch committed so far is kept")

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        self.target.post_message(StageStarted(stage, total))

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        self.target.post_message(StageAdvanced(stage, done, skipped, failed))
        self._check()

    def message(self, text: str) -> None:  # noqa: D102
        self.target.post_message(LogLine(text))

    def finish(self, stage: str) -> None:  # noqa: D102
        self.target.post_message(StageFinished(stage))
