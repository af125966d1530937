"""SourceScreen: one source's metadata, its lightcurves plotted (step through them, zoom in time) and the data."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher, DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from virtualobserver.domain.analysis.quality import CUTS
from virtualobserver.domain.errors import VOError
from virtualobserver.tui.event_window import clamp_window, event_window
from virtualobserver.tui.label_writer import LabelWriter
from virtualobserver.tui.format import fmt, label_text
from virtualobserver.tui.messages import LabelSaved, SourceLoaded, StampsLoaded
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.lightcurve_plot import LightcurvePlot, epoch_table, flagged_epochs
from virtualobserver.tui.widgets.data_table import MeasuredDataTable
from virtualobserver.tui.widgets.stamps_panel import STAMP_ROWS, StampsPanel

__all__ = ["SourceScreen"]

MAX_EPOCH_ROWS = 5000
#: The detections pane's share of the screen's height, and its least rows (a header and three detections).
BOTTOM_SHARE, BOTTOM_MIN_ROWS = 0.25, 6
#: Below this many rows the stamps are hidden unless asked for (``i``): the plot needs the room.
STAMPS_FROM_HEIGHT = 30
#: How the meta line names each plot mode.
VIEW_NAMES = {"mag": "mag", "flux": "flux", "snr": "S/N"}
_LABEL = Binding.Group("Label")
_ZOOM = Binding.Group("Zoom", compact=True)


class SourceScreen(VOScreen):
    """A source: its lightcurves per survey, filter and season, drawn or tabulated, with detections marked.

    Vetting happens here: ``e`` (``E`` back) steps through the source's detections in time across
    all its lightcurves, showing each one's lightcurve over a window as wide as the event needs
    (clamped to the data), with the detection highlighted in the pane below; ``r``/``a``/``u``
    label the highlighted detection real, artifact or unsure (``x`` clears), saved at once.
    ``n``/``N`` step through the lightcurves (``A`` all together), ``+``/``-`` zoom in time around
    the centre, ``,``/``.`` pan, ``0`` shows the whole span, ``t`` switches between the plot and
    the epochs table, ``m`` between magnitudes, flux (with the trend each epoch was measured
    against) and per-epoch S/N, ``s`` shows simulated detections too, ``v`` the next survey.
    Epochs a quality cut removed are drawn with that cut's marker, and the plot's bottom border
    names the cuts with their counts. For a survey with images, the stamps (reference, peak,
    difference) of the highlighted detection are drawn beside it, titled with its centroid offset;
    ``i`` shows or hides them (hidden by default below 30 rows, where the plot needs the room).
    """

    MODE = "source"
    AUTO_FOCUS = "#source-detections"
    BINDINGS = [
        Binding("r", "label('real')", "Real", group=_LABEL),
        Binding("a", "label('artifact')", "Artifact", group=_LABEL),
        Binding("u", "label('unsure')", "Unsure", group=_LABEL),
        Binding("x", "label(None)", "Clear label", show=False),
        Binding("e", "next_event(1)", "Event"),
        Binding("E", "next_event(-1)", "Prev event", show=False),
        Binding("n", "step(1)", "LC"),
        Binding("N", "step(-1)", "Prev LC", show=False),
        Binding("A", "all", "All LCs", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", group=_ZOOM),
        Binding("minus", "zoom(2.0)", "Zoom out", group=_ZOOM),
        Binding("comma", "pan(-0.5)", "Earlier", show=False),
        Binding("full_stop", "pan(0.5)", "Later", show=False),
        Binding("0", "unzoom", "Whole span", show=False),
        Binding("m", "mode", "View"),
        Binding("t", "table", "Table"),
        Binding("s", "simulated", "Simulated", show=False),
        Binding("v", "survey", "Survey", show=False),
        Binding("i", "stamps", "Stamps", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.name_shown: str | None = None
        self.survey: str | None = None
        self.source = None
        self.views: list = []
        self.scores: dict = {}
        self.labels: dict[int, str] = {}
        self.index: int | None = None  # None: every lightcurve together
        self.xlim: tuple[float, float] | None = None
        self.include_simulated = False
        self.event = -1
        self.stamps_for: str | None = None  # the detection whose stamps were asked for last
        self.stamps_wanted: bool | None = None  # None: shown where there is room (see _layout)
        self._images = False
        self.label_writer = LabelWriter(self)

    def compose_body(self) -> ComposeResult:  # noqa: D102
        yield Static("no source: open one from the catalog (2), the detections (5) or the palette (ctrl+p)",
                     id="source-meta")
        with ContentSwitcher(initial="plot", id="source-views"):
            yield LightcurvePlot(id="plot")
            yield MeasuredDataTable(id="epochs", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="source-bottom"):
            yield MeasuredDataTable(id="source-detections", cursor_type="row")
            yield StampsPanel(id="stamps")

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        self.query_one("#epochs", DataTable).add_columns(
            "filter", "season", "MJD", "mag", "err", "flux", "fluxerr", "flag", "cut", "S/N", "exp s")
        detections = self.query_one("#source-detections", DataTable)
        # Fixed widths: the table is refilled for every source, and auto-sizing would make it jump. What a
        # person vets by comes first (S/N, label, sim), so it stays in view beside the stamps at 80 columns.
        # Amplitude (fractional, at the peak) and equivalent duration (s) where the analysis measured them.
        for label, key, width in (("id", "id", 5), ("LC", "lc", 4), ("S/N", "snr", 5), ("label", "label", 8),
                                  ("sim", "sim", 3), ("kind", "kind", 6), ("peak MJD", "time", 10),
                                  ("Δmag", "dmag", 7), ("amp", "amp", 7), ("ED s", "ed", 7), ("n", "n", 3),
                                  ("width d", "width", 7), ("worst cuts", "cuts", 30)):
            detections.add_column(label, key=key, width=width)
        self.query_one("#source-detections").border_title = "detections"
        self._stamps_shown(False)

    def on_resize(self) -> None:  # noqa: D102
        self._layout()

    # -- opening ----------------------------------------------------------------------------------
    def open_source(self, name: str, *, survey: str | None = None, focus=None) -> None:
        """Load source ``name`` (of ``survey``), zoomed on the detection ``focus`` if given."""
        self.name_shown, self.survey, self.index, self.xlim, self.event = name, survey, None, None, -1
        if focus is not None and focus.is_simulated:
            self.include_simulated = True
        self.query_one("#source-meta", Static).update(f"loading {name}…")
        # The layout first: a plot drawn before the stamps row grows would keep ticks chosen for the old height.
        self._stamps_shown(self._has_images())
        self._load(name, survey, focus)

    def reload(self) -> None:  # noqa: D102
        if self.name_shown is not None and self.project is not None:
            self._load(self.name_shown, self.survey, None)

    def reset(self) -> None:  # noqa: D102
        self.name_shown, self.source, self.views, self.scores, self.labels = None, None, [], {}, {}
        self._stamps_shown(False)
        self.query_one("#source-meta", Static).update("no source: open one from the catalog (2) or the detections (5)")
        self.query_one(LightcurvePlot).show([], "")
        self.query_one("#epochs", DataTable).clear()
        self.query_one("#source-detections", DataTable).clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="source")
    def _load(self, name: str, survey: str | None, focus) -> None:
        project = self.project
        views = project.source_lightcurves(name, survey, include_simulated=self.include_simulated)
        labels = project.detection_labels([d.id for _, found in views for d in found])
        self.post_message(SourceLoaded(name, views, project.epoch_scores(name, survey), project.source(name),
                                       survey, focus, labels))

    @on(SourceLoaded)
    def loaded(self, message: SourceLoaded) -> None:  # noqa: D102
        if message.name != self.name_shown:
            return  # an older request answered late
        if not message.views and message.source is None:
            self.notify(f"no source {message.name!r} in project {self.project.name}", severity="warning")
        focused = self._current_id() if message.focus is None else str(message.focus.id)
        self.source, self.views, self.scores = message.source, message.views, message.scores
        self.labels = dict(message.labels)
        if self.index is not None and self.index >= len(self.views):
            self.index = None
        if message.focus is not None:
            self._zoom_on(message.focus)
            self.event = next((i for i, d in enumerate(self._events()) if d.id == message.focus.id), -1)
        self._stamps_shown(self._has_images())
        self.stamps_for = None
        self.query_one("#stamps", StampsPanel).show(None, "no detection")
        self._fill_detections()
        if focused is not None:
            self._highlight(focused)
        self._draw()

    # -- actions ----------------------------------------------------------------------------------
    def action_step(self, step: int) -> None:
        """Show the next (or previous) lightcurve alone."""
        if not self.views:
            return
        if self.index is None:
            self.index = 0 if step > 0 else len(self.views) - 1
        else:
            self.index = (self.index + step) % len(self.views)
        if self.xlim is not None:
            mjd = self.views[self.index][0].mjds
            if not ((mjd >= self.xlim[0]) & (mjd <= self.xlim[1])).any():
                self.xlim = None  # the zoom shows nothing of this lightcurve: show all of it
            else:
                self.xlim = self._clamped(self.xlim)
        self._draw()

    def action_all(self) -> None:
        """Show every lightcurve together."""
        self.index = None
        self.xlim = None if self.xlim is None else self._clamped(self.xlim)
        self._draw()

    def action_zoom(self, factor: float) -> None:
        """Narrow (factor < 1) or widen the time range around its centre (never beyond the data)."""
        lo, hi = self.xlim or self._span()
        if lo is None:
            return
        centre, half = (lo + hi) / 2, max((hi - lo) / 2 * factor, 0.001)
        full = self._span()
        self.xlim = None if half * 2 >= full[1] - full[0] and factor > 1 else \
            self._clamped((centre - half, centre + half))
        self._draw()

    def action_pan(self, fraction: float) -> None:
        """Move the zoomed time range by ``fraction`` of its width (stopping at the first or last epoch)."""
        if self.xlim is None:
            return
        lo, hi = self.xlim
        shift = (hi - lo) * fraction
        self.xlim = self._clamped((lo + shift, hi + shift))
        self._draw()

    def action_unzoom(self) -> None:
        """Show the whole time span."""
        self.xlim = None
        self._draw()

    def action_next_event(self, step: int = 1) -> None:
        """Show the next (or previous) detection of the source in time, whichever lightcurve it is in."""
        events = self._events()
        if not events:
            self.notify("no detection of this source" + ("" if self.include_simulated else " (s: simulated too)"))
            return
        if self.event < 0 and step < 0:
            self.event = 0
        self.event = (self.event + step) % len(events)
        self._zoom_on(events[self.event])
        self._highlight(str(events[self.event].id))
        self._draw()

    def action_label(self, label: str | None) -> None:
        """Label the highlighted detection (real, artifact, unsure; None clears), saved in a worker."""
        key = self._current_id()
        if key is None:
            self.notify("no detection to label")
            return
        detection_id = int(key)
        if label is None:
            self.labels.pop(detection_id, None)
        else:
            self.labels[detection_id] = label
        self.query_one("#source-detections", DataTable).update_cell(key, "label", label_text(label))
        self.label_writer.save(detection_id, label)

    @on(LabelSaved)
    def label_saved(self, message: LabelSaved) -> None:  # noqa: D102
        if message.error:
            self.notify(f"label not saved: {message.error}", severity="error")
            self.reload()
            return
        self.publish_labels()

    def action_table(self) -> None:
        """Switch between the plot and the table of epochs."""
        switcher = self.query_one("#source-views", ContentSwitcher)
        switcher.current = "epochs" if switcher.current == "plot" else "plot"
        if switcher.current == "epochs":
            self.query_one("#epochs").focus()

    def action_mode(self) -> None:
        """Plot magnitudes, flux with the trend, or each epoch's best S/N with the threshold."""
        self.query_one(LightcurvePlot).toggle()
        if self.name_shown is not None:
            self.query_one("#source-meta", Static).update(self._meta(self._shown()))

    def action_simulated(self) -> None:
        """Show or hide the simulated detections (of injected events)."""
        self.include_simulated = not self.include_simulated
        self.notify("simulated detections " + ("shown" if self.include_simulated else "hidden"))
        self.reload()

    def action_survey(self) -> None:
        """Show the source's lightcurves of the project's next survey."""
        if self.project is None or self.name_shown is None:
            return
        names = [s.name for s in self.project.config.surveys]
        current = names.index(self.survey) if self.survey in names else 0
        self.open_source(self.name_shown, survey=names[(current + 1) % len(names)])

    def action_stamps(self) -> None:
        """Show or hide the stamps (of a survey with images)."""
        if not self._images:
            self.notify("this survey has no images")
            return
        self.stamps_wanted = not self._stamps_visible()
        self._layout()

    # -- drawing ----------------------------------------------------------------------------------
    def _shown(self) -> list:
        return self.views if self.index is None else self.views[self.index:self.index + 1]

    def _events(self) -> list:
        """Every detection of the source (all lightcurves), in time."""
        return sorted((d for _, found in self.views for d in found), key=lambda d: (d.peak_mjd, d.id))

    def _span(self) -> tuple[float | None, float | None]:
        mjds = [lc.mjds for lc, _ in self._shown() if lc.mjds.size]
        if not mjds:
            return None, None
        lo, hi = min(float(m.min()) for m in mjds), max(float(m.max()) for m in mjds)
        pad = max((hi - lo) * 0.02, 0.5)
        return lo - pad, hi + pad

    def _clamped(self, window: tuple[float, float]) -> tuple[float, float]:
        mjds = [lc.mjds for lc, _ in self._shown() if lc.mjds.size]
        if not mjds:
            return window
        return clamp_window(window, min(float(m.min()) for m in mjds), max(float(m.max()) for m in mjds))

    def _zoom_on(self, detection) -> None:
        # The lightcurve the detection is in, over a window sized by the event and kept inside the data.
        for i, (lc, found) in enumerate(self.views):
            if any(d.id == detection.id for d in found):
                self.index = i
                self.xlim = event_window(detection.start_mjd, detection.end_mjd, detection.filter_width, lc.mjds)
                return
        self.xlim = event_window(detection.start_mjd, detection.end_mjd, detection.filter_width, np.zeros(0))

    def _draw(self) -> None:
        if self.project is None or self.name_shown is None:
            return
        shown = self._shown()
        self.query_one("#source-meta", Static).update(self._meta(shown))
        project = self.project
        survey = next((s for s in project.config.surveys if s.name == self.survey), project.config.surveys[0])
        what = "all lightcurves" if self.index is None else f"{shown[0][0].filter} season {shown[0][0].season}" \
            if shown else ""
        title = f"{self.name_shown} · {survey.name} · {what}"
        self.query_one(LightcurvePlot).show(shown, title, scores=self.scores,
                                            threshold=survey.analysis.threshold, xlim=self.xlim)
        self._fill_epochs(shown)

    def _meta(self, shown) -> str:
        s = self.source
        first = f"[b]{self.name_shown}[/b]"
        if s is not None:
            first += f"  RA {s.ra:.5f}  Dec {s.dec:+.5f}  mag {fmt(s.mag)}"
            if s.pmra is not None or s.pmdec is not None:
                first += f"  pm {fmt(s.pmra, '.1f')}, {fmt(s.pmdec, '.1f')} mas/yr"
            if s.parallax is not None:
                first += f"  plx {fmt(s.parallax, '.2f')} mas"
        epochs = sum(lc.mjds.size for lc, _ in shown)
        flagged = sum(int(flagged_epochs(lc, self.scores).sum()) for lc, _ in shown)
        # With the analysis products these are the epochs a quality cut removed; without, the survey's flags.
        apart = "cut" if any(epoch_table(lc, self.scores) is not None for lc, _ in shown) else "flagged"
        events = self._events()
        where = f"all {len(self.views)}" if self.index is None else f"{self.index + 1}/{len(self.views)}"
        event = f"event {self.event + 1}/{len(events)}" if 0 <= self.event < len(events) else f"{len(events)} det."
        zoom = "" if self.xlim is None else f" · MJD {self.xlim[0]:.2f}–{self.xlim[1]:.2f}"
        view = self.query_one(LightcurvePlot).mode
        second = (f"LC {where} · {epochs} epochs, {flagged} {apart} · {event}"
                  f"{' (+sim)' if self.include_simulated else ''} · {VIEW_NAMES[view]}{zoom}")
        return f"{first}\n{second}"

    def _fill_epochs(self, shown) -> None:
        table = self.query_one("#epochs", DataTable)
        table.clear()
        rows = 0
        for lc, _ in shown:
            inside = np.ones(lc.mjds.size, bool) if self.xlim is None else \
                (lc.mjds >= self.xlim[0]) & (lc.mjds <= self.xlim[1])
            scores = self.scores.get(lc.key) or {}
            cut = scores.get("quality_flag")
            snr = scores.get("snr")
            for i in np.flatnonzero(inside)[: MAX_EPOCH_ROWS - rows]:
                table.add_row(lc.filter, str(lc.season), f"{lc.mjds[i]:.5f}", fmt(float(lc.mag[i]), ".3f"),
                              fmt(float(lc.magerr[i]), ".3f"), fmt(float(lc.flux[i]), ".4g"),
                              fmt(float(lc.fluxerr[i]), ".3g"), str(int(lc.flag[i])),
                              "-" if cut is None or len(cut) != lc.mjds.size else _cut_names(int(cut[i])),
                              "-" if snr is None or len(snr) != lc.mjds.size else fmt(float(snr[i]), ".1f"),
                              fmt(float(lc.exptime[i]), ".0f"))
                rows += 1

    def _fill_detections(self) -> None:
        table = self.query_one("#source-detections", DataTable)
        table.clear()
        for lc, found in self.views:
            for d in found:
                cuts = ", ".join(f"{k}={v:.3g}" for k, v in sorted(d.quality.items())
                                 if v is not None and k not in ("nan", "flag"))
                table.add_row(str(d.id), f"{lc.filter} {lc.season}", f"{d.snr:.1f}", label_text(self.labels.get(d.id)),
                              Text("sim", style="magenta") if d.is_simulated else "", d.kind[:6],
                              f"{d.peak_mjd:.4f}", f"{d.delta_mag:.3f}", fmt(getattr(d, "amplitude", None), ".3g"),
                              _seconds(getattr(d, "equivalent_duration", None)), str(d.num_epochs),
                              f"{d.filter_width:g}", cuts, key=str(d.id))

    def _current_id(self) -> str | None:
        table = self.query_one("#source-detections", DataTable)
        if not 0 <= table.cursor_row < table.row_count:
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    def _highlight(self, detection_id: str) -> None:
        """Move the pane's cursor to a detection, scrolled into view (after the table has laid out its rows)."""
        table = self.query_one("#source-detections", DataTable)
        try:
            row = table.get_row_index(detection_id)
        except RowDoesNotExist:
            return  # no longer listed (simulated ones hidden): the cursor stays
        table.move_cursor(row=row)
        # Rows added by a refill are measured on a later idle; scroll once they are.
        self.call_after_refresh(table._scroll_cursor_into_view)

    # -- stamps -----------------------------------------------------------------------------------
    def _has_images(self) -> bool:
        clients = getattr(self.project, "clients", {}) or {}
        return any(getattr(client, "has_images", False) for client in clients.values())

    def _stamps_shown(self, available: bool) -> None:
        self._images = available
        self._layout()

    def _stamps_visible(self) -> bool:
        if not self._images:
            return False
        return self.stamps_wanted if self.stamps_wanted is not None else self.size.height >= STAMPS_FROM_HEIGHT

    def _layout(self) -> None:
        """Share the height: the plot gets most of it, the detections pane a quarter (the stamps' height at least)."""
        shown = self._stamps_visible()
        self.query_one("#stamps", StampsPanel).display = shown
        rows = max(BOTTOM_MIN_ROWS, round(self.size.height * BOTTOM_SHARE))
        if shown:
            rows = max(rows, STAMP_ROWS + 3)
        self.query_one("#source-bottom").styles.height = rows

    @on(DataTable.RowHighlighted, "#source-detections")
    def detection_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the stamps of the highlighted detection."""
        table = event.data_table
        # The row under the cursor now, not the event's: a refill's highlight of row 0 can arrive after
        # the cursor was moved to the detection the screen was opened on.
        if not self._has_images() or self.name_shown is None or not 0 <= table.cursor_row < table.row_count:
            return
        detection_id = str(table.get_row_at(table.cursor_row)[0])
        if detection_id == self.stamps_for:
            return  # asked for already
        self.stamps_for = detection_id
        found = next((d for _, ds in self.views for d in ds if str(d.id) == detection_id), None)
        panel = self.query_one("#stamps", StampsPanel)
        if found is not None and found.is_simulated:
            panel.show(None, "a simulated event: it is in no image")
            return
        panel.show(None, "loading stamps…")
        self._load_stamps(self.name_shown, detection_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="stamps")
    def _load_stamps(self, name: str, detection_id: str) -> None:
        try:
            stamps = self.project.detection_stamps(name, int(detection_id))
        except VOError as exc:
            self.post_message(StampsLoaded(name, detection_id, error=str(exc)))
            return
        self.post_message(StampsLoaded(name, detection_id, stamps))

    @on(StampsLoaded)
    def stamps_loaded(self, message: StampsLoaded) -> None:  # noqa: D102
        if message.name != self.name_shown or message.detection_id != self.stamps_for:
            return  # an older request answered late
        panel = self.query_one("#stamps", StampsPanel)
        if message.error:
            panel.show(None, f"no stamps: {message.error}")
        elif message.stamps is None:
            panel.show(None, "no stamps: no images of enough frames around this event")
        else:
            found = next((d for _, ds in self.views for d in ds if str(d.id) == message.detection_id), None)
            panel.show(message.stamps, _stamps_title(message.detection_id, found))

    @on(DataTable.RowSelected, "#source-detections")
    def detection_selected(self, event: DataTable.RowSelected) -> None:
        """Zoom on the detection chosen in the table."""
        detection_id = str(event.data_table.get_row_at(event.cursor_row)[0])
        for _, found in self.views:
            for d in found:
                if str(d.id) == detection_id:
                    self._zoom_on(d)
                    self._draw()
                    return


def _stamps_title(detection_id: str, detection) -> str:
    """``det ID · cen Sσ P px``: the detection and its centroid offset (significance, pixels) where measured."""
    sigma = getattr(detection, "centroid_offset_sigma", None)
    if sigma is None:
        return f"det {detection_id}"
    return f"det {detection_id} · cen {sigma:.1f}σ {fmt(detection.centroid_offset_px, '.1f')} px"


def _cut_names(quality_flag: int) -> str:
    """The cuts an epoch failed, by name (bit i of its quality flag is cut ``CUTS[i]``); empty if none."""
    return ",".join(name for bit, name in enumerate(CUTS) if quality_flag >> bit & 1)


def _seconds(value) -> str:
    """An equivalent duration in seconds within the column's 7 characters (``-`` where not measured)."""
    return fmt(value, ".3g" if value is None or not np.isfinite(value) or abs(value) < 1000 else ".0f")
