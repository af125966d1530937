"""A source's lightcurves for a paper: brighter up, flagged epochs apart, detections marked with their labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.figures.style import paper_figure, save_figure
from domain.detection import BRIGHTENING
from domain.errors import DataError

__all__ = ["plot_lightcurves", "draw_lightcurves"]

#: Above this many points per lightcurve the markers are rasterised, so a PDF stays small.
_RASTERISE_ABOVE = 5000
_KIND_COLORS = {BRIGHTENING: "tab:red"}
_DIMMING_COLOR = "tab:blue"


def plot_lightcurves(item, path: str | Path, *, flux: bool = False, flux_label: str | None = None,
                     width: float = 7.0, height: float = 3.0) -> Path:
    """Draw one source's loaded lightcurves with its detections and write the figure.

    Good epochs are drawn with error bars, one colour per filter; epochs the survey flagged or
    the quality cuts cannot use (non-zero flag, bad error) are grey crosses. Each detection is a
    shaded span from its start to its end with a dashed line at its peak, annotated with its
    kind, S/N and triage label (simulated ones are marked ``sim``).

    Parameters
    ----------
    item : SourceProducts
        The source, its lightcurves (arrays loaded) and detections.
    path : str or pathlib.Path
        ``.png``, ``.pdf`` or ``.svg``.
    flux : bool
        Plot flux instead of magnitude (magnitudes are drawn brighter up).
    flux_label : str, optional
        Y-axis label for flux (default ``Flux``).
    width, height : float
        Size in inches (7 x 3 fits a two-column journal page).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DataError
        If the source has no lightcurve at the current version, or one is not loaded.
    """
    with paper_figure(width, height) as figure:
        draw_lightcurves(figure, item, flux=flux, flux_label=flux_label)
        return save_figure(figure, path)


def draw_lightcurves(figure, item, *, flux: bool = False, flux_label: str | None = None):
    """Draw one source's loaded lightcurves and detections on ``figure`` (see :func:`plot_lightcurves`).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        An empty figure.
    item : SourceProducts
        The source, its lightcurves (arrays loaded) and detections.
    flux : bool
        Plot flux instead of magnitude.
    flux_label : str, optional
        Y-axis label for flux.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    DataError
        If the source has no lightcurve at the current version, or one is not loaded.
    """
    lightcurves = list(item.lightcurves)
    if not lightcurves:
        raise DataError(f"source {item.source.name!r} has no {item.survey} lightcurves at the current version "
                        "(run the project first)")
    filters = sorted({lc.filter for lc in lightcurves})
    scales = sorted({lc.time_scale.upper() for lc in lightcurves})
    value, error = ("flux", "fluxerr") if flux else ("mag", "magerr")
    axes = figure.add_subplot()
    colors = {name: f"C{i % 10}" for i, name in enumerate(filters)}
    labelled: set[str] = set()
    for lc in lightcurves:
        c = lc.columns
        y, dy, t = c[value], c[error], c["mjd"]
        usable = lc.good & np.isfinite(y)
        flagged = ~usable & np.isfinite(y) & np.isfinite(t)
        raster = c["mjd"].size > _RASTERISE_ABOVE
        axes.errorbar(t[usable], y[usable], yerr=np.where(np.isfinite(dy[usable]), dy[usable], 0.0), fmt="o",
                      ms=2.0, lw=0.4, elinewidth=0.4, color=colors[lc.filter], rasterized=raster,
                      label=None if lc.filter in labelled else f"{lc.filter}")
        labelled.add(lc.filter)
        if flagged.any():
            axes.plot(t[flagged], y[flagged], "x", ms=2.5, mew=0.5, color="0.6", rasterized=raster,
                      label=None if "flagged" in labelled else "flagged")
            labelled.add("flagged")
    for row in item.detections:
        _mark(axes, row)
    if not flux:
        axes.invert_yaxis()  # astronomers read magnitudes brighter up
    axes.set_xlabel(f"MJD ({'/'.join(scales)}) [d]")
    axes.set_ylabel("Magnitude [mag]" if not flux else (flux_label or "Flux"))
    axes.set_title(f"{item.source.name} ({item.survey})")
    axes.legend(loc="best", frameon=False, ncols=min(4, len(labelled)))
    return axes


def _mark(axes, row) -> None:
    d = row.detection
    color = _KIND_COLORS.get(d.kind, _DIMMING_COLOR)
    axes.axvspan(min(d.start_mjd, d.peak_mjd), max(d.end_mjd, d.peak_mjd), color=color, alpha=0.15, lw=0,
                 gid="detection")
    axes.axvline(d.peak_mjd, color=color, lw=0.6, ls="--")
    text = f"{d.kind} S/N {d.snr:.1f}"
    if row.label:
        text += f" [{row.label}]"
    if d.is_simulated:
        text += " sim"
    axes.annotate(text, xy=(d.peak_mjd, 0.98), xycoords=("data", "axes fraction"), rotation=90, va="top",
                  ha="right", fontsize=5.5, color=color)
