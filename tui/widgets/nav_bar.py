"""NavBar: one line naming the screens with their keys, the current one highlighted (and clickable)."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["NavBar", "SCREENS"]

#: Screens (modes) in key order: (mode, key, title).
SCREENS = (
    ("projects", "1", "Projects"),
    ("catalog", "2", "Catalog"),
    ("run", "3", "Run"),
    ("source", "4", "Source"),
    ("detections", "5", "Detections"),
    ("histograms", "6", "Histograms"),
)


def nav_markup(current: str) -> str:
    """Return the tabs as Textual markup, ``current`` highlighted; each tab is a click target."""
    tabs = []
    for mode, key, title in SCREENS:
        style = "b reverse" if mode == current else ""
        body = f"[b]{key}[/b] {title}"
        tab = f"[@click=app.goto('{mode}')] {body} [/]"
        tabs.append(f"[{style}]{tab}[/]" if style else tab)
    return "".join(tabs) + "  [dim]? help[/]"


class NavBar(Static):
    """The screen tabs; ``current`` is the mode of the screen that shows it."""

    DEFAULT_CSS = """
    NavBar {
        height: 1;
        background: $panel;
        link-style: none;
        link-color: $foreground;
        link-background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, current: str, **kwargs):
        super().__init__(nav_markup(current), **kwargs)
        self.current = current
