"""VirtualObserverApp: project status, a run with live progress per stage, and a log."""

from __future__ import annotations

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Label, ProgressBar, RichLog
from textual.worker import Worker, WorkerState, get_current_worker

from domain.errors import RunCancelled
from tui.messages import (
    LogLine,
    RunFinished,
    SourceLoaded,
    StageAdvanced,
    StageStarted,
    StatusLoaded,
    SummariesLoaded,
)
from tui.progress import MessageProgress
from tui.widgets.lightcurve_plot import LightcurvePlot

__all__ = ["VirtualObserverApp"]

STATUS_KEYS = ("sources", "downloaded", "reduced", "analysed", "lightcurves", "detections", "failed")


class VirtualObserverApp(App):
    """Keyboard-first terminal UI over a :class:`services.project.Project`.

    Two views: the run view (status counts, a progress bar per stage, a log)
    and the sources view (sources ranked by best S/N, and the selected
    source's lightcurves drawn with its detections marked).

    Parameters
    ----------
    project : services.project.Project, optional
        The project to drive; without one the app shows how to open one.
    """

    CSS_PATH = "app.tcss"
    TITLE = "virtualobserver"
    BINDINGS = [
        ("1", "view('run-view')", "Run view"),
        ("2", "view('sources-view')", "Sources"),
        ("r", "run", "Run"),
        ("m", "toggle_plot", "Mag / S/N"),
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
        with ContentSwitcher(initial="run-view", id="views"):
            with Vertical(id="run-view"):
                yield DataTable(id="status", cursor_type="none")
                yield Vertical(id="stages")
                yield RichLog(id="log", wrap=True, markup=False)
            with Horizontal(id="sources-view"):
                yield DataTable(id="sources", cursor_type="row")
                with Vertical(id="source-detail"):
                    yield LightcurvePlot(id="plot")
                    yield DataTable(id="detections", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#status", DataTable)
        table.add_columns("quantity", "value")
        self.query_one("#sources", DataTable).add_columns("source", "best S/N", "detections", "mag")
        self.query_one("#detections", DataTable).add_columns(
            "filter", "season", "kind", "peak MJD", "S/N", "Δmag", "epochs", "width d", "worst cuts")
        log = self.query_one("#log", RichLog)
        if self.project is None:
            log.write("no project open: start with `vo tui CONFIG`")
            return
        self.sub_title = self.project.name
        log.write(f"project {self.project.name}: press r to run, s to refresh the status, q to quit")
        self.action_refresh_status()

    # -- actions --------------------------------------------------------------
    def action_view(self, view: str) -> None:
        """Switch between the run view and the sources view."""
        self.query_one("#views", ContentSwitcher).current = view
        if view == "sources-view" and self.project is not None:
            self._load_summaries()
            self.query_one("#sources", DataTable).focus()

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

    def action_toggle_plot(self) -> None:
        """Plot magnitudes or each epoch's best S/N (with the threshold) for the highlighted source."""
        self.query_one("#plot", LightcurvePlot).toggle()

    def action_cancel(self) -> None:
        """Ask the running worker to stop after its current batch."""
        self.workers.cancel_group(self, "run")

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load_status(self) -> None:
        self.post_message(StatusLoaded(self.project.status()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="summaries")
    def _load_summaries(self) -> None:
        self.post_message(SummariesLoaded(self.project.summaries(limit=200)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="source")
    def _load_source(self, name: str) -> None:
        self.post_message(SourceLoaded(name, self.project.source_lightcurves(name), self.project.epoch_scores(name)))

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

    @on(SummariesLoaded)
    def show_summaries(self, message: SummariesLoaded) -> None:
        table = self.query_one("#sources", DataTable)
        table.clear()
        for name, s in message.rows:
            snr = "-" if s.best_snr is None else f"{s.best_snr:.1f}"
            mag = "-" if s.mag_median is None else f"{s.mag_median:.2f}"
            table.add_row(name, snr, str(s.num_detections), mag, key=name)

    @on(DataTable.RowHighlighted, "#sources")
    def source_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._load_source(event.row_key.value)

    @on(SourceLoaded)
    def show_source(self, message: SourceLoaded) -> None:
        detections = sum(len(d) for _, d in message.views)
        threshold = self.project.config.surveys[0].analysis.threshold
        self.query_one("#plot", LightcurvePlot).show(
            message.views, title=f"{message.name}: {len(message.views)} lightcurves, {detections} detections",
            scores=message.scores, threshold=threshold)
        table = self.query_one("#detections", DataTable)
        table.clear()
        for lc, found in message.views:
            for d in found:
                cuts = ", ".join(f"{k}={v:.3g}" for k, v in sorted(d.quality.items())
                                 if v is not None and k not in ("nan", "flag"))
                table.add_row(lc.filter, str(lc.season), d.kind, f"{d.peak_mjd:.4f}", f"{d.snr:.1f}",
                              f"{d.delta_mag:.3f}", str(d.num_epochs), f"{d.filter_width:g}", cuts)

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
            if isinstance(error, RunCancelled):
                self.query_one("#log", RichLog).write(str(error))
                self._load_status()
            else:
                self.query_one("#log", RichLog).write(f"error: {type(error).__name__}: {error}")
        elif event.state == WorkerState.CANCELLED:
            self.query_one("#log", RichLog).write("run cancelled; committed batches are kept")
