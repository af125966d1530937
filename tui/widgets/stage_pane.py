"""StagePane: the progress of one stage of a run (bar, counts, rate, ETA) in two lines."""

from __future__ import annotations

import time

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from virtualobserver.tui.format import count, duration

__all__ = ["StagePane", "StageCounts"]


class StageCounts:
    """Counters of one stage during a run, with a rate and an ETA from a clock.

    The rate counts every handled item (new, skipped or failed) since the stage started, so a
    resumed run, which first skips what is done, does not promise an ETA it cannot keep for long.
    The clock is read only when something happens (start, a step, the end), never when drawing,
    so what is shown depends on the events alone.

    Parameters
    ----------
    clock : callable
        Returns seconds (monotonic).
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.total = 0
        self.done = self.skipped = self.failed = 0
        self.started: float | None = None
        self.last: float | None = None
        self.state = "idle"

    def start(self, total: int) -> None:
        """Begin (or begin again, on resume) with ``total`` items."""
        self.total, self.done, self.skipped, self.failed = int(total), 0, 0, 0
        self.started = self.last = self.clock()
        self.state = "running"

    def advance(self, done: int, skipped: int, failed: int) -> None:
        """Add a step's counts (``done`` includes the failed items, as the services report it)."""
        self.done += done - failed
        self.skipped += skipped
        self.failed += failed
        self.last = self.clock()

    def finish(self, state: str = "finished") -> None:
        """Stop the clock; ``state`` is ``finished``, ``paused``, ``cancelled`` or ``failed``."""
        if self.state == "running":
            self.last, self.state = self.clock(), state

    @property
    def handled(self) -> int:
        """Items handled so far (new, skipped or failed)."""
        return self.done + self.skipped + self.failed

    @property
    def elapsed(self) -> float:
        """Seconds from the start of the stage to its latest event."""
        if self.started is None:
            return 0.0
        return self.last - self.started

    @property
    def rate(self) -> float | None:
        """Items handled per second (None before any)."""
        elapsed = self.elapsed
        return self.handled / elapsed if self.handled and elapsed > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None when unknown)."""
        rate = self.rate
        if self.state != "running" or rate is None:
            return None
        return max(self.total - self.handled, 0) / rate


class StagePane(Static):
    """One stage's progress: ``label  bar  pct  ETA`` over ``n/total · new · skipped · failed · rate``.

    Parameters
    ----------
    stage : str
        Stage name as the services report it (``survey:stage``).
    clock : callable
        Monotonic clock (injected so tests and screenshots are reproducible).
    idle_text : str
        What to show before the stage runs (e.g. its counts at the current version).
    """

    DEFAULT_CSS = """
    StagePane {
        height: 2;
    }
    """

    def __init__(self, stage: str, clock=time.monotonic, idle_text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.stage = stage
        self.counts = StageCounts(clock)
        self.idle_text = idle_text

    @property
    def title(self) -> str:
        """``survey stage`` for the label."""
        survey, _, stage = self.stage.rpartition(":")
        return f"{stage} ({survey})" if survey else stage

    def render(self):  # noqa: D102
        c = self.counts
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(width=18, no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_column(width=5, justify="right")
        grid.add_column(width=12, justify="right", no_wrap=True)
        fraction = c.handled / c.total if c.total else (1.0 if c.state == "finished" else 0.0)
        style = {"running": "bold", "finished": "green", "paused": "yellow", "cancelled": "red",
                 "failed": "red"}.get(c.state, "dim")
        if c.state == "running":
            right = f"ETA {duration(c.eta)}"
        elif c.state == "idle":
            right = ""
        else:
            right = f"{c.state} {duration(c.elapsed)}" if c.state != "finished" else f"in {duration(c.elapsed)}"
        bar = ProgressBar(total=max(c.total, 1), completed=min(c.handled, c.total) if c.total else 0,
                          complete_style="green" if c.state == "finished" else "bright_blue",
                          finished_style="green")
        grid.add_row(Text(self.title, style=style), bar, f"{fraction:4.0%}" if c.state != "idle" else "",
                     Text(right, style="dim" if c.state == "idle" else ""))
        if c.state == "idle":
            detail = Text(self.idle_text or "not started", style="dim")
        else:
            rate = c.rate
            detail = Text.assemble(
                f"{count(c.handled)}/{count(c.total)} · new {count(c.done)} · skipped {count(c.skipped)} · ",
                (f"failed {count(c.failed)}", "bold red" if c.failed else ""),
                f" · {rate:,.1f}/s" if rate is not None else "")
        line = Table.grid(padding=(0, 1))
        line.add_column(width=18)
        line.add_column()
        line.add_row("", detail)
        return Group(grid, line)

    def start(self, total: int) -> None:
        """The stage (re)starts with ``total`` items."""
        self.counts.start(total)
        self.refresh()

    def advance(self, done: int, skipped: int, failed: int) -> None:
        """Add a batch step's counts."""
        self.counts.advance(done, skipped, failed)
        self.refresh()

    def finish(self, state: str = "finished") -> None:
        """The stage ended (``finished``, ``paused``, ``cancelled``, ``failed``)."""
        self.counts.finish(state)
        self.refresh()
