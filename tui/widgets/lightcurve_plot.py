"""LightcurvePlot: a source's lightcurves drawn in the terminal with plotext, flagged epochs and detections marked."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from tui.widgets.ticks import nice_ticks

__all__ = ["LightcurvePlot", "render_lightcurves", "render_scores", "flagged_epochs"]

_COLOURS = ("green", "red", "blue", "magenta", "cyan", "yellow")


def flagged_epochs(lc, scores: dict | None = None) -> np.ndarray:
    """Return a mask of the epochs the survey flagged or a quality cut rejected.

    Parameters
    ----------
    lc : Lightcurve
        Loaded lightcurve.
    scores : dict, optional
        Lightcurve key -> per-epoch products (``quality_flag``), as from ``Project.epoch_scores``.

    Returns
    -------
    numpy.ndarray
        True for a flagged epoch.
    """
    bad = ~lc.good
    table = (scores or {}).get(lc.key)
    if table is not None and "quality_flag" in table and len(table["quality_flag"]) == len(bad):
        bad = bad | (np.asarray(table["quality_flag"]) != 0)
    return bad


def _window(mjd: np.ndarray, xlim) -> np.ndarray:
    if xlim is None:
        return np.ones(mjd.size, dtype=bool)
    return (mjd >= xlim[0]) & (mjd <= xlim[1])


def render_lightcurves(views, width: int = 100, height: int = 24, title: str = "", *, scores: dict | None = None,
                       xlim=None) -> str:
    """Return a plotext drawing (with ANSI colours) of magnitude against MJD.

    Good epochs are dots per filter, flagged epochs (survey flag or a quality cut) crosses, and
    each detection's peak a vertical line (orange brightening, blue dimming, magenta simulated).
    Brighter is up.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection), as from ``Project.source_lightcurves``.
    width, height : int
        Size in characters.
    title : str
        Plot title.
    scores : dict, optional
        Per-epoch products by lightcurve key, to mark epochs that failed a quality cut.
    xlim : tuple of float, optional
        MJD range to draw (a zoom); default everything.

    Returns
    -------
    str
        The drawing.
    """
    plt = _start(width, height, title, "mag (brighter up)")
    colours = _colours(views)
    shown = []
    for lc, detections in views:
        colour = colours[lc.filter]
        inside = _window(lc.mjds, xlim) & np.isfinite(lc.mag)
        bad = flagged_epochs(lc, scores)
        good = inside & ~bad
        if good.any():
            plt.scatter(lc.mjds[good].tolist(), (-lc.mag[good]).tolist(), color=colour, marker="dot",
                        label=lc.filter if lc.filter not in shown else None)
            shown.append(lc.filter)
        if (inside & bad).any():
            plt.scatter(lc.mjds[inside & bad].tolist(), (-lc.mag[inside & bad]).tolist(), color=colour, marker="x")
        _mark(plt, detections, xlim)
    # Astronomers read brighter as up: plot -mag and label the ticks with magnitudes.
    mags = np.concatenate([lc.mag[_window(lc.mjds, xlim) & np.isfinite(lc.mag)] for lc, _ in views]
                          or [np.zeros(0)])
    if mags.size:
        ticks = np.linspace(-mags.max(), -mags.min(), 5)
        plt.yticks(ticks.tolist(), [f"{-t:.2f}" for t in ticks])
    _xticks(plt, [lc.mjds[_window(lc.mjds, xlim)] for lc, _ in views], xlim)
    return _finish(plt)


def _xticks(plt, times, xlim) -> None:
    """Fix the time range and round ticks (plotext's automatic ones depend on its global state)."""
    times = [t for t in times if t.size]
    if xlim is None and not times:
        return
    lo, hi = xlim if xlim is not None else (min(t.min() for t in times), max(t.max() for t in times))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    plt.xlim(lo, hi)
    values, labels = nice_ticks(lo, hi, 4)
    plt.xticks(values, labels)


def render_scores(views, scores: dict, threshold: float, width: int = 100, height: int = 24, title: str = "",
                  *, xlim=None) -> str:
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
    xlim : tuple of float, optional
        MJD range to draw.

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
        mjd = np.asarray(table["mjd"])
        good = (table["quality_flag"] == 0) & np.isfinite(table["best_score"]) & _window(mjd, xlim)
        if good.any():
            plt.scatter(mjd[good].tolist(), table["best_score"][good].tolist(), color=colours[lc.filter],
                        marker="dot", label=lc.filter if lc.season == 0 else None)
        _mark(plt, detections, xlim)
    plt.hline(threshold, "red")
    plt.hline(-threshold, "red")
    _xticks(plt, [np.asarray(scores[lc.key]["mjd"]) for lc, _ in views if lc.key in scores], xlim)
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


def _mark(plt, detections, xlim=None) -> None:
    for detection in detections:
        if xlim is not None and not xlim[0] <= detection.peak_mjd <= xlim[1]:
            continue
        colour = "magenta" if detection.is_simulated else "orange" if detection.kind == "brightening" else "blue"
        plt.vline(detection.peak_mjd, colour)


def _finish(plt) -> str:
    # plotext keeps global state: clear it so the next drawing starts empty.
    figure = plt.build()
    plt.clf()
    return figure


class LightcurvePlot(Static):
    """Shows lightcurves of one source; call :meth:`show` with the data to draw.

    ``xlim`` (an MJD range, or None for everything) is the time zoom; ``mode`` is ``mag``
    (magnitudes) or ``snr`` (each epoch's best S/N against the threshold).
    """

    DEFAULT_CSS = """
    LightcurvePlot {
        height: 1fr;
        min-height: 8;
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
        self.xlim: tuple[float, float] | None = None

    def show(self, views, title: str = "", scores: dict | None = None, threshold: float = 5.0,
             xlim: tuple[float, float] | None = None) -> None:
        """Draw ``views`` ((Lightcurve, detections) pairs) at the widget's current size."""
        self.views, self.title_text = views, title
        self.scores, self.threshold, self.xlim = scores or {}, threshold, xlim
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
        width, height = max(self.size.width, 30), max(self.size.height, 6)
        if self.mode == "snr":
            if not self.scores:
                self.update("no per-epoch scores saved for this source (analysis.save_epoch_scores)")
                return
            drawing = render_scores(self.views, self.scores, self.threshold, width, height, self.title_text,
                                    xlim=self.xlim)
        else:
            drawing = render_lightcurves(self.views, width, height, self.title_text, scores=self.scores,
                                         xlim=self.xlim)
        self.update(Text.from_ansi(drawing))

    def on_resize(self) -> None:  # noqa: D102
        if self.views:
            self.refresh_plot()
