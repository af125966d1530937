"""The progress port: events of long operations (CLI bars, the TUI's pane, a log).

Its own module, with nothing but the standard library: the command line shows a spinner before it has
loaded anything heavy (``vo --help`` imports no library beyond the standard one).
"""

from __future__ import annotations

import abc

__all__ = ["ProgressSink", "NullProgress"]


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
