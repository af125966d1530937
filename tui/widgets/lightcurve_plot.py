"""LightcurvePlot: a source's lightcurves drawn in the terminal with plotext, detections marked."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

__all__ = ["LightcurvePlot", "render_lightcurves", "render_scores"]

_COLOURS = ("green", "red", "blue", "magenta", "cyan", "yellow")


def render_lightcurves(views, width: int = 100, height: int = 24, title: str = "") -> str:
    """Return a plotext drawing (with ANSI colours) of magnitude against MJD.

    Good epochs are dots per filter, flagged epochs crosses, and each detection's
    peak a vertical line (its colour says brightening or dimming). Brighter is up.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection), as from ``Project.source_lightcurves``.
    width, height : int
        Size in characters.
    title : str
        Plot title.

    Returns
    -------
    str
        The drawing.
    """
    plt = _start(width, height, title, "mag (brighter up)")
    colours = _colours(views)
    # Astronomers read brighter as up: plot -mag and label the ticks with magnitudes.
    mags = np.concatenate([lc.mag[np.isfinite(lc.mag)] for lc, _ in views] or [np.zeros(0)])
    for lc, detections in views:
        colour = colours[lc.filter]
        good = lc.good & np.isfinite(lc.mag)
        label = f"{lc.filter}" if lc.season == 0 else None
        if good.any():
            plt.scatter(lc.mjds[good].tolist(), (-lc.mag[good]).tolist(), color=colour, marker="dot", label=label)
        bad = ~lc.good & np.isfinite(lc.mag)
        if bad.any():
            plt.scatter(lc.mjds[bad].tolist(), (-lc.mag[bad]).tolist(), color=colour, marker="x")
        _mark(plt, detections)
    if mags.size:
        ticks = np.linspace(-mags.max(), -mags.min(), 5)
        plt.yticks(ticks.tolist(), [f"{-t:.2f}" for t in ticks])
    return _finish(plt)


def render_scores(views, scores: dict, threshold: float, width: int = 100, height: int = 24, title: str = "") -> str:
    """Return a plotext drawing of each epoch's best score (S/N) against MJD, with the threshold marked.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection), as from ``Project.source_lightcurves``.
    scores : dict
        Lightcurve key -> per-epoch products, as from ``Project.epoch_scores``.
    threshold : float
        Detection threshold, drawn at plus and minus.
    width, height : int
        Size in characters.
    title : str
        Plot title.

    Returns
    -------
    str
        The drawing.
    """
    plt = _start(width, height, title, "best S/N")
    colours = _colours(views)
    for lc, detections in views:
        table = scores.get(lc.key)
        if table is None:
            continue
        good = (table["quality_flag"] == 0) & np.isfinite(table["best_score"])
        if good.any():
            plt.scatter(table["mjd"][good].tolist(), table["best_score"][good].tolist(), color=colours[lc.filter],
                        marker="dot", label=lc.filter if lc.season == 0 else None)
        _mark(plt, detections)
    plt.hline(threshold, "red")
    plt.hline(-threshold, "red")
    return _finish(plt)


def _start(width: int, height: int, title: str, ylabel: str):
    import plotext as plt

    plt.clf()
    plt.plotsize(max(width, 20), max(height, 8))
    plt.theme("clear")
    plt.title(title)
    plt.xlabel("MJD")
    plt.ylabel(ylabel)
    return plt


def _colours(views) -> dict[str, str]:
    bands = sorted({lc.filter for lc, _ in views})
    return {band: _COLOURS[i % len(_COLOURS)] for i, band in enumerate(bands)}


def _mark(plt, detections) -> None:
    for detection in detections:
        plt.vline(detection.peak_mjd, "orange" if detection.kind == "brightening" else "blue")


def _finish(plt) -> str:
    # plotext keeps global state: clear it so the next drawing starts empty.
    figure = plt.build()
    plt.clf()
    return figure


class LightcurvePlot(Static):
    """Shows the lightcurves of one source; call :meth:`show` with the data to draw."""

    DEFAULT_CSS = """
    LightcurvePlot {
        height: 1fr;
        min-height: 12;
        border: round $secondary;
    }
    """

    def __init__(self, **kwargs):
        super().__init__("select a source to plot its lightcurves", **kwargs)
        self.views = []
        self.scores: dict = {}
        self.threshold = 5.0
        self.title_text = ""
        self.mode = "mag"

    def show(self, views, title: str = "", scores: dict | None = None, threshold: float = 5.0) -> None:
        """Draw ``views`` ((Lightcurve, detections) pairs) at the widget's current size."""
        self.views, self.title_text = views, title
        self.scores, self.threshold = scores or {}, threshold
        self.refresh_plot()

    def toggle(self) -> None:
        """Switch between magnitudes and per-epoch S/N."""
        self.mode = "snr" if self.mode == "mag" else "mag"
        self.refresh_plot()

    def refresh_plot(self) -> None:
        """Redraw for the current size (plotext draws at a fixed size)."""
        if not self.views:
            self.update("no lightcurves for this source (not reduced yet?)")
            return
        width, height = max(self.size.width - 2, 40), max(self.size.height - 2, 12)
        if self.mode == "snr":
            if not self.scores:
                self.update("no per-epoch scores saved for this source (analysis.save_epoch_scores)")
                return
            drawing = render_scores(self.views, self.scores, self.threshold, width, height, self.title_text)
        else:
            drawing = render_lightcurves(self.views, width, height, self.title_text)
        self.update(Text.from_ansi(drawing))

    def on_resize(self) -> None:
        if self.views:
            self.refresh_plot()
