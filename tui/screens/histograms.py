"""HistogramsScreen: the scanned-data histograms, the injection-recovery efficiency and the event rates it gives."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from virtualobserver.domain.errors import VOError
from virtualobserver.tui.messages import HistogramLoaded, RateLoaded
from virtualobserver.tui.screens.base import VOScreen
from virtualobserver.tui.widgets.histogram_plot import HistogramPlot, describe

__all__ = ["HistogramsScreen", "PRODUCTS", "rate_text"]

#: Histogram products in list order: (name, shown as).
PRODUCTS = (
    ("scanned", "scanned epochs"),
    ("cut_offset", "cut: offset"),
    ("cut_limiting_mag", "cut: limiting mag"),
    ("cut_chi", "cut: PSF chi"),
    ("cut_sharp", "cut: sharpness"),
    ("efficiency", "efficiency"),
)


class HistogramsScreen(VOScreen):
    """How much data of each quality was scanned, and the fraction of injected events recovered.

    Choose a product on the left; ``a`` steps through its axes, ``v`` through its variables
    (epochs, failed; for the efficiency map: the recovered fraction, injected, recovered),
    ``l`` toggles a log scale, ``u`` the next survey. With the efficiency map, the event rate of one
    simulated kind (per source per year, with its 90 % interval, from ``Project.rate``) is shown under
    it, and that kind's recovered fraction beside all kinds' (one kind at a time: every kind's points at
    once cannot be read in a terminal); ``k`` steps through the kinds.
    """

    MODE = "histograms"
    AUTO_FOCUS = "#products"
    BINDINGS = [
        Binding("a", "axis", "Axis"),
        Binding("v", "variable", "Variable"),
        Binding("l", "log", "Log scale"),
        Binding("u", "survey", "Survey", show=False),
        Binding("k", "kind", "Kind"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.product = PRODUCTS[0][0]
        self.survey_index = 0
        self.histograms = None
        self.axis_index = 0
        self.variable_index = 0
        self.log_scale = False
        self.kind_index = 0

    def compose_body(self) -> ComposeResult:  # noqa: D102
        with Horizontal(id="histograms-body"):
            yield OptionList(*(Option(title, id=name) for name, title in PRODUCTS), id="products")
            with Vertical(id="histogram-view"):
                yield Static("", id="histogram-info")
                yield Static("", id="rate-info")
                yield HistogramPlot(id="histogram")

    def on_mount(self) -> None:  # noqa: D102
        super().on_mount()
        self.query_one("#products").border_title = "products"

    def reload(self) -> None:  # noqa: D102
        if self.project is None:
            self.query_one("#histogram-info", Static).update("no project open")
            return
        surveys = self.project.config.surveys
        survey = surveys[self.survey_index % len(surveys)].name
        self.query_one("#histogram-info", Static).update(f"loading {self.product} ({survey})…")
        self._load(self.product, survey)
        rate_info = self.query_one("#rate-info", Static)
        rate_info.display = self.product == "efficiency"
        if self.product == "efficiency":
            self._load_rate_of(survey)

    def reset(self) -> None:  # noqa: D102
        self.survey_index, self.histograms, self.kind_index = 0, None, 0

    @work(thread=True, exclusive=True, exit_on_error=False, group="histograms")
    def _load(self, name: str, survey: str) -> None:
        self.post_message(HistogramLoaded(name, survey, self.project.histograms(name, survey)))

    def _survey_config(self):
        surveys = self.project.config.surveys
        return surveys[self.survey_index % len(surveys)]

    def _load_rate_of(self, survey: str) -> None:
        kinds = self._survey_config().simulation.kinds
        kind = kinds[self.kind_index % len(kinds)]
        self.query_one("#rate-info", Static).update(f"rate of {kind}: computing…")
        self._load_rate(kind, survey)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rate")
    def _load_rate(self, kind: str, survey: str) -> None:
        try:
            self.post_message(RateLoaded(kind, survey, self.project.rate(kind, survey)))
        except VOError as exc:  # no injections of the kind, nothing analysed: said in the line, not as an error
            self.post_message(RateLoaded(kind, survey, error=str(exc)))

    @on(RateLoaded)
    def rate_loaded(self, message: RateLoaded) -> None:  # noqa: D102
        self.query_one("#rate-info", Static).update(rate_text(message))

    @on(HistogramLoaded)
    def loaded(self, message: HistogramLoaded) -> None:  # noqa: D102
        if message.name != self.product:
            return
        self.histograms, self.survey = message.histograms, message.survey
        self.axis_index = self.variable_index = 0
        if message.name == "efficiency" and self.histograms is not None and "snr_amplitude" in self.histograms.axes:
            self.axis_index = list(self.histograms.axes).index("snr_amplitude")
        self._draw()

    @on(OptionList.OptionHighlighted, "#products")
    def product_chosen(self, event: OptionList.OptionHighlighted) -> None:  # noqa: D102
        if event.option.id != self.product:
            self.product = event.option.id
            self.reload()

    def _variables(self) -> list[str]:
        if self.histograms is None:
            return []
        names = list(self.histograms.variables)
        return ["efficiency", *names] if self.product == "efficiency" else names

    def _draw(self) -> None:
        plot, info = self.query_one(HistogramPlot), self.query_one("#histogram-info", Static)
        if self.histograms is None:
            plot.show(None, "", "")
            what = "simulate the project (m on the run screen)" if self.product == "efficiency" else "run it"
            info.update(f"no {self.product} histograms at the current version yet: {what}")
            return
        axes = list(self.histograms.axes)
        axis = axes[self.axis_index % len(axes)]
        variable = self._variables()[self.variable_index % len(self._variables())]
        title = f"{self.product} ({self.survey}): {variable} by {axis}"
        plot.show(self.histograms, variable, axis, log=self.log_scale, title=title, kind=self._kind())
        if variable == "efficiency":
            injected, recovered = self.histograms.total("injected"), self.histograms.total("recovered")
            overall = f"{recovered / injected:.1%}" if injected else "-"
            text = f"recovered {recovered:,} of {injected:,} injected ({overall})"
        else:
            text = describe(self.histograms, variable, axis)
        info.update(f"{text} · a: next of {len(axes)} axes · {'log' if self.log_scale else 'linear'}")

    def action_axis(self) -> None:
        """Draw along the next axis."""
        self.axis_index += 1
        self._draw()

    def action_variable(self) -> None:
        """Draw the next variable."""
        self.variable_index += 1
        self._draw()

    def action_log(self) -> None:
        """Toggle a logarithmic count scale."""
        self.log_scale = not self.log_scale
        self._draw()

    def action_kind(self) -> None:
        """Show the next simulated kind: its efficiency beside all kinds', and its event rate."""
        if self.project is None or self.product != "efficiency":
            return
        self.kind_index += 1
        self._load_rate_of(self._survey_config().name)
        self._draw()

    def _kind(self) -> str | None:
        """The simulated kind whose efficiency and rate are shown (the same one ``k`` steps)."""
        if self.project is None:
            return None
        kinds = self._survey_config().simulation.kinds
        return kinds[self.kind_index % len(kinds)] if kinds else None

    def action_survey(self) -> None:
        """Show the next survey's histograms."""
        self.survey_index += 1
        self.reload()


def rate_text(message: RateLoaded) -> str:
    """Return the two lines the screen shows for an event rate (or for why there is none)."""
    r = message.rate
    if r is None:
        return f"rate of {message.kind}: {message.error} · k: next kind"
    level = f"{r.confidence:.0%}"
    if r.upper_limit:
        head = f"rate {r.kind} < {r.upper:.3g} /source/yr ({level} upper limit)"
    else:
        head = f"rate {r.kind} {r.rate:.3g} /source/yr, {level} [{r.lower:.3g}, {r.upper:.3g}]"
    inj = r.injections
    # What the efficiency includes: the injections no exposure saw (seasonal gaps, between epochs).
    return (f"{head}\nN_obs {r.observed} · N_fa {r.false_alarms:.2g} · eff {inj.recovered}/{inj.injected} "
            f"({inj.in_gaps} unobserved: duty cycle in) · T {r.years:,.0f} yr · k: next kind")
