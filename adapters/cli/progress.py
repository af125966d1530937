"""Progress for the command line: a spinner and rich bars on a terminal, plain log lines (``vo run``) otherwise."""

from __future__ import annotations

import sys
import time

from virtualobserver.services.progress_ports import ProgressSink

__all__ = ["RichProgress", "LogProgress", "CloseOnWrite", "terminal_progress", "phase", "stage_progress"]


class RichProgress(ProgressSink):
    """On a terminal, on stderr: a spinner saying what the command is doing, and one bar per stage.

    stdout is left alone (``--json`` and tables stay clean); text written to stderr meanwhile is shown
    above the bars. :meth:`close` ends the display (the stage bars stay on the screen, the spinner goes).
    """

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = console or Console(stderr=True)
        self.bars = Progress(
            SpinnerColumn(finished_text=" "), TextColumn("{task.description:<18}"),
            _Only("stage", BarColumn()), _Only("stage", MofNCompleteColumn()),
            _Only("stage", TextColumn("skipped {task.fields[skipped]} failed {task.fields[failed]}")),
            _Only("stage", TimeRemainingColumn()), _Only("phase", TimeElapsedColumn()),
            console=self.console, transient=False, redirect_stdout=False, redirect_stderr=True,
        )
        self.tasks: dict[str, int] = {}
        self.phase_task: int | None = None
        self.stages_shown = False
        self.running = False

    def _show(self) -> None:
        if not self.running:
            self.running = True
            self.bars.start()

    def phase(self, text: str) -> None:
        """Say what the command does now (a spinner line with the time elapsed, gone when it ends)."""
        if self.phase_task is None:
            self.phase_task = self.bars.add_task(text, total=None, phase=True)
        else:
            self.bars.update(self.phase_task, description=text)
        self._show()
        self.bars.refresh()  # each phase on the screen at least once, however short

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        if self.phase_task is not None:  # the bars say what happens now; the next phase() brings it back
            self.bars.remove_task(self.phase_task)
            self.phase_task = None
        self.tasks[stage] = self.bars.add_task(stage, total=total, skipped=0, failed=0, stage=True)
        self.stages_shown = True
        self._show()

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        task = self.tasks[stage]
        fields = next(t for t in self.bars.tasks if t.id == task).fields  # by id: removed tasks shift the list
        self.bars.update(task, advance=done + skipped, skipped=fields["skipped"] + skipped,
                         failed=fields["failed"] + failed)

    def message(self, text: str) -> None:  # noqa: D102
        self.console.print(text)

    def finish(self, stage: str) -> None:  # noqa: D102
        self.tasks.pop(stage, None)  # its bar stays, full

    def close(self) -> None:
        """End the display: the finished stage bars stay on the screen, the spinner line goes."""
        if self.phase_task is not None:
            self.bars.remove_task(self.phase_task)
            self.phase_task = None
        if self.running:
            self.running = False
            self.bars.live.transient = not self.stages_shown  # only a spinner: leave no empty line
            self.bars.stop()


def _Only(field: str, column):
    """A progress column drawn only for the tasks that have ``field`` (stage bars or the phase spinner)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Only(ProgressColumn):
        def render(self, task):  # noqa: D102
            return column.render(task) if task.fields.get(field) else Text("")

    return Only()


class CloseOnWrite:
    """stdout wrapper that ends a terminal progress display before the first text reaches the terminal.

    The display redraws itself on stderr; text written to the same terminal meanwhile would be
    overwritten, so the display ends first (a command writes its results at its end).
    """

    def __init__(self, stream, progress: RichProgress):
        self.stream = stream
        self.progress = progress

    def write(self, text: str) -> int:  # noqa: D102
        if text and self.progress.running:
            self.progress.close()
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


#: Commands that show no progress: the TUI owns the terminal, init may ask questions, the rest are instant.
_SILENT = {"tui", "init", "config-reference", "demo-catalog"}


def terminal_progress(argv: list[str]) -> RichProgress | None:
    """Return a progress display for ``vo argv`` when stderr is a terminal (None otherwise, or for help).

    Started before the arguments are parsed: loading the command's modules already takes seconds.

    Parameters
    ----------
    argv : list of str
        The arguments of ``vo``.

    Returns
    -------
    RichProgress or None
        Showing ``vo COMMAND: starting``.
    """
    words = [a for a in argv if not a.startswith("-")]
    if not sys.stderr.isatty() or not words or words[0] in _SILENT or {"-h", "--help"} & set(argv):
        return None
    progress = RichProgress()
    progress.phase(f"vo {words[0]}: starting")
    return progress


def phase(args, text: str) -> None:
    """Say on the terminal's progress display, if any, what the command does now.

    Parameters
    ----------
    args : argparse.Namespace
        The command's arguments (``progress`` set by ``main`` on a terminal).
    text : str
        E.g. ``"opening the database"``; the command's name is put before it.
    """
    progress = getattr(args, "progress", None)
    if progress is not None:
        progress.phase(f"vo {args.command}: {text}")


def stage_progress(args) -> ProgressSink:
    """Return the sink for a command's stage bars: the terminal's display, or nothing."""
    from virtualobserver.services.progress_ports import NullProgress

    return getattr(args, "progress", None) or NullProgress()


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
