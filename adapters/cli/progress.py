"""Progress sinks for the command line: rich bars on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from virtualobserver.services.ports import ProgressSink

__all__ = ["RichProgress", "LogProgress"]


class RichProgress(ProgressSink):
    """One rich progress bar per stage, drawn on stderr (stdout stays clean for ``--json``)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.bars = Progress(
            TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("skipped {task.fields[skipped]} failed {task.fields[failed]}"),
            TimeRemainingColumn(), console=self.console, transient=False,
        )
        self.tasks: dict[str, int] = {}

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        if not self.tasks:
            self.bars.start()
        self.tasks[stage] = self.bars.add_task(stage, total=total, skipped=0, failed=0)

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        task = self.tasks[stage]
        fields = self.bars.tasks[task].fields
        self.bars.update(task, advance=done + skipped, skipped=fields["skipped"] + skipped,
                         failed=fields["failed"] + failed)

    def message(self, text: str) -> None:  # noqa: D102
        self.console.print(text)

    def finish(self, stage: str) -> None:  # noqa: D102
        self.tasks.pop(stage, None)
        if not self.tasks:
            self.bars.stop()


class LogProgress(ProgressSink):
    """Plain timestamped lines on stderr, at most one per stage every ``interval`` seconds."""

    def __init__(self, stream=None, interval: float = 5.0):
        self.stream = stream or sys.stderr
        self.interval = interval
        self.state: dict[str, list] = {}

    def _line(self, text: str) -> None:
        print(time.strftime("%H:%M:%S"), text, file=self.stream, flush=True)

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        self.state[stage] = [total, 0, 0, 0, 0.0]

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        s = self.state[stage]
        s[1] += done + skipped
        s[2] += skipped
        s[3] += failed
        now = time.monotonic()
        if now - s[4] >= self.interval:
            s[4] = now
            self._line(f"{stage}: {s[1]}/{s[0]} (skipped {s[2]}, failed {s[3]})")

    def message(self, text: str) -> None:  # noqa: D102
        self._line(text)

    def finish(self, stage: str) -> None:  # noqa: D102
        total, n, skipped, failed, _ = self.state.pop(stage)
        self._line(f"{stage}: {n}/{total} done (skipped {skipped}, failed {failed})")
