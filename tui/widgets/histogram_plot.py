"""HistogramPlot: a 1-D view of a Histograms product (counts or injection-recovery efficiency) drawn with plotext."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from virtualobserver.tui.widgets.ticks import nice_ticks

__all__ = ["HistogramPlot", "render_counts", "render_efficiency", "describe"]


def _axis_values(histograms, axis: str):
    """Return (x values of the inner bins, x label, is categorical) of ``axis``."""
    spec = histograms.axes[axis]
    if not spec.is_numeric:
        return [*spec.categories, "other"], axis, True
    edges = np.asarray(spec.edges)
    centres = (edges[:-1] + edges[1:]) / 2
    ratios = edges[1:] / edges[:-1] if (edges > 0).all() else None
    if ratios is not None and np.allclose(ratios, ratios[0]) and ratios[0] > 1.5:
        # Log-spaced bins (widths, timescales) read better on a log axis.
        return np.log10(np.sqrt(edges[:-1] * edges[1:])).tolist(), f"log10 {axis}", False
    return centres.tolist(), axis, False


def _inner(values: np.ndarray, histograms, axis: str) -> np.ndarray:
    # Numeric axes carry underflow, overflow and NaN bins around the inner ones; categorical ones end in "other".
    return values[1:-2] if histograms.axes[axis].is_numeric else values


def describe(histograms, variable: str, axis: str) -> str:
    """Return one line: the total of ``variable`` and what fell outside ``axis``'s bins.

    Parameters
    ----------
    histograms : Histograms
        The product.
    variable : str
        Count variable.
    axis : str
        Axis shown.

    Returns
    -------
    str
        E.g. ``epochs 120,000 (<12 >3 NaN 0)``: the total, then what fell below, above and outside (NaN).
    """
    values = histograms.project(variable, axis).values
    text = f"{variable} {int(values.sum()):,}"
    if histograms.axes[axis].is_numeric:
        text += f" (<{int(values[0]):,} >{int(values[-2]):,} NaN {int(values[-1]):,})"
    return text


def _canvas(width: int, height: int, title: str, xlabel: str, ylabel: str):
    import plotext as plt

    plt.clf()
    # plotext would shrink the drawing to the size of the terminal it sees (80x24 under pytest, whatever
    # the app's size): the widget knows its size.
    plt.limit_size(False, False)
    plt.plotsize(max(width, 20), max(height, 8))
    plt.theme("clear")
    plt.title(title)
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    return plt


def _fix_x(plt, x, categorical: bool) -> None:
    # plotext's automatic ticks depend on its global state: set them, so a drawing is always the same.
    if categorical:
        plt.xticks(list(range(1, len(x) + 1)), [str(v) for v in x])
        return
    lo, hi = float(min(x)), float(max(x))
    half = (hi - lo) / max(len(x) - 1, 1) / 2
    plt.xlim(lo - half, hi + half)
    values, labels = nice_ticks(lo - half, hi + half, 5)
    plt.xticks(values, labels)


def _build(plt) -> str:
    figure = plt.build()
    plt.clf()  # plotext keeps global state: leave it empty for the next drawing
    return figure


def render_counts(histograms, variable: str, axis: str, width: int = 80, height: int = 20, *, title: str = "",
                  log: bool = False) -> str:
    """Return a bar chart of ``variable`` summed over every axis but ``axis``.

    Parameters
    ----------
    histograms : Histograms
        The product.
    variable : str
        Count variable (``epochs``, ``failed``, ``injected``, ``recovered``).
    axis : str
        Axis along the x direction.
    width, height : int
        Size in characters.
    title : str
        Plot title.
    log : bool
        Draw log10(1 + counts), for counts spanning decades.

    Returns
    -------
    str
        The drawing.
    """
    x, xlabel, categorical = _axis_values(histograms, axis)
    counts = _inner(histograms.project(variable, axis).values.astype(float), histograms, axis)
    y = np.log10(1 + counts) if log else counts
    plt = _canvas(width, height, title, xlabel, f"log10(1 + {variable})" if log else variable)
    plt.bar(list(range(1, len(x) + 1)) if categorical else x, y.tolist(), color="cyan",
            width=0.8 if categorical else 1.0)
    _fix_x(plt, x, categorical)
    return _build(plt)


def render_efficiency(histograms, axis: str, width: int = 80, height: int = 20, *, title: str = "",
                      kind: str | None = None) -> str:
    """Return the recovered fraction of injections along ``axis``: all kinds, and one kind (or each) beside it.

    Along a numeric axis, ``kind`` draws that simulated kind's points beside the line of all kinds
    (a terminal plot of every kind's points at once is unreadable); without it, every kind's.

    Parameters
    ----------
    histograms : Histograms
        The efficiency map (variables ``injected`` and ``recovered``).
    axis : str
        Axis along the x direction.
    width, height : int
        Size in characters.
    title : str
        Plot title.
    kind : str, optional
        The one simulated kind to draw beside all of them.

    Returns
    -------
    str
        The drawing.
    """
    x, xlabel, categorical = _axis_values(histograms, axis)
    plt = _canvas(width, height, title, xlabel, "recovered fraction")
    overall = _inner(histograms.efficiency(axis).values, histograms, axis)
    if categorical:
        plt.bar(list(range(1, len(x) + 1)), np.nan_to_num(overall).tolist(), color="cyan", width=0.8)
    else:
        ok = np.isfinite(overall)
        if ok.any():
            plt.plot(np.asarray(x)[ok].tolist(), overall[ok].tolist(), color="white", marker="braille", label="all")
        if "kind" in histograms.axes and axis != "kind":
            per_kind = histograms.efficiency("kind", axis)
            colours = ("green", "red", "blue", "magenta", "cyan", "yellow", "orange")
            for i, name in enumerate(histograms.axes["kind"].categories):
                if kind is not None and name != kind:
                    continue
                row = _inner(per_kind.values[i], histograms, axis)
                good = np.isfinite(row)
                if good.any():  # points only: with few injections per bin, lines would suggest too much
                    plt.scatter(np.asarray(x)[good].tolist(), row[good].tolist(), color=colours[i % len(colours)],
                                marker="dot", label=name)
    plt.ylim(0, 1.05)
    _fix_x(plt, x, categorical)
    return _build(plt)


class HistogramPlot(Static):
    """Shows one view of a histogram product; call :meth:`show`."""

    DEFAULT_CSS = """
    HistogramPlot {
        height: 1fr;
        border: round $secondary;
    }
    """

    def __init__(self, **kwargs):
        super().__init__("nothing analysed yet", **kwargs)
        self.histograms = None
        self.variable = ""
        self.axis = ""
        self.log_scale = False
        self.title_text = ""
        self.kind: str | None = None

    def show(self, histograms, variable: str, axis: str, *, log: bool = False, title: str = "",
             kind: str | None = None) -> None:
        """Draw ``variable`` (or ``efficiency``, with the simulated ``kind`` beside all) of ``histograms`` along ``axis``."""
        self.histograms, self.variable, self.axis, self.log_scale, self.title_text = histograms, variable, axis, log, title
        self.kind = kind
        self.refresh_plot()

    def refresh_plot(self) -> None:
        """Redraw at the widget's size."""
        if self.histograms is None:
            self.update("nothing to show yet: run (or simulate) the project first")
            return
        width, height = max(self.size.width, 30), max(self.size.height, 6)
        if self.variable == "efficiency":
            drawing = render_efficiency(self.histograms, self.axis, width, height, title=self.title_text,
                                        kind=self.kind)
        else:
            drawing = render_counts(self.histograms, self.variable, self.axis, width, height,
                                    title=self.title_text, log=self.log_scale)
        self.update(Text.from_ansi(drawing))

    def on_resize(self) -> None:  # noqa: D102
        if self.histograms is not None:
            self.refresh_plot()
