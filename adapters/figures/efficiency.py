"""The injection-recovery efficiency map for a paper: recovered / injected per bin, one panel per event kind."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from virtualobserver.adapters.figures.style import paper_figure, save_figure
from virtualobserver.domain.errors import DataError

__all__ = ["plot_efficiency", "draw_efficiency", "AXIS_LABELS"]

#: Axis titles with units.
AXIS_LABELS = {"snr_amplitude": "Injected amplitude [noise σ]", "width": "Width [d]", "mag": "Magnitude [mag]"}
#: Counts are written in the cells only while a panel has at most this many non-empty cells (else unreadable).
_MAX_ANNOTATED = 150


def plot_efficiency(histograms, path: str | Path, *, x: str = "snr_amplitude", y: str = "width",
                    width: float = 7.0) -> Path:
    """Draw recovered / injected over two axes, one panel per event kind, with the counts, and write it.

    Each panel is titled ``kind (recovered/injected)``; each cell shows its efficiency as a colour
    and, while the panel is legible, its counts as ``recovered/injected``.

    Only the regular bins are drawn, cropped to those holding injections; injections in the
    under- or overflow bins are counted in a note under the panels rather than dropped silently.

    Parameters
    ----------
    histograms : Histograms
        The efficiency map (variables ``injected``, ``recovered``; a categorical ``kind`` axis).
    path : str or pathlib.Path
        ``.png``, ``.pdf`` or ``.svg``.
    x, y : str
        The numeric axes to draw (a width axis spanning decades is drawn on a log scale).
    width : float
        Figure width in inches (the height follows the number of rows).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DataError
        If nothing was injected, or an axis is missing.
    """
    with paper_figure(width, 4.0) as figure:
        draw_efficiency(figure, histograms, x=x, y=y)
        return save_figure(figure, path)


def draw_efficiency(figure, histograms, *, x: str = "snr_amplitude", y: str = "width"):
    """Draw the efficiency map on ``figure``, whose height is set from the number of panels.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        An empty figure.
    histograms : Histograms
        The efficiency map.
    x, y : str
        The numeric axes to draw.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The panels (rows x columns; unused ones hidden).

    Raises
    ------
    DataError
        If nothing was injected, or an axis is missing.
    """
    axes = histograms.axes
    for name in (x, y, "kind"):
        if name not in axes:
            raise DataError(f"the efficiency map has no axis {name!r} (it has {', '.join(axes)})")
    injected = histograms.project("injected", "kind", x, y).values
    recovered = histograms.project("recovered", "kind", x, y).values
    kinds = list(axes["kind"].categories) + ["other"]
    inner = (slice(None), slice(1, -2), slice(1, -2))  # drop under-, overflow and NaN bins
    inj, rec = injected[inner], recovered[inner]
    outside = int(injected.sum() - inj.sum())
    shown = [k for k in range(len(kinds)) if inj[k].sum() > 0]
    if not shown:
        raise DataError("nothing was injected in the plotted bins (run `vo simulate` first)")
    x_edges, y_edges = np.asarray(axes[x].edges), np.asarray(axes[y].edges)
    xs, ys = _span(inj.sum(axis=(0, 2))), _span(inj.sum(axis=(0, 1)))
    columns = min(3, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure.set_size_inches(figure.get_figwidth(), 0.6 + 2.1 * rows)
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    mesh = None
    for panel, k in zip(grid.flat, shown):
        i, r = inj[k][xs, ys], rec[k][xs, ys]
        ratio = np.full(i.shape, np.nan)
        np.divide(r, i, out=ratio, where=i > 0)
        mesh = panel.pcolormesh(x_edges[xs.start:xs.stop + 1], y_edges[ys.start:ys.stop + 1], ratio.T,
                                vmin=0.0, vmax=1.0, cmap="viridis", shading="flat")
        if np.count_nonzero(i) <= _MAX_ANNOTATED:
            _annotate(panel, i, r, x_edges[xs.start:xs.stop + 1], y_edges[ys.start:ys.stop + 1])
        panel.set_title(f"{kinds[k]} ({int(r.sum())}/{int(i.sum())})")
        if _decades(y_edges) >= 2 and y_edges[0] > 0:
            panel.set_yscale("log")
    for panel in grid.flat[len(shown):]:
        panel.set_visible(False)
    for column in range(columns):
        # The lowest panel drawn in each column carries the x axis (the last row may be short).
        lowest = grid[(len(shown) - 1 - column) // columns, column]
        lowest.xaxis.set_tick_params(labelbottom=True)
        lowest.set_xlabel(AXIS_LABELS.get(x, x))
    for panel in grid[:, 0]:
        panel.set_ylabel(AXIS_LABELS.get(y, y))
    figure.colorbar(mesh, ax=grid, label="recovered / injected", shrink=0.9)
    if outside:
        figure.suptitle(f"({outside} injections outside the plotted range are not shown)", y=0.0, va="bottom",
                        fontsize=6)
    return grid


def _span(counts: np.ndarray) -> slice:
    # The smallest run of bins holding every injection along one axis.
    filled = np.flatnonzero(counts)
    return slice(int(filled[0]), int(filled[-1]) + 1)


def _decades(edges: np.ndarray) -> float:
    positive = edges[edges > 0]
    return float(np.log10(positive[-1] / positive[0])) if positive.size > 1 else 0.0


def _annotate(panel, injected: np.ndarray, recovered: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray) -> None:
    log_y = _decades(y_edges) >= 2 and y_edges[0] > 0
    for a, b in zip(*np.nonzero(injected)):
        x = (x_edges[a] + x_edges[a + 1]) / 2
        y = math.sqrt(y_edges[b] * y_edges[b + 1]) if log_y else (y_edges[b] + y_edges[b + 1]) / 2
        fraction = recovered[a, b] / injected[a, b]
        panel.text(x, y, f"{int(recovered[a, b])}/{int(injected[a, b])}", ha="center", va="center", fontsize=4,
                   color="black" if fraction > 0.6 else "white")
