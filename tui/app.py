"""VirtualObserverApp: project status, a run with live progress per stage, and a log."""

from __future__ import annotations

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, ProgressBar, RichLog
from textual.worker import Worker, WorkerState, get_current_worker

from tui.messages import LogLine, RunFinished, StageAdvanced, StageStarted, StatusLoaded
from tui.progress import MessageProgress

__all__ = ["VirtualObserverApp"]

STATUS_KEYS = ("sources", "downloaded", "reduced", "analysed", "lightcurves", "detections", "failed")


class VirtualObserverApp(App):
    """Keyboard-first terminal UI over a :class:`services.project.Project`.

    Parameters
    ----------
    project : services.project.Project, optional
        The project to drive; without one the app shows how to open one.
    """

    CSS_PATH = "app.tcss"
    TITLE = "virtualobserver"
    BINDINGS = [
        ("r", "run", "Run"),
        ("s", "refresh_status", "Status"),
        ("c", "cancel", "Cancel run"),
        ("q", "quit", "Quit"),
    ]

    def __init__(self, project=None, **kwargs):
        super().__init__(**kwargs)
        self.project = project
        self.bars: dict[str, ProgressBar] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        table = DataTable(id="status", cursor_type="none")
        yield table
        yield Vertical(id="stages")
        yield RichLog(id="log", wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#status", DataTable)
        table.add_columns("quantity", "value")
        log = self.query_one("#log", RichLog)
        if self.project is None:
            log.write("no project open: start with `vo tui CONFIG`")
            return
        self.sub_title = self.project.name
        log.write(f"project {self.project.name}: press r to run, s to refresh the status, q to quit")
        self.action_refresh_status()

    # -- actions --------------------------------------------------------------
    def action_refresh_status(self) -> None:
        """Load the status counts in a worker thread."""
        if self.project is not None:
            self._load_status()

    def action_run(self) -> None:
        """Start (or resume) the run in a worker thread."""
        if self.project is None:
            return
        self.query_one("#stages", Vertical).remove_children()
        self.bars.clear()
        self._run()

    def action_cancel(self) -> None:
        """Ask the running worker to stop after its current batch."""
        self.workers.cancel_group(self, "run")

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load_status(self) -> None:
        self.post_message(StatusLoaded(self.project.status()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def _run(self) -> None:
        worker = get_current_worker()
        original = self.project.progress
        self.project.progress = MessageProgress(self, is_cancelled=lambda: worker.is_cancelled)
        try:
            report = self.project.run()
        finally:
            self.project.progress = original
        self.post_message(RunFinished(report.as_dict()))
        self.post_message(StatusLoaded(self.project.status()))

    # -- messages -------------------------------------------------------------
    @on(StatusLoaded)
    def show_status(self, message: StatusLoaded) -> None:
        table = self.query_one("#status", DataTable)
        table.clear()
        for key in STATUS_KEYS:
            table.add_row(key, str(message.status.get(key, "")))

    @on(StageStarted)
    def add_stage(self, message: StageStarted) -> None:
        bar = ProgressBar(total=message.total, show_eta=False, id=None)
        self.bars[message.stage] = bar
        row = Horizontal(Label(message.stage, classes="stage-label"), bar, classes="stage-row")
        self.query_one("#stages", Vertical).mount(row)

    @on(StageAdvanced)
    def advance_stage(self, message: StageAdvanced) -> None:
        bar = self.bars.get(message.stage)
        if bar is not None:
            bar.advance(message.done + message.skipped)

    @on(LogLine)
    def log_line(self, message: LogLine) -> None:
        self.query_one("#log", RichLog).write(message.text)

    @on(RunFinished)
    def run_finished(self, message: RunFinished) -> None:
        s = message.summary
        text = "nothing to do: all up to date" if s["nothing_to_do"] else (
            f"run finished: downloaded {s['download']['done']}, reduced {s['reduce']['done']}, "
            f"analysed {s['analyse']['done']}, detections {s['analyse']['products']}")
        self.query_one("#log", RichLog).write(text)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#log", RichLog).write(f"error: {type(error).__name__}: {error}")
        elif event.state == WorkerState.CANCELLED:
            self.query_one("#log", RichLog).write("run cancelled; committed batches are kept")
