"""StampsPanel: the reference, peak and difference stamps of a detection, drawn with textual-image.

textual-image draws with the Kitty graphics protocol or Sixel where the terminal has one, and with
half blocks (one character = two pixels, in colour) elsewhere: over plain SSH, in tmux, and in tests,
where no terminal answers. ``VO_TUI_IMAGES=halfcell`` forces half blocks. The terminal is asked which
protocol it has when this module is first imported, which must happen before the app starts (the app
reads the terminal's answers afterwards); ``vo tui`` imports the app, and so this, first.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_image.renderable import Image as _BEST_RENDERABLE
from textual_image.renderable import SixelImage, TGPImage
from textual_image.widget import HalfcellImage
from textual_image.widget import Image as BestImage

from virtualobserver.tui.stamp_colours import DIFFERENCE_COLOURS, IMAGE_COLOURS, difference_range, image_range, to_rgb

__all__ = ["StampsPanel", "image_class", "STAMP_COLUMNS", "STAMP_ROWS"]

#: Size of each stamp on the screen: 11 columns by 6 rows, i.e. 11 x 12 half-block pixels (about square).
STAMP_COLUMNS, STAMP_ROWS = 11, 6


def image_class():
    """Return the textual-image widget to draw with: Kitty or Sixel where the terminal has it, half blocks otherwise."""
    if os.environ.get("VO_TUI_IMAGES", "").lower() != "halfcell" and _BEST_RENDERABLE in (SixelImage, TGPImage):
        return BestImage
    return HalfcellImage


def _picture(rgb: np.ndarray, graphics: bool) -> PILImage.Image:
    # Half blocks draw 2 pixels per cell; resizing here (nearest: pixels stay sharp) leaves textual-image's
    # own scaling nothing to do. Graphics protocols get the pixels enlarged, not smoothed, as well.
    size = (STAMP_COLUMNS * 8, STAMP_ROWS * 16) if graphics else (STAMP_COLUMNS, STAMP_ROWS * 2)
    return PILImage.fromarray(rgb, mode="RGB").resize(size, PILImage.Resampling.NEAREST)


class StampsPanel(Vertical):
    """Three stamps side by side with a title; ``show(stamps, title)`` or ``show(None, why)``."""

    DEFAULT_CSS = f"""
    StampsPanel {{
        width: {3 * STAMP_COLUMNS + 4};
        height: {STAMP_ROWS + 3};
        border: round $accent;
        padding: 0;
    }}
    StampsPanel Horizontal {{
        height: {STAMP_ROWS + 1};
    }}
    StampsPanel .stamp {{
        width: {STAMP_COLUMNS};
        height: {STAMP_ROWS + 1};
        margin: 0 1 0 0;
    }}
    StampsPanel .stamp-label {{
        width: {STAMP_COLUMNS};
        height: 1;
        text-align: center;
        color: $text-muted;
    }}
    StampsPanel .stamp-image {{
        width: {STAMP_COLUMNS};
        height: {STAMP_ROWS};
    }}
    StampsPanel #stamps-note {{
        height: {STAMP_ROWS + 1};
        color: $text-muted;
        display: none;
    }}
    """

    def compose(self) -> ComposeResult:  # noqa: D102
        kind = image_class()
        with Horizontal(id="stamps-row"):
            for name, label in (("reference", "ref"), ("peak", "peak"), ("difference", "diff")):
                with Vertical(classes="stamp"):
                    yield Static(label, classes="stamp-label")
                    yield kind(None, id=f"stamp-{name}", classes="stamp-image")
        yield Static("", id="stamps-note")

    def on_mount(self) -> None:  # noqa: D102
        self.border_title = "stamps"

    def show(self, stamps, title: str) -> None:
        """Draw ``stamps`` (a :class:`~domain.stamps.Stamps`) under ``title``, or only a note when it is None."""
        self.border_title = title
        row, note = self.query_one("#stamps-row"), self.query_one("#stamps-note", Static)
        if stamps is None:
            row.display, note.display = False, True
            note.update(title)
            self.border_title = "stamps"
            return
        row.display, note.display = True, False
        graphics = image_class() is not HalfcellImage
        # Each image on its own stretch: a bright event would leave the reference black on a shared one.
        pictures = {"reference": to_rgb(stamps.reference, image_range(stamps.reference), IMAGE_COLOURS),
                    "peak": to_rgb(stamps.peak, image_range(stamps.peak), IMAGE_COLOURS),
                    "difference": to_rgb(stamps.difference, difference_range(stamps.difference), DIFFERENCE_COLOURS)}
        for name, rgb in pictures.items():
            self.query_one(f"#stamp-{name}").image = _picture(rgb, graphics)
