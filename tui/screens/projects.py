"""ProjectsScreen: the project files found and the projects in the database, with versions and per-stage counts."""

from __future__ import annotations

import os

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from virtualobserver.domain.errors import VOError
from virtualobserver.tui.format import count, short_version
from virtualobserver.tui.messages import LoadFailed, ProjectsLoaded
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.data_table import MeasuredDataTable

__all__ = ["ProjectsScreen"]

_STAGES = ("reduce", "analyse", "simulate")


class ProjectsScreen(VOScreen):
    """Which projects exist: files (with their current versions) and database projects (every version).

    Enter on a file opens its project; enter on a database project opens it through the file
    that configures it. Counts of the files' rows are at their current versions (a changed
    parameter means a new version, with its own counts below).
    """

    MODE = "projects"
    AUTO_FOCUS = "#configs"
    BINDINGS = [Binding("s", "refresh", "Refresh")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.configs: list = []
        self.records: list = []

    def compose_body(self) -> ComposeResult:  # noqa: D102
        yield MeasuredDataTable(id="configs", cursor_type="row")
        yield MeasuredDataTable(id="database", cursor_type="row", zebra_stripes=True)
        yield Static("enter opens the highlighted project · tab moves between the tables", id="projects-hint")

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        configs = self.query_one("#configs", DataTable)
        # Headers as short as the stages' names, and "invalid" alone in an invalid file's row: every column
        # fits in 80 (the hint line says that enter tells why a file is invalid).
        configs.add_columns("", "file", "project", "surveys", "sources", "reduce", "analyse", "simulate")
        configs.border_title = "project files"
        database = self.query_one("#database", DataTable)
        database.add_columns("project", "sources", "survey", "stage", "version", "done", "current", "detections")
        database.border_title = "projects in the database"

    def reload(self) -> None:  # noqa: D102
        self._load()

    def action_refresh(self) -> None:
        """Read the files and the database again."""
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="projects")
    def _load(self) -> None:
        workspace, project = self.app.workspace, self.project
        try:
            configs = workspace.configs() if workspace is not None else []
            records = workspace.projects() if workspace is not None else project.projects() if project else []
        except VOError as exc:
            self.post_message(LoadFailed("projects", str(exc)))
            return
        self.post_message(ProjectsLoaded(configs, records))

    @on(ProjectsLoaded)
    def loaded(self, message: ProjectsLoaded) -> None:  # noqa: D102
        self.configs, self.records = message.configs, message.records
        records = {r.name: r for r in self.records}
        current_versions = {c.project: c.versions for c in self.configs if c.project}
        if self.project is not None:
            current_versions.setdefault(self.project.name, {
                s.name: {"download": s.download_version, "reduce": s.reduction_version,
                         "analyse": s.analysis_version, "simulate": s.simulation_version}
                for s in self.project.config.surveys})
        open_name = self.project.name if self.project is not None else None
        table = self.query_one("#configs", DataTable)
        table.clear()
        for i, entry in enumerate(self.configs):
            name = _relative(entry.path)
            if entry.error:
                table.add_row("", name, Text("invalid", style="red"), "", "", "", "", "", key=str(i))
                continue
            record = records.get(entry.project)
            done = {stage: sum(_done(record, survey, stage, versions[stage]) for survey, versions
                               in entry.versions.items()) for stage in _STAGES}
            table.add_row(Text("●", style="green") if entry.project == open_name else "", name, entry.project,
                          ", ".join(entry.versions), count(record.sources) if record else "0",
                          *(count(done[s]) for s in _STAGES), key=str(i))
        database = self.query_one("#database", DataTable)
        database.clear()
        for record in self.records:
            versions = current_versions.get(record.name, {})
            first = True
            for survey, stage, version, done in record.steps or [("", "", "", 0)]:
                current = versions.get(survey, {}).get(stage) == version
                detections = record.detections.get(version, 0) if stage == "analyse" else ""
                database.add_row(record.name if first else "", count(record.sources) if first else "",
                                 survey, stage, short_version(version), count(done) if stage else "",
                                 Text("✓", style="green") if current else "", str(detections),
                                 key=f"{record.name}/{survey}/{stage}/{version}")
                first = False
        invalid = sum(1 for entry in self.configs if entry.error)
        hint = f"{len(self.configs)} files · {len(self.records)} in the database · enter opens one"
        self.query_one("#projects-hint", Static).update(hint + (" (or says why a file is invalid)" if invalid else ""))

    @on(DataTable.RowSelected, "#configs")
    def open_config(self, event: DataTable.RowSelected) -> None:
        """Open the project of the chosen file."""
        entry = self.configs[int(event.row_key.value)]
        if entry.error:
            self.notify(f"{_relative(entry.path)}: {entry.error}", severity="error")
            return
        self._open(entry.path)

    @on(DataTable.RowSelected, "#database")
    def open_record(self, event: DataTable.RowSelected) -> None:
        """Open a database project through the file that configures it."""
        name = str(event.row_key.value).split("/", 1)[0]
        entry = next((c for c in self.configs if c.project == name), None)
        if self.project is not None and self.project.name == name:
            self.app.action_goto("run")
        elif entry is None:
            self.notify(f"no project file for {name!r} was found; open it with `vo tui CONFIG`", severity="warning")
        else:
            self._open(entry.path)

    def _open(self, path: str) -> None:
        if self.app.workspace is None:
            self.notify("this session cannot open other projects", severity="warning")
            return
        if self.app.run_active:
            self.notify("a run is working: pause or cancel it before opening another project", severity="warning")
            return
        self._open_worker(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open_worker(self, path: str) -> None:
        try:
            project = self.app.workspace.open(path)
        except VOError as exc:
            self.post_message(LoadFailed("open", " ".join(str(exc).split())))
            return
        self.app.call_from_thread(self.app.open_project, project)


def _done(record, survey: str, stage: str, version: str) -> int:
    if record is None:
        return 0
    return sum(n for s, st, v, n in record.steps if (s, st, v) == (survey, stage, version))


def _relative(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") else path
