"""Shared figure set-up: matplotlib loaded lazily, an Agg canvas per figure, paper-sized fonts, atomic saving."""

from __future__ import annotations

import contextlib
from pathlib import Path

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError

__all__ = ["paper_figure", "save_figure", "FIGURE_FORMATS"]

#: Output formats by file extension.
FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
#: Fonts sized for a journal column once the figure is printed at its own size; TrueType in PDFs.
_RC = {"font.size": 8, "axes.labelsize": 8, "axes.titlesize": 9, "legend.fontsize": 7,
       "xtick.labelsize": 7, "ytick.labelsize": 7, "pdf.fonttype": 42, "ps.fonttype": 42}


@contextlib.contextmanager
def paper_figure(width: float, height: float):
    """Yield a matplotlib Figure on its own Agg canvas, with paper fonts while inside the block.

    No pyplot state is touched, so figures can be drawn in threads and without a display.

    Parameters
    ----------
    width, height : float
        Size in inches.

    Yields
    ------
    matplotlib.figure.Figure
        Draw on it and save it (:func:`save_figure`) inside the block.

    Raises
    ------
    DataError
        If matplotlib is not installed.
    """
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise DataError("matplotlib is required for figures (pip install 'matplotlib>=3.8')") from exc
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
        yield figure


def save_figure(figure, path: str | Path) -> Path:
    """Write a figure atomically in the format its extension names.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure.
    path : str or pathlib.Path
        ``.png`` (300 dpi), ``.pdf`` or ``.svg`` (vector).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DataError
        For another extension.
    """
    path = Path(path)
    fmt = FIGURE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: figures are written as {', '.join(FIGURE_FORMATS)} (chosen by the extension)")
    # No creation date in PDFs: the same products give the same bytes.
    metadata = {"CreationDate": None} if fmt == "pdf" else {}
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, dpi=300, metadata=metadata)
    return path
