"""LightcurvePlot: a source's lightcurves drawn in the terminal with plotext, cut epochs and detections marked."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from virtualobserver.domain.analysis.quality import CUTS
from virtualobserver.tui.widgets.ticks import nice_ticks

__all__ = ["LightcurvePlot", "render_lightcurves", "render_scores", "flagged_epochs", "epoch_table", "cut_counts",
           "cut_status", "CUT_MARKERS", "MODES"]

_COLOURS = ("green", "red", "blue", "magenta", "cyan", "yellow")
#: Plot modes, in the order the ``m`` key cycles through them.
MODES = ("mag", "flux", "snr")
#: The character that marks an epoch cut by each quality cut (grey), and ``flagged`` where no analysis
#: products were saved (the survey's flags and unusable fluxes).
CUT_MARKERS = {"nan": "?", "flag": "x", "offset": "o", "limiting_mag": "v", "chi": "*", "sharp": "^", "flagged": "x"}
_CUT_COLOUR = "gray"


def epoch_table(lc, scores: dict | None) -> dict | None:
    """Return the lightcurve's per-epoch products if saved and of its length (None otherwise).

    Parameters
    ----------
    lc : Lightcurve
        Loaded lightcurve.
    scores : dict, optional
        Lightcurve key -> per-epoch products, as from ``Project.epoch_scores``.

    Returns
    -------
    dict or None
        Its columns (``quality_flag`` among them).
    """
    table = (scores or {}).get(lc.key)
    if table is None or "quality_flag" not in table or len(table["quality_flag"]) != lc.mjds.size:
        return None
    return table


def flagged_epochs(lc, scores: dict | None = None) -> np.ndarray:
    """Return a mask of the epochs the analysis did not use.

    With the per-epoch products, those that failed a quality cut (non-zero ``quality_flag``; an
    epoch whose survey flag is outside the cut's mask was used); without them, the epochs the survey
    flagged or that have no usable flux.

    Parameters
    ----------
    lc : Lightcurve
        Loaded lightcurve.
    scores : dict, optional
        Lightcurve key -> per-epoch products (``quality_flag``), as from ``Project.epoch_scores``.

    Returns
    -------
    numpy.ndarray
        True for a cut (or flagged) epoch.
    """
    table = epoch_table(lc, scores)
    if table is None:
        return ~lc.good
    return np.asarray(table["quality_flag"]) != 0


def _failed(lc, scores: dict | None) -> dict[str, np.ndarray]:
    """Per cut (in ``CUTS`` order, or ``flagged`` without products), the mask of the epochs it removed."""
    table = epoch_table(lc, scores)
    if table is None:
        return {"flagged": ~lc.good}
    quality = np.asarray(table["quality_flag"], dtype=np.int64)
    return {name: ((quality >> bit) & 1).astype(bool) for bit, name in enumerate(CUTS)}


def cut_counts(views, scores: dict | None = None, xlim=None) -> dict[str, int]:
    """Return how many epochs shown each quality cut removed (only cuts that removed some).

    An epoch that failed several cuts counts for each. Lightcurves without saved per-epoch
    products count their flagged epochs under ``flagged``.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection) pairs shown.
    scores : dict, optional
        Lightcurve key -> per-epoch products, as from ``Project.epoch_scores``.
    xlim : tuple of float, optional
        MJD range shown (default everything).

    Returns
    -------
    dict of str to int
        Cut name -> epochs, in ``CUTS`` order (then ``flagged``).
    """
    counts = dict.fromkeys((*CUTS, "flagged"), 0)
    for lc, _ in views:
        inside = _window(lc.mjds, xlim)
        for name, failed in _failed(lc, scores).items():
            counts[name] += int(np.count_nonzero(failed & inside))
    return {name: n for name, n in counts.items() if n}


def cut_status(views, scores: dict | None = None, xlim=None, *, mode: str = "mag") -> str:
    """Return a one-line legend of the epochs cut in the lightcurves shown, e.g. ``cut: x flag 12, v limiting_mag 3``.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection) pairs shown.
    scores : dict, optional
        Lightcurve key -> per-epoch products.
    xlim : tuple of float, optional
        MJD range shown.
    mode : str
        The plot's mode: in ``flux`` the trend line is named where it is drawn; in ``snr`` the cut
        epochs are not drawn (they have no score).

    Returns
    -------
    str
        The text (``no epoch cut`` when none was).
    """
    counts = cut_counts(views, scores, xlim)
    parts = [f"{CUT_MARKERS[name]} {name} {n}" for name, n in counts.items()]
    if parts:
        text = ("cut: " if mode != "snr" else "cut, not scored: ") + ", ".join(parts)
    else:
        text = "no epoch cut"
    if mode == "flux" and any("trend" in (epoch_table(lc, scores) or {}) for lc, _ in views):
        text += " · ─ trend"
    return text


def _window(mjd: np.ndarray, xlim) -> np.ndarray:
    if xlim is None:
        return np.ones(mjd.size, dtype=bool)
    return (mjd >= xlim[0]) & (mjd <= xlim[1])


def render_lightcurves(views, width: int = 100, height: int = 24, title: str = "", *, scores: dict | None = None,
                       xlim=None, flux: bool = False) -> str:
    """Return a plotext drawing (with ANSI colours) of magnitude (or flux) against MJD.

    Epochs the analysis used are dots per filter; each epoch a quality cut removed is a grey
    character of that cut (:data:`CUT_MARKERS`: ``x`` flag, ``v`` limiting_mag, ...; ``x`` for the
    survey's flags where no per-epoch products were saved); each detection's peak a vertical line
    (orange brightening, blue dimming, magenta simulated). In flux, the baseline each epoch was
    measured against (the products' ``trend``) is a line in the filter's colour. Magnitudes are
    drawn brighter up.

    Parameters
    ----------
    views : list of tuple
        (loaded Lightcurve, list of Detection), as from ``Project.source_lightcurves``.
    width, height : int
        Size in characters.
    title : str
        Plot title.
    scores : dict, optional
        Per-epoch products by lightcurve key: which cuts each epoch failed, and the trend.
    xlim : tuple of float, optional
        MJD range to draw (a zoom); default everything.
    flux : bool
        Draw flux (with the trend) instead of magnitudes.

    Returns
    -------
    str
        The drawing.
    """
    plt = _start(width, height, title, "flux" if flux else "mag (brighter up)")
    colours = _colours(views)
    shown = []
    drawn = []
    for lc, detections in views:
        colour = colours[lc.filter]
        # Astronomers read brighter as up: magnitudes are drawn as -mag, with the ticks labelled in magnitudes.
        y = lc.flux if flux else -lc.mag
        inside = _window(lc.mjds, xlim) & np.isfinite(y)
        drawn.append(y[inside])
        trend = (epoch_table(lc, scores) or {}).get("trend") if flux else None
        if trend is not None:
            line = _window(lc.mjds, xlim) & np.isfinite(trend)
            if line.any():
                plt.plot(lc.mjds[line].tolist(), np.asarray(trend)[line].tolist(), color=colour, marker="braille")
        good = inside & ~flagged_epochs(lc, scores)
        if good.any():
            plt.scatter(lc.mjds[good].tolist(), y[good].tolist(), color=colour, marker="dot",
                        label=lc.filter if lc.filter not in shown else None)
            shown.append(lc.filter)
        for name, failed in _failed(lc, scores).items():
            cut = inside & failed
            if cut.any():
                plt.scatter(lc.mjds[cut].tolist(), y[cut].tolist(), color=_CUT_COLOUR, marker=CUT_MARKERS[name])
        _mark(plt, detections, xlim)
    values = np.concatenate(drawn or [np.zeros(0)])
    if values.size and flux:
        ticks, labels = nice_ticks(float(values.min()), float(values.max()), 4)
        plt.yticks(ticks, labels)
    elif values.size:
        # One tick per two rows of the canvas at most: where labels share a row, which one plotext keeps
        # varies from process to process (a short plot beside the stamps showed different labels each run).
        ticks = np.linspace(values.min(), values.max(), int(np.clip((height - 4) // 2, 2, 5)))
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
    # plotext would shrink the drawing to the size of the terminal it sees (80x24 under pytest, whatever
    # the app's size): the widget knows its size.
    plt.limit_size(False, False)
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

    ``xlim`` (an MJD range, or None for everything) is the time zoom; ``mode`` is one of
    :data:`MODES`: ``mag`` (magnitudes), ``flux`` (with the trend each epoch was measured against) or
    ``snr`` (each epoch's best S/N against the threshold). The bottom border names the cuts that
    removed epochs shown, with their markers and counts (:attr:`status`).
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
        self.status = ""

    def show(self, views, title: str = "", scores: dict | None = None, threshold: float = 5.0,
             xlim: tuple[float, float] | None = None) -> None:
        """Draw ``views`` ((Lightcurve, detections) pairs) at the widget's current size."""
        self.views, self.title_text = views, title
        self.scores, self.threshold, self.xlim = scores or {}, threshold, xlim
        self.refresh_plot()

    def toggle(self) -> None:
        """Switch to the next mode: magnitudes, flux with the trend, per-epoch S/N."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.refresh_plot()

    def refresh_plot(self) -> None:
        """Redraw for the current size (plotext draws at a fixed size)."""
        self.status = cut_status(self.views, self.scores, self.xlim, mode=self.mode) if self.views else ""
        self.border_subtitle = self.status
        # The title goes on the border, leaving plotext's title row to the data.
        self.border_title = self.title_text
        if not self.views:
            self.update("no lightcurves for this source (not reduced yet?)")
            return
        width, height = max(self.size.width, 30), max(self.size.height, 6)
        if self.mode == "snr":
            if not self.scores:
                self.update("no per-epoch scores saved for this source (analysis.save_epoch_scores)")
                return
            drawing = render_scores(self.views, self.scores, self.threshold, width, height, xlim=self.xlim)
        else:
            drawing = render_lightcurves(self.views, width, height, scores=self.scores,
                                         xlim=self.xlim, flux=self.mode == "flux")
        self.update(Text.from_ansi(drawing))

    def on_resize(self) -> None:  # noqa: D102
        if self.views:
            self.refresh_plot()
