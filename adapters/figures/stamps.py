"""A source's detections as image stamps: reference, peak and difference side by side, one row per detection."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from virtualobserver.adapters.figures.style import paper_figure, save_figure
from virtualobserver.domain.errors import DataError

__all__ = ["plot_stamps", "draw_stamps", "PANEL_TITLES"]

#: Column titles, in the order of the panels of a row.
PANEL_TITLES = ("reference", "peak", "difference")
#: Inches per panel (three fit a 7-inch page width with their colour bars).
_PANEL = 2.2


def plot_stamps(stamped: Sequence, path: str | Path) -> Path:
    """Draw the stamps of each detection and write the figure.

    Parameters
    ----------
    stamped : sequence of StampedDetection
        A source's detections with their stamps (``Products.stamps``).
    path : str or pathlib.Path
        ``.png``, ``.pdf`` or ``.svg``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DataError
        If there is no detection with stamps.
    """
    stamped = list(stamped)
    if not stamped:
        raise DataError("no detection with image stamps to draw (stamps are made for surveys with images, "
                        "when the project is analysed)")
    with paper_figure(3 * _PANEL + 0.6, _PANEL * len(stamped)) as figure:
        draw_stamps(figure, stamped)
        return save_figure(figure, path)


def draw_stamps(figure, stamped: Sequence) -> list:
    """Draw one row of three panels per detection on ``figure`` (see :func:`plot_stamps`).

    Reference and peak share one colour scale (percentiles 1-99.5 of both), so that what brightened is
    seen brighter; the difference has a symmetric diverging scale around zero. The target's pixel is
    marked with a cross where known. Each image is an ``imshow`` with gid ``stamp:<detection id>:<panel>``
    (an SVG names its group so).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        An empty figure.
    stamped : sequence of StampedDetection
        Detections with their stamps.

    Returns
    -------
    list of matplotlib.axes.Axes
        The image panels, row by row (three per detection; colour bars are extra axes).
    """
    grid = figure.subplots(len(stamped), 3, squeeze=False)
    panels = []
    for row, item in zip(grid, stamped):
        stamps, detection = item.stamps, item.detection
        both = np.concatenate([stamps.reference.ravel(), stamps.peak.ravel()])
        both = both[np.isfinite(both)]
        low, high = (np.percentile(both, [1.0, 99.5]) if both.size else (0.0, 1.0))
        span = np.nanmax(np.abs(stamps.difference)) if np.isfinite(stamps.difference).any() else 1.0
        scales = ({"cmap": "viridis", "vmin": low, "vmax": high},) * 2 + (
            {"cmap": "RdBu_r", "vmin": -span, "vmax": span},)
        for axes, title, image, scale in zip(row, PANEL_TITLES, (stamps.reference, stamps.peak, stamps.difference),
                                             scales):
            shown = axes.imshow(image, origin="lower", interpolation="nearest", gid=f"stamp:{detection.id}:{title}", **scale)
            if stamps.target_pixel is not None:
                axes.plot(stamps.target_pixel[1], stamps.target_pixel[0], "+", color="white" if title != "difference"
                          else "black", ms=8, mew=1.0)
            axes.set_xticks([])
            axes.set_yticks([])
            figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.02)
            panels.append(axes)
        row[0].set_title(f"{item.source} #{detection.id} {detection.kind}", loc="left", fontsize=7)
        row[1].set_title(f"peak {stamps.peak_time:.4f} {(stamps.time_scale or '').upper()}", fontsize=7)
        row[2].set_title(f"difference (S/N {detection.snr:.1f})", fontsize=7)
        row[0].set_ylabel(f"{item.filter} season {item.season}")
    return panels
