"""CatalogScreen: browse the project's catalog with a selection expression and a cone, and see what each source has."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from virtualobserver.domain.errors import VOError
from virtualobserver.services.catalog_browser import FLAGS, parse_cone
from virtualobserver.tui.format import count, fmt
from virtualobserver.tui.messages import CatalogLoaded, LoadFailed
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.data_table import MeasuredDataTable

__all__ = ["CatalogScreen", "PAGE"]

PAGE = 500
_ONLY = (None, *FLAGS)
_YES = Text("✓", style="green")
_NO = Text("·", style="dim")


class CatalogScreen(VOScreen):
    """The selected catalog rows, filtered by an extra selection and a cone, with each row's products.

    ``/`` edits the selection (e.g. ``mag < 17 and parallax > 5``) and ``c`` the cone
    (``RA DEC RADIUS``, e.g. ``150.1 2.2 30arcmin``); enter applies, escape returns to the
    table. ``f`` keeps only rows with data, lightcurves or detections; ``]``/``[`` page;
    enter on a row opens the source.
    """

    MODE = "catalog"
    AUTO_FOCUS = "#catalog"
    BINDINGS = [
        Binding("slash", "edit('selection')", "Selection"),
        Binding("c", "edit('cone')", "Cone"),
        Binding("f", "only", "Only with…"),
        Binding("right_square_bracket", "page(1)", "Next page"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False),
        Binding("escape", "table", "Table", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.selection = ""
        self.cone_text = ""
        self.only = 0
        self.row_offset = 0
        self.page = None

    def compose_body(self) -> ComposeResult:  # noqa: D102
        with Horizontal(id="catalog-filters"):
            yield Input(placeholder="selection, e.g. mag < 17 and dec > 0", id="selection")
            yield Input(placeholder="cone: RA DEC RADIUS", id="cone")
        yield Static("", id="catalog-hint")
        yield MeasuredDataTable(id="catalog", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        self.query_one("#selection").border_title = "selection (/)"
        self.query_one("#cone").border_title = "cone (c)"
        # Detections next to the name: with a survey's long names the last columns fall off an 80-column screen.
        self.query_one("#catalog", DataTable).add_columns(
            "name", "det", "RA", "Dec", "mag", "sep ′", "source", "data", "LCs", "analysed")

    # -- loading ----------------------------------------------------------------------------------
    def reload(self) -> None:  # noqa: D102
        if self.project is None:
            self.query_one("#catalog-hint", Static).update("no project open")
            return
        try:
            cone = parse_cone(self.cone_text)
        except VOError as exc:
            self.query_one("#catalog-hint", Static).update(Text(str(exc), style="bold red"))
            return
        self.query_one("#catalog-hint", Static).update("reading the catalog…")
        self._load(self.selection, cone, _ONLY[self.only], self.row_offset)

    def reset(self) -> None:  # noqa: D102
        self.row_offset, self.page = 0, None
        self.query_one("#catalog", DataTable).clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="catalog")
    def _load(self, selection: str, cone, only, offset: int) -> None:
        try:
            page = self.project.browse_catalog(selection, cone, only=only, offset=offset, limit=PAGE)
        except VOError as exc:
            self.post_message(LoadFailed("catalog", " ".join(str(exc).split())))
            return
        self.post_message(CatalogLoaded(page))

    @on(CatalogLoaded)
    def loaded(self, message: CatalogLoaded) -> None:  # noqa: D102
        page = self.page = message.page
        table = self.query_one("#catalog", DataTable)
        table.clear()
        for r in page.rows:
            table.add_row(r.name, Text(str(r.detections), style="bold yellow") if r.detections else _NO,
                          f"{r.ra:.5f}", f"{r.dec:+.5f}", fmt(r.mag),
                          fmt(None if r.separation is None else r.separation * 60, ".2f"),
                          _YES if r.in_project else _NO, _YES if r.has_data else _NO,
                          str(r.lightcurves) if r.lightcurves else _NO, _YES if r.analysed else _NO, key=r.name)
        last = page.offset + len(page.rows)
        only = _ONLY[self.only]
        self.query_one("#catalog-hint", Static).update(
            f"{count(page.catalog)} rows · {count(page.selected)} selected by the project · "
            f"{count(page.matching)} match{' with ' + only if only else ''}"
            + (f" · showing {page.offset + 1:,}–{last:,}" if page.rows else ""))

    @on(LoadFailed)
    def load_failed(self, message: LoadFailed) -> None:  # noqa: D102
        self.query_one("#catalog-hint", Static).update(Text(f"{message.what}: {message.error}", style="bold red"))

    # -- actions ----------------------------------------------------------------------------------
    def action_edit(self, which: str) -> None:
        """Focus the selection or the cone input."""
        self.query_one(f"#{which}", Input).focus()

    def action_table(self) -> None:
        """Return the focus to the table."""
        self.query_one("#catalog", DataTable).focus()

    def action_only(self) -> None:
        """Cycle: every row, only rows with data, with lightcurves, with detections."""
        self.only = (self.only + 1) % len(_ONLY)
        self.row_offset = 0
        self.reload()

    def action_page(self, step: int) -> None:
        """Show the next (or previous) page of matching rows."""
        if self.page is None:
            return
        offset = max(self.row_offset + step * PAGE, 0)
        if offset >= self.page.matching:
            return
        self.row_offset = offset
        self.reload()

    @on(Input.Submitted)
    def apply(self, event: Input.Submitted) -> None:
        """Apply the edited selection or cone and return to the table."""
        if event.input.id == "selection":
            self.selection = event.value.strip()
        else:
            self.cone_text = event.value.strip()
        self.row_offset = 0
        self.reload()
        self.action_table()

    @on(DataTable.RowSelected, "#catalog")
    async def open_source(self, event: DataTable.RowSelected) -> None:
        """Open the highlighted source."""
        await self.app.show_source(str(event.row_key.value))
