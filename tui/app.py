"""VirtualObserverApp: six screens (projects, catalog, run, source, detections, histograms) over the services."""

from __future__ import annotations

import time
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import WorkerState

from virtualobserver.tui.screens.catalog import CatalogScreen
from virtualobserver.tui.screens.detections import DetectionsScreen
from virtualobserver.tui.screens.help import HelpScreen
from virtualobserver.tui.screens.histograms import HistogramsScreen
from virtualobserver.tui.screens.projects import ProjectsScreen
from virtualobserver.tui.screens.run import RunScreen
from virtualobserver.tui.screens.source import SourceScreen
from virtualobserver.tui.source_commands import SourceCommands
from virtualobserver.tui.widgets.nav_bar import SCREENS

__all__ = ["VirtualObserverApp"]


class VirtualObserverApp(App):
    """Keyboard-first terminal UI over :class:`services.project.Project` (and a :class:`services.workspace.Workspace`).

    Each screen is a mode (keys 1-6), so it keeps its state while another is shown, and
    a run goes on in its worker whatever screen is in front. The app talks to services
    only: the composition root (``vo tui``) hands it the project and the workspace.

    Parameters
    ----------
    project : services.project.Project, optional
        The project to open first; without one the app starts on the project list.
    workspace : services.workspace.Workspace, optional
        Lists project files and database projects, and opens them.
    clock : callable, optional
        Monotonic seconds, for rates and ETAs (tests pass a fake one).
    start : str, optional
        Mode to start in (default: ``run`` with a project, ``projects`` without).
    """

    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {SourceCommands}
    TITLE = "virtualobserver"
    MODES = {
        "projects": ProjectsScreen,
        "catalog": CatalogScreen,
        "run": RunScreen,
        "source": SourceScreen,
        "detections": DetectionsScreen,
        "histograms": HistogramsScreen,
    }
    BINDINGS = [
        *(Binding(key, f"goto('{mode}')", title, show=False) for mode, key, title in SCREENS),
        # The screen tabs name "? help" on every screen: the footer keeps its room for the screen's own keys.
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, project=None, *, workspace=None, clock=time.monotonic, start: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.project = project
        self.workspace = workspace
        self.clock = clock
        self.start_mode = start or ("run" if project is not None else "projects")
        #: Published with "project" when another project is opened, "run" when a run changed the data and
        #: "labels" when a screen saved a triage label.
        self.data_changed: Signal[str] = Signal(self, "data_changed")

    def on_mount(self) -> None:  # noqa: D102
        self.sub_title = self.project.name if self.project is not None else "no project open"
        self.switch_mode(self.start_mode)

    # -- navigation -------------------------------------------------------------------------------
    def action_goto(self, mode: str) -> None:
        """Show the screen ``mode``."""
        if mode != self.current_mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        """Show the key bindings of the current screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def show_source(self, name: str, *, survey: str | None = None, focus=None) -> None:
        """Open the source screen on source ``name`` (zoomed on the detection ``focus``, if given)."""
        await self.switch_mode("source")
        self.screen.open_source(name, survey=survey, focus=focus)

    # -- projects ---------------------------------------------------------------------------------
    @property
    def run_active(self) -> bool:
        """Whether a run (or simulation) is working."""
        return any(w.group == "run" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                   for w in self.workers)

    def open_project(self, project) -> bool:
        """Make ``project`` the open one (refused while a run works); every screen forgets the old one.

        Returns
        -------
        bool
            Whether it was opened.
        """
        if self.run_active:
            self.notify("a run is working: pause or cancel it before opening another project", severity="warning")
            return False
        self.project = project
        self.sub_title = project.name
        self.data_changed.publish("project")
        self.notify(f"opened project {project.name}")
        self.action_goto("run")
        return True

    # -- command palette --------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Add the screens and the run controls to the command palette (ctrl+p)."""
        yield from super().get_system_commands(screen)
        for mode, key, title in SCREENS:
            yield SystemCommand(f"Go to {title}", f"Show the {title.lower()} screen (key {key})",
                                lambda mode=mode: self.action_goto(mode))
        if self.project is not None:
            yield SystemCommand("Run", "Download, reduce, analyse (and simulate) the project; resumes a paused run",
                                lambda: self._on_run_screen("start_run"))
            yield SystemCommand("Simulate", "Inject simulated events into the analysed sources",
                                lambda: self._on_run_screen("start_simulation"))
            yield SystemCommand("Pause run", "Stop after the current batch step; Run resumes",
                                lambda: self._on_run_screen("pause"))
            yield SystemCommand("Cancel run", "Stop after the current batch step, keeping what is committed",
                                lambda: self._on_run_screen("cancel"))
        yield SystemCommand("Help", "List the key bindings of this screen", self.action_help)

    def _on_run_screen(self, action: str) -> None:
        async def go() -> None:
            await self.switch_mode("run")
            self.screen.control(action)

        self.call_later(go)

    async def action_quit(self) -> None:
        """Quit; a working run is asked to stop after its current step (everything committed is kept)."""
        if self.run_active:
            for worker in self.workers:
                if worker.group == "run":
                    worker.cancel()
        self.exit()
