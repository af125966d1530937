"""A source's lightcurves for a paper: brighter up, cut epochs apart by cut, the trend, detections with their labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from virtualobserver.adapters.figures.style import paper_figure, save_figure
from virtualobserver.domain.analysis.quality import CUTS
from virtualobserver.domain.detection import BRIGHTENING
from virtualobserver.domain.errors import DataError

__all__ = ["plot_lightcurves", "draw_lightcurves", "CUT_MARKERS"]

#: Above this many points per lightcurve the markers are rasterised, so a PDF stays small.
_RASTERISE_ABOVE = 5000
_KIND_COLORS = {BRIGHTENING: "tab:red"}
_DIMMING_COLOR = "tab:blue"
#: Marker of the epochs that failed each quality cut (open grey markers; an epoch that failed several
#: cuts carries each of their markers).
CUT_MARKERS = {"nan": "P", "flag": "x", "offset": "s", "limiting_mag": "v", "chi": "D", "sharp": "^"}
_CUT_COLOR = "0.45"
_TREND_COLOR = "0.1"


def plot_lightcurves(item, path: str | Path, *, flux: bool = False, flux_label: str | None = None,
                     scores: dict | None = None, injections=None, width: float = 7.0, height: float = 3.0) -> Path:
    """Draw one source's loaded lightcurves with its detections and write the figure.

    Epochs the analysis used are drawn with error bars, one colour per filter. With the per-epoch
    analysis products (``scores``), each epoch that failed a quality cut is an open grey marker of
    that cut (legend ``cut: <name>``, bit i of ``quality_flag`` for cut i of
    ``domain.analysis.quality.CUTS``), and the baseline each epoch was measured against (the
    ``trend`` column) is a dark line. Without them, epochs the survey flagged or that have no usable
    flux are grey crosses (``flagged``). Each detection is a shaded span from its start to its end with
    a dashed line at its peak, annotated with its kind, S/N, equivalent duration (flares) or depth
    (dips) where measured, and triage label (simulated ones are marked ``sim``); labels of close
    detections are moved apart along the time axis so that none overlaps another. Each of the
    ``injections`` is drawn as its noise-free model (the lightcurve's baseline times the event's
    factor) over its span, a solid line in its filter's colour.

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
    scores : dict, optional
        Lightcurve key -> per-epoch analysis products (``quality_flag``, optionally ``trend``), as
        from ``Products.epoch_scores``.
    injections : sequence of Injection, optional
        Events injected into these lightcurves (matched by ``lightcurve_id``), drawn as model curves.
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
        draw_lightcurves(figure, item, flux=flux, flux_label=flux_label, scores=scores, injections=injections)
        return save_figure(figure, path)


def draw_lightcurves(figure, item, *, flux: bool = False, flux_label: str | None = None,
                     scores: dict | None = None, injections=None):
    """Draw one source's loaded lightcurves and detections on ``figure`` (see :func:`plot_lightcurves`).

    The epochs of each cut are one line artist (no line, markers only) with gid ``cut:<name>`` and
    label ``cut: <name>``; the trend lines have gid ``trend``; the detection spans gid ``detection``, their
    labels gid ``detection-label``; the injected models gid ``injection`` (label ``injected``).

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
    scores : dict, optional
        Lightcurve key -> per-epoch analysis products (``quality_flag``, optionally ``trend``).
    injections : sequence of Injection, optional
        Events injected into these lightcurves, drawn as model curves.

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
    apart: dict[str, list] = {}  # cut name (or "flagged") -> [(t, y), ...] over every lightcurve
    for lc in lightcurves:
        c = lc.columns
        y, dy, t = c[value], c[error], c["mjd"]
        drawable = np.isfinite(y) & np.isfinite(t)
        table = _table_of(lc, scores)
        if table is None:  # no analysis products: the survey's flags and unusable fluxes
            used = lc.good & drawable
            apart.setdefault("flagged", []).append((t[~lc.good & drawable], y[~lc.good & drawable]))
        else:
            quality = np.asarray(table["quality_flag"], dtype=np.int64)
            used = (quality == 0) & drawable
            for bit, name in enumerate(CUTS):
                failed = ((quality >> bit) & 1).astype(bool) & drawable
                apart.setdefault(name, []).append((t[failed], y[failed]))
        raster = c["mjd"].size > _RASTERISE_ABOVE
        axes.errorbar(t[used], y[used], yerr=np.where(np.isfinite(dy[used]), dy[used], 0.0), fmt="o",
                      ms=2.0, lw=0.4, elinewidth=0.4, color=colors[lc.filter], rasterized=raster,
                      label=None if lc.filter in labelled else f"{lc.filter}")
        labelled.add(lc.filter)
        if table is not None and "trend" in table:
            if _draw_trend(axes, lc, np.asarray(table["trend"], dtype=float), flux,
                           label=None if "trend" in labelled else "trend"):
                labelled.add("trend")
    for name, parts in apart.items():
        t = np.concatenate([p[0] for p in parts])
        if not t.size:
            continue  # a legend entry only for a cut that removed an epoch shown
        y = np.concatenate([p[1] for p in parts])
        if name == "flagged":
            axes.plot(t, y, "x", ms=2.5, mew=0.5, color="0.6", rasterized=t.size > _RASTERISE_ABOVE,
                      label="flagged", gid="flagged")
        else:
            axes.plot(t, y, ls="none", marker=CUT_MARKERS.get(name, "o"), ms=2.5, mew=0.5, mfc="none",
                      color=_CUT_COLOR, rasterized=t.size > _RASTERISE_ABOVE, label=f"cut: {name}",
                      gid=f"cut:{name}", zorder=1.5)
        labelled.add(name)
    for injection in injections or ():
        if _draw_injection(axes, injection, lightcurves, colors, flux,
                           label=None if "injected" in labelled else "injected"):
            labelled.add("injected")
    labels = [_mark(axes, row) for row in item.detections]
    axes.add_artist(_label_spread_class()(labels))
    if not flux:
        axes.invert_yaxis()  # astronomers read magnitudes brighter up
    axes.set_xlabel(f"MJD ({'/'.join(scales)}) [d]")
    axes.set_ylabel("Magnitude [mag]" if not flux else (flux_label or "Flux"))
    axes.set_title(f"{item.source.name} ({item.survey})")
    # The filters first, then the trend, then what was set apart (matplotlib would put lines before points).
    handles, labels = axes.get_legend_handles_labels()
    rank = {label: (0 if label in filters else 1 if label in ("trend", "injected") else 2) for label in labels}
    ordered = sorted(zip(handles, labels), key=lambda pair: rank[pair[1]])
    axes.legend([h for h, _ in ordered], [label for _, label in ordered], loc="best", frameon=False,
                ncols=min(4, len(labelled)))
    return axes


def _table_of(lc, scores: dict | None) -> dict | None:
    """The lightcurve's per-epoch products, if saved and of its length (None otherwise)."""
    table = (scores or {}).get(lc.key)
    if table is None or "quality_flag" not in table or len(table["quality_flag"]) != lc.columns["mjd"].size:
        return None
    return table


def _draw_trend(axes, lc, trend: np.ndarray, flux: bool, label: str | None) -> bool:
    """Draw the baseline line (in magnitudes through the lightcurve's own flux-magnitude relation)."""
    c = lc.columns
    if trend.size != c["mjd"].size:
        return False
    if flux:
        y = trend
    else:
        # The lightcurve's zero point, read from its own epochs (mag + 2.5 log10 flux), so the line is
        # on the same scale as the points whatever the survey's magnitude system.
        with np.errstate(invalid="ignore", divide="ignore"):
            zero_points = c["mag"] + 2.5 * np.log10(c["flux"])
            finite = np.isfinite(zero_points)
            if not finite.any():
                return False
            y = np.median(zero_points[finite]) - 2.5 * np.log10(np.where(trend > 0, trend, np.nan))
    shown = np.isfinite(y) & np.isfinite(c["mjd"])
    if not shown.any():
        return False
    axes.plot(c["mjd"][shown], y[shown], "-", lw=0.7, color=_TREND_COLOR, alpha=0.8, label=label, gid="trend",
              zorder=2.5)
    return True


def _draw_injection(axes, injection, lightcurves, colors: dict, flux: bool, label: str | None) -> bool:
    """Draw an injected event's model over its span (padded by a fifth on each side); False if not drawable."""
    from virtualobserver.domain.injecting import injected_model

    lc = next((lc for lc in lightcurves if lc.id is not None and lc.id == injection.lightcurve_id), None)
    if lc is None:
        return False
    pad = 0.2 * max(injection.end_mjd - injection.start_mjd, 1e-3)
    t = np.linspace(injection.start_mjd - pad, injection.end_mjd + pad, 400)
    try:
        y = injected_model(lc, injection, t)
    except DataError:  # no baseline: nothing was injected into it either
        return False
    if not flux:
        c = lc.columns
        with np.errstate(invalid="ignore", divide="ignore"):
            zero_points = c["mag"] + 2.5 * np.log10(c["flux"])
            finite = np.isfinite(zero_points)
            if not finite.any():
                return False
            y = np.median(zero_points[finite]) - 2.5 * np.log10(np.where(y > 0, y, np.nan))
    axes.plot(t, y, "-", lw=0.9, color=colors.get(lc.filter, "k"), alpha=0.9, label=label, gid="injection",
              zorder=2.6)
    return True


def _label_spread_class():
    from matplotlib.artist import Artist
    from matplotlib.text import Text

    class LabelSpread(Artist):
        """Moves the detection labels apart along the time axis when the figure is drawn.

        Only at draw time are the labels' rendered sizes and the axes' final size (after the
        constrained layout) known, so the offsets are computed there, in pixels of the renderer used.
        """

        zorder = -10  # drawn before the labels it moves

        def __init__(self, labels):
            super().__init__()
            self.labels = labels

        def draw(self, renderer):
            if not self.labels:
                return
            pixels_per_point = renderer.points_to_pixels(1.0)
            for label in self.labels:
                label.xyann = (0.0, -_LEADER_PT)
            anchors = np.array([label.axes.transData.transform((label.xy[0], 0.0))[0] for label in self.labels])
            widths = np.array([Text.get_window_extent(label, renderer).width for label in self.labels])
            right = spread_intervals(anchors, widths, gap=_GAP_PT * pixels_per_point)
            for label, anchor, x in zip(self.labels, anchors, right):
                label.xyann = (float(x - anchor) / pixels_per_point, -_LEADER_PT)

    return LabelSpread


#: Space between two detection labels, and the drop from the top of the axes that leaves room for the
#: leader from a moved label to its detection, in points.
_GAP_PT, _LEADER_PT = 1.0, 6.0


def spread_intervals(right: np.ndarray, widths: np.ndarray, gap: float = 0.0) -> np.ndarray:
    """Return right edges as near as possible to ``right`` with intervals ``[r - w, r]`` apart by ``gap``.

    The order of the wanted edges is kept and the sum of squared moves is least: with ``o_i`` the
    room the intervals left of ``i`` need, ``r_i - o_i`` must not decrease, an isotonic regression
    (pool adjacent violators).

    Parameters
    ----------
    right : numpy.ndarray
        Wanted right edges.
    widths : numpy.ndarray
        Interval widths (same units), each at least 0.
    gap : float
        Least space between neighbours.

    Returns
    -------
    numpy.ndarray
        The right edges, in the order given.
    """
    right, widths = np.asarray(right, dtype=float), np.asarray(widths, dtype=float)
    order = np.argsort(right, kind="stable")
    r, w = right[order], widths[order]
    # Interval i starts at r_i - w_i and must start after interval i-1 ends (r_{i-1}) plus the gap.
    need = np.concatenate([[0.0], np.cumsum(w[1:] + gap)])
    target = r - need
    blocks: list[list[float]] = []  # [sum, count] of pooled targets
    for value in target:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted = np.concatenate([np.full(count, total / count) for total, count in blocks])
    placed = np.empty_like(right)
    placed[order] = fitted + need
    return placed


def _mark(axes, row):
    d = row.detection
    color = _KIND_COLORS.get(d.kind, _DIMMING_COLOR)
    axes.axvspan(min(d.start_mjd, d.peak_mjd), max(d.end_mjd, d.peak_mjd), color=color, alpha=0.15, lw=0,
                 gid="detection")
    axes.axvline(d.peak_mjd, color=color, lw=0.6, ls="--")
    text = f"{d.kind} S/N {d.snr:.1f}" + _measures(d)
    if row.label:
        text += f" [{row.label}]"
    if d.is_simulated:
        text += " sim"
    # The label's right edge at the peak line, its top a little below the axes' top; a thin leader joins
    # it to its line when close labels push it aside (see LabelSpread).
    return axes.annotate(text, xy=(d.peak_mjd, 0.99), xycoords=("data", "axes fraction"),
                         xytext=(0.0, -_LEADER_PT), textcoords="offset points", rotation=90, va="top", ha="right",
                         fontsize=5.5, color=color, gid="detection-label",
                         arrowprops=dict(arrowstyle="-", lw=0.3, color=color, shrinkA=0, shrinkB=0,
                                         relpos=(1.0, 1.0)))


def _measures(d) -> str:
    """A flare's equivalent duration, a dip's depth (where the analysis measured them)."""
    ed, err, amplitude = (getattr(d, name, None) for name in ("equivalent_duration", "equivalent_duration_err",
                                                              "amplitude"))
    if d.kind == BRIGHTENING and ed is not None and np.isfinite(ed):
        return f" ED {ed:.3g}" + (f"±{err:.2g}" if err is not None and np.isfinite(err) else "") + " s"
    if d.kind != BRIGHTENING and amplitude is not None and np.isfinite(amplitude):
        return f" depth {-100.0 * amplitude:.3g}%"
    return ""
