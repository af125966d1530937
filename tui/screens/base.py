"""VOScreen: what every screen shares (header, screen tabs, footer, reload when its data changed)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerState

from virtualobserver.domain.errors import RunCancelled
from virtualobserver.tui.messages import LoadFailed
from virtualobserver.tui.widgets.nav_bar import NavBar

__all__ = ["VOScreen"]


class VOScreen(Screen):
    """A screen of the app: subclasses set ``MODE`` and implement ``compose_body``, ``reload`` and ``reset``.

    A screen loads its data when it is shown and the data may have changed since (another
    project was opened, a run finished), so switching screens is instant and never stale.
    """

    MODE = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stale = True
        self._publishing = False

    def compose(self) -> ComposeResult:  # noqa: D102
        yield Header()
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """Yield the widgets between the screen tabs and the footer."""
        return iter(())

    @property
    def project(self):
        """The open project (None if none is)."""
        return self.app.project

    def on_mount(self) -> None:  # noqa: D102
        self.app.data_changed.subscribe(self, self._data_changed)

    def on_screen_resume(self) -> None:  # noqa: D102
        if self.stale:
            self.stale = False
            self.reload()

    def publish_labels(self) -> None:
        """Tell the other screens that triage labels changed (this one shows them already)."""
        self._publishing = True
        try:
            self.app.data_changed.publish("labels")
        finally:
            self._publishing = False

    def _data_changed(self, reason: str) -> None:
        if reason == "labels" and self._publishing:
            return
        if reason == "project":
            self.reset()
        self.stale = True
        if self.is_current:
            self.stale = False
            self.reload()

    def reload(self) -> None:
        """Load the screen's data again (in a worker)."""

    def reset(self) -> None:
        """Forget what belongs to the previous project."""

    @on(LoadFailed)
    def load_failed(self, message: LoadFailed) -> None:
        """Tell the user that loading failed, without a traceback."""
        self.notify(f"{message.what}: {message.error}", severity="error", timeout=8)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Show a worker's unexpected error once, as a notification (the app keeps running)."""
        if event.state == WorkerState.ERROR and not isinstance(event.worker.error, RunCancelled):
            if event.worker.group == "run":
                return  # the run screen reports its own failures
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="error", severity="error", timeout=10)
