"""RunScreen: start, pause, resume and cancel a run; a progress pane per stage, a log and the per-source errors."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, RichLog, Static
from textual.worker import Worker, WorkerState, get_current_worker

from virtualobserver.domain.errors import RunCancelled
from virtualobserver.tui.format import count
from virtualobserver.tui.messages import (
    FailuresLoaded,
    LogLine,
    RunFinished,
    RunStopped,
    StageAdvanced,
    StageFinished,
    StageStarted,
    StatusLoaded,
)
from virtualobserver.tui.progress import MessageProgress
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.stage_pane import StagePane
from virtualobserver.tui.widgets.data_table import MeasuredDataTable

__all__ = ["RunScreen", "STATUS_KEYS"]

STATUS_KEYS = ("sources", "downloaded", "reduced", "analysed", "lightcurves", "detections", "simulated", "failed")
#: Column titles of the status table (short, to fit 80 columns).
_HEADINGS = ("sources", "downl.", "reduced", "analysed", "LCs", "detect.", "simul.", "failed")
_STAGES = ("download", "reduce", "analyse", "simulate")


class RunScreen(VOScreen):
    """The run: status counts, one progress pane per survey and stage, a log and the failures.

    ``r`` starts the workflow in a thread worker (``m`` simulation mode alone). ``p`` pauses
    and ``c`` cancels: both stop after the batch step in progress, so nothing half-done is
    left, and ``r`` after a pause resumes where it stopped (the services skip finished work).
    Failing sources are listed as they happen without stopping the run.
    """

    MODE = "run"
    AUTO_FOCUS = "#errors"
    BINDINGS = [
        Binding("r", "start_run", "Run/resume"),
        Binding("m", "start_simulation", "Simulate"),
        Binding("p", "pause", "Pause"),
        Binding("c", "cancel", "Cancel"),
        Binding("s", "refresh", "Status"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.panes: dict[str, StagePane] = {}
        self.stop_reason: str | None = None
        self.state = "idle"
        self.last_status: dict = {}

    def compose_body(self) -> ComposeResult:  # noqa: D102
        yield MeasuredDataTable(id="status", cursor_type="none", zebra_stripes=True)
        yield Static("", id="run-state")
        yield VerticalScroll(id="stages")
        with Horizontal(id="run-bottom"):
            yield RichLog(id="log", wrap=True, markup=False, max_lines=5000, min_width=20)
            yield MeasuredDataTable(id="errors", cursor_type="row")

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        self.query_one("#status", DataTable).add_columns("survey", *_HEADINGS)
        self.query_one("#errors", DataTable).add_columns("source", "stage", "message")
        self.query_one("#stages").border_title = "progress"
        self.query_one("#log").border_title = "log"
        self.query_one("#errors").border_title = "errors"
        self._show_state()
        if self.project is None:
            self.log_line("no project open: choose one on the projects screen (1), or start with `vo tui CONFIG`")

    # -- loading ----------------------------------------------------------------------------------
    def reload(self) -> None:  # noqa: D102
        if self.project is None:
            return
        self._build_panes()
        self._load_status()

    def reset(self) -> None:  # noqa: D102
        self.query_one("#stages").remove_children()
        self.panes.clear()
        self.query_one("#errors", DataTable).clear()
        self.query_one("#status", DataTable).clear()
        self.state = "idle"
        self._show_state()
        self.log_line(f"project {self.project.name} opened: r runs it")

    def _build_panes(self) -> None:
        """Show a pane per survey and stage of the project before anything runs."""
        for survey in self.project.config.surveys:
            for stage in _STAGES:
                if stage == "simulate" and not survey.simulation.enabled:
                    continue
                self._pane(f"{survey.name}:{stage}")

    def _pane(self, stage: str) -> StagePane:
        pane = self.panes.get(stage)
        if pane is None:
            pane = StagePane(stage, clock=self.app.clock)
            self.panes[stage] = pane
            self.query_one("#stages").mount(pane)
        return pane

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load_status(self) -> None:
        self.post_message(StatusLoaded(self.project.status()))
        self.post_message(FailuresLoaded(self.project.failures()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="failures")
    def _load_failures(self) -> None:
        self.post_message(FailuresLoaded(self.project.failures()))

    # -- actions ----------------------------------------------------------------------------------
    def control(self, name: str) -> None:
        """Call the run control ``name`` (``start_run``, ``start_simulation``, ``pause``, ``cancel``)."""
        getattr(self, f"action_{name}")()

    def action_start_run(self) -> None:
        """Start the run, or resume a paused one, in a thread worker."""
        self._start("run")

    def action_start_simulation(self) -> None:
        """Run simulation mode alone over the analysed sources."""
        self._start("simulate")

    def _start(self, what: str) -> None:
        if self.project is None:
            self.notify("no project open", severity="warning")
            return
        if self.app.run_active:
            self.notify("a run is already working", severity="warning")
            return
        resuming = self.state == "paused" and what == "run"
        self.stop_reason = None
        self.state = "running" if what == "run" else "simulating"
        self._show_state()
        self.log_line(("resuming" if resuming else "starting") + (" the run" if what == "run" else " simulation mode"))
        self._work(what)

    def action_pause(self) -> None:
        """Stop after the current batch step; ``r`` then resumes where it stopped."""
        self._request_stop("pause")

    def action_cancel(self) -> None:
        """Stop after the current batch step; committed work is kept, the next ``r`` starts afresh."""
        self._request_stop("cancel")

    def action_refresh(self) -> None:
        """Reload the status counts and the failures."""
        if self.project is not None:
            self._load_status()

    def _request_stop(self, reason: str) -> None:
        if reason == "cancel" and self.state == "paused" and not self.app.run_active:
            for pane in self.panes.values():
                pane.counts.state = "cancelled"
                pane.refresh()
            self.state = "cancelled"
            self._show_state()
            self.log_line("paused run cancelled; every batch committed so far is kept")
            return
        if not self.app.run_active:
            self.notify("no run is working", severity="warning")
            return
        self.stop_reason = reason
        self.state = "pausing" if reason == "pause" else "cancelling"
        self._show_state()
        self.log_line(f"{self.state} after the current batch step…")

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def _work(self, what: str) -> None:
        worker = get_current_worker()
        project = self.project
        original = project.progress
        project.progress = MessageProgress(self, is_cancelled=lambda: worker.is_cancelled or bool(self.stop_reason))
        try:
            report = project.run() if what == "run" else project.simulate()
        except RunCancelled:
            self.post_message(RunStopped(self.stop_reason or "cancel"))
            return
        finally:
            project.progress = original
        self.post_message(RunFinished(report.as_dict()))

    # -- messages from the worker -----------------------------------------------------------------
    @on(StageStarted)
    def stage_started(self, message: StageStarted) -> None:  # noqa: D102
        self._pane(message.stage).start(message.total)

    @on(StageAdvanced)
    def stage_advanced(self, message: StageAdvanced) -> None:  # noqa: D102
        self._pane(message.stage).advance(message.done, message.skipped, message.failed)
        if message.failed:
            self._load_failures()

    @on(StageFinished)
    def stage_finished(self, message: StageFinished) -> None:  # noqa: D102
        self._pane(message.stage).finish("finished")

    @on(LogLine)
    def log_message(self, message: LogLine) -> None:  # noqa: D102
        self.log_line(message.text)

    @on(RunFinished)
    def run_finished(self, message: RunFinished) -> None:  # noqa: D102
        s = message.summary
        if s["nothing_to_do"]:
            text = "nothing to do: everything is up to date at the current versions"
        else:
            parts = [f"{stage} {s[stage]['done']}" for stage in _STAGES if stage in s]
            text = "run finished: " + ", ".join(parts)
            if "analyse" in s:
                text += f"; {s['analyse']['products']} new detections"
            if s["failures"]:
                text += f"; {len(s['failures'])} failed (listed under errors)"
        self.log_line(text)
        self.state = "finished"
        self._after_run()

    @on(RunStopped)
    def run_stopped(self, message: RunStopped) -> None:  # noqa: D102
        paused = message.reason == "pause"
        for pane in self.panes.values():
            pane.finish("paused" if paused else "cancelled")
        self.state = "paused" if paused else "cancelled"
        self.log_line("paused: r resumes where the run stopped" if paused
                      else "run cancelled; every batch committed so far is kept")
        self._after_run()

    def _after_run(self) -> None:
        self.stop_reason = None
        self._show_state()
        self._load_status()
        self.app.data_changed.publish("run")

    @on(Worker.StateChanged)
    def run_worker_changed(self, event: Worker.StateChanged) -> None:  # noqa: D102
        if event.worker.group != "run" or event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        for pane in self.panes.values():
            pane.finish("failed")
        self.state = "failed"
        self.log_line(f"run failed: {type(error).__name__}: {error}")
        self.notify(f"run failed: {error}", severity="error", timeout=10)
        self.stop_reason = None
        self._show_state()
        self._load_status()

    @on(StatusLoaded)
    def show_status(self, message: StatusLoaded) -> None:  # noqa: D102
        self.last_status = message.status
        table = self.query_one("#status", DataTable)
        table.clear()
        surveys = message.status.get("surveys", {})
        for name, counts in surveys.items() if len(surveys) > 1 else ():
            table.add_row(name, "", *(count(counts.get(k, 0)) for k in STATUS_KEYS[1:-1]), "")
        table.add_row("all" if len(surveys) > 1 else next(iter(surveys), ""),
                      *(count(message.status.get(k, 0)) for k in STATUS_KEYS))
        for stage, pane in self.panes.items():
            if pane.counts.state == "idle":
                pane.idle_text = self._idle_text(stage, message.status)
                pane.refresh()

    @staticmethod
    def _idle_text(stage: str, status: dict) -> str:
        survey, _, name = stage.rpartition(":")
        counts = status.get("surveys", {}).get(survey, {})
        key = {"download": "downloaded", "reduce": "reduced", "analyse": "analysed", "simulate": "simulated"}[name]
        return f"{count(counts.get(key, 0))} of {count(status.get('sources', 0))} sources done at the current version"

    @on(FailuresLoaded)
    def show_failures(self, message: FailuresLoaded) -> None:  # noqa: D102
        table = self.query_one("#errors", DataTable)
        table.clear()
        for f in message.failures:
            table.add_row(f["source"], f"{f['stage']} ({f['survey']})", f["message"])
        table.border_title = f"errors ({len(message.failures)})" if message.failures else "errors"

    # -- helpers ----------------------------------------------------------------------------------
    def log_line(self, text: str) -> None:
        """Append a line to the log."""
        self.query_one("#log", RichLog).write(text)

    def _show_state(self) -> None:
        keys = {
            "idle": "r run · m simulate only", "finished": "r run again (skips what is done) · m simulate",
            "running": "p pause · c cancel", "simulating": "p pause · c cancel",
            "pausing": "stopping after the current batch step…", "cancelling": "stopping after the current batch step…",
            "paused": "r resume · c forget the paused run", "cancelled": "r start again", "failed": "r try again",
        }[self.state]
        self.query_one("#run-state", Static).update(f"[b]{self.state}[/b] — {keys}")
