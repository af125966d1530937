"""HelpScreen: the key bindings of the screen it was opened over, and the global ones."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from virtualobserver.tui.widgets.nav_bar import SCREENS

__all__ = ["HelpScreen", "binding_rows", "bindings_table"]

_KEY_NAMES = {"question_mark": "?", "slash": "/", "comma": ",", "full_stop": ".", "plus": "+", "minus": "-",
              "equals_sign": "=", "left_square_bracket": "[", "right_square_bracket": "]", "escape": "esc"}


def _key(key: str) -> str:
    return ", ".join(_KEY_NAMES.get(k, k) for k in key.split(","))


def binding_rows(screen: Screen) -> list[tuple[str, str]]:
    """Return (key, what it does) of the screen's bindings, then the app's (generated, so never out of date).

    Parameters
    ----------
    screen : Screen
        The screen whose bindings to list.

    Returns
    -------
    list of tuple
        Rows; a heading row has an empty description.
    """
    rows = [(f"{screen.MODE or type(screen).__name__} screen".capitalize(), "")]
    for binding in type(screen).BINDINGS:
        binding = binding if isinstance(binding, Binding) else Binding(*binding)
        doc = getattr(screen, f"action_{binding.action.split('(')[0]}", None)
        text = binding.description or ((doc.__doc__ or "").strip().splitlines() or [""])[0]
        rows.append((_key(binding.key), text))
    rows.append(("Everywhere", ""))
    rows += [(key, f"{title} screen") for _mode, key, title in SCREENS]
    rows += [("?", "this help"), ("ctrl+p", "command palette (screens, run controls, theme)"),
             ("tab / shift+tab", "move between panes"), ("enter", "open the highlighted item"),
             ("q", "quit (a working run stops after its current step)")]
    return rows


def bindings_table(rows: list[tuple[str, str]]) -> Table:
    """Return ``rows`` (from :func:`binding_rows`) as a two-column table, headings underlined."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, text in rows:
        table.add_row(f"[u]{key}[/u]" if not text else key, text)
    return table


class HelpScreen(ModalScreen):
    """A modal listing the keys; escape, ? or q closes it."""

    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;  /* of the screen less its docked footer: the box never covers the footer */
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, over: Screen, **kwargs):
        super().__init__(**kwargs)
        self.over = over
        self.rows = binding_rows(over)

    def compose(self) -> ComposeResult:  # noqa: D102
        with VerticalScroll() as scroll:
            scroll.border_title = "keys"
            doc = (type(self.over).__doc__ or "").strip().split("\n\n")
            if len(doc) > 1:
                # The screen's docstring, without its reStructuredText literal marks.
                yield Static(" ".join(doc[1].replace("``", "").split()) + "\n", id="help-about", markup=False)
            yield Static(bindings_table(self.rows), id="help-keys")
        yield Footer()
