"""DetectionsScreen: the sortable detection list, triage labels (persisted) and a way to the source at the event."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from virtualobserver.tui.label_writer import LabelWriter
from virtualobserver.tui.format import label_text
from virtualobserver.tui.messages import DetectionsLoaded, LabelSaved
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.data_table import MeasuredDataTable

__all__ = ["DetectionsScreen", "ORDERS", "LABEL_FILTERS"]

#: Sort orders in the order ``o`` cycles through them: (service name, shown as).
ORDERS = (("snr", "|S/N|"), ("time", "peak time"), ("source", "source"), ("label", "label (unjudged first)"),
          ("centroid", "centroid offset σ"))
#: Index of the centroid order in ORDERS (key ``c``).
CENTROID = 4
#: Label filters in the order ``f`` cycles through them (service value, shown as).
LABEL_FILTERS = (("any", "all"), (None, "unjudged"), ("real", "real"), ("artifact", "artifact"), ("unsure", "unsure"))
MAX_ROWS = 5000
#: The footer shows the three labels as one entry ("r a u Label"): all of it fits in 80 columns.
_LABEL = Binding.Group("Label")


class DetectionsScreen(VOScreen):
    """Every detection of the current analysis version, to sort, judge and open.

    ``o`` cycles the order (|S/N|, time, source, label, centroid) and ``d`` flips its direction;
    ``c`` sorts by the centroid offset's significance (``cenσ``: how many errors the light that
    changed lies from the target; large for an event on a neighbour, blank where not measured);
    ``r``/``a``/``u`` label the highlighted detection real, artifact or unsure (``x`` clears)
    and move to the next one; ``f`` filters by label; ``s`` shows the simulated detections
    (hidden by default, as everywhere); enter opens the source zoomed on the event.
    """

    MODE = "detections"
    AUTO_FOCUS = "#detections"
    BINDINGS = [
        Binding("r", "label('real')", "Real", group=_LABEL),
        Binding("a", "label('artifact')", "Artifact", group=_LABEL),
        Binding("u", "label('unsure')", "Unsure", group=_LABEL),
        Binding("x", "label(None)", "Clear", show=False),
        Binding("o", "order", "Order"),
        Binding("c", "centroid", "By cenσ"),
        Binding("d", "direction", "Reverse", show=False),
        Binding("f", "filter", "Filter"),
        Binding("s", "simulated", "Simulated"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.order = 0
        self.descending: bool | None = None
        self.label_filter = 0
        self.include_simulated = False
        self.rows: dict[str, object] = {}
        self.label_writer = LabelWriter(self)

    def compose_body(self) -> ComposeResult:  # noqa: D102
        yield Static("", id="detections-hint")
        yield MeasuredDataTable(id="detections", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        table = self.query_one("#detections", DataTable)
        for label, key in (("id", "id"), ("source", "source"), ("flt", "filter"), ("kind", "kind"),
                           ("peak MJD", "time"), ("S/N", "snr"), ("label", "label"), ("sim", "sim"),
                           ("cenσ", "centroid"), ("Δmag", "dmag"), ("n", "n"), ("w", "width")):
            # Narrow headers (w: the matched filter's width in days; kind brt/dim) keep all 12 columns in 80
            # with short source names; with long ones (a survey's IDs) what vetting needs, up to the label and
            # sim, comes first. The label column is as wide as its longest label: labels change in place.
            table.add_column(label, key=key, width=8 if key == "label" else None)
        self._hint()

    # -- loading ----------------------------------------------------------------------------------
    def reload(self) -> None:  # noqa: D102
        if self.project is None:
            self._hint("no project open")
            return
        self._load(ORDERS[self.order][0], self.descending, self.include_simulated, LABEL_FILTERS[self.label_filter][0])

    def reset(self) -> None:  # noqa: D102
        self.rows.clear()
        self.query_one("#detections", DataTable).clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detections")
    def _load(self, order: str, descending, simulated: bool, label) -> None:
        self.post_message(DetectionsLoaded(self.project.detections(
            order_by=order, descending=descending, include_simulated=simulated, label=label)))

    @on(DetectionsLoaded)
    def loaded(self, message: DetectionsLoaded) -> None:  # noqa: D102
        table = self.query_one("#detections", DataTable)
        current = self._current_id()
        table.clear()
        self.rows = {}
        for row in message.rows[:MAX_ROWS]:
            d = row.detection
            key = str(d.id)
            self.rows[key] = row
            table.add_row(key, row.source, row.filter or "-", "brt" if d.kind == "brightening" else "dim",
                          f"{d.peak_mjd:.4f}", f"{d.snr:.1f}", label_text(row.label),
                          Text("sim", style="magenta") if d.is_simulated else "",
                          _centroid_text(d.centroid_offset_sigma), f"{d.delta_mag:+.3f}", str(d.num_epochs),
                          f"{d.filter_width:g}", key=key)
        if current in self.rows:
            table.move_cursor(row=table.get_row_index(current))
        self._hint(total=len(message.rows))

    # -- actions ----------------------------------------------------------------------------------
    def action_order(self) -> None:
        """Sort by the next order (|S/N|, time, source, label)."""
        self.order = (self.order + 1) % len(ORDERS)
        self.descending = None
        self.reload()

    def action_centroid(self) -> None:
        """Sort by the centroid offset's significance (events on a neighbour first); again reverses."""
        if self.order == CENTROID:
            self.action_direction()
            return
        self.order, self.descending = CENTROID, None
        self.reload()

    def action_direction(self) -> None:
        """Reverse the direction of the order."""
        natural = ORDERS[self.order][0] in ("snr", "centroid")
        self.descending = not (natural if self.descending is None else self.descending)
        self.reload()

    def action_filter(self) -> None:
        """Show every detection, the unjudged ones, or those of one label."""
        self.label_filter = (self.label_filter + 1) % len(LABEL_FILTERS)
        self.reload()

    def action_simulated(self) -> None:
        """Show or hide the simulated detections (of injected events)."""
        self.include_simulated = not self.include_simulated
        self.reload()

    def action_label(self, label: str | None) -> None:
        """Label the highlighted detection (saved in a worker) and move to the next one."""
        key = self._current_id()
        if key is None:
            return
        row = self.rows[key]
        table = self.query_one("#detections", DataTable)
        row.label = label
        table.update_cell(key, "label", label_text(label))
        self.label_writer.save(row.detection.id, label)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._hint()

    @on(LabelSaved)
    def label_saved(self, message: LabelSaved) -> None:  # noqa: D102
        if message.error:
            self.notify(f"label not saved: {message.error}", severity="error")
            self.reload()
            return
        self.publish_labels()

    @on(DataTable.RowSelected, "#detections")
    async def open_source(self, event: DataTable.RowSelected) -> None:
        """Open the detection's source, zoomed on the event."""
        row = self.rows.get(event.row_key.value)
        if row is not None:
            await self.app.show_source(row.source, survey=row.survey, focus=row.detection)

    @on(DataTable.HeaderSelected, "#detections")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by a clicked column (S/N, time, source, label or centroid σ); clicking it again reverses."""
        wanted = {"snr": 0, "time": 1, "source": 2, "label": 3, "centroid": CENTROID}.get(str(event.column_key.value))
        if wanted is None:
            return
        if wanted == self.order:
            self.action_direction()
        else:
            self.order, self.descending = wanted, None
            self.reload()

    # -- helpers ----------------------------------------------------------------------------------
    def _current_id(self) -> str | None:
        table = self.query_one("#detections", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _hint(self, text: str | None = None, total: int | None = None) -> None:
        if text is None:
            labels = [row.label for row in self.rows.values()]
            order = ORDERS[self.order][1]
            natural = ORDERS[self.order][0] in ("snr", "centroid")
            down = natural if self.descending is None else self.descending
            shown = len(self.rows) if total is None or total <= MAX_ROWS else f"{MAX_ROWS} of {total}"
            # The counts of labels first after the total: at 80 columns the line's end may be cut.
            text = (f"{shown} detections · {labels.count('real')} real, {labels.count('artifact')} artifact, "
                    f"{labels.count('unsure')} unsure, {labels.count(None)} unjudged · by {order} "
                    f"{'↓' if down else '↑'} · {LABEL_FILTERS[self.label_filter][1]} · "
                    f"sim {'shown' if self.include_simulated else 'hidden'}")
        self.query_one("#detections-hint", Static).update(text)


def _centroid_text(sigma: float | None) -> Text:
    """The centroid offset's significance, red from 3 (light from elsewhere), blank when not measured."""
    if sigma is None or sigma != sigma:
        return Text("")
    return Text(f"{sigma:.1f}", style="bold red" if sigma >= 3.0 else "", justify="right")
