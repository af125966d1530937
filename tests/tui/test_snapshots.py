"""Snapshots (SVG) of every screen at 80x24 and 120x40, built over fakes (`pytest --snapshot-update` after a
deliberate change); each also reads the screen's text for what must never be cut: the key columns and the footer."""

import asyncio
import re
import time

import pytest
from textual.widgets import DataTable, Footer

from tests.tui.snapshot_app import SCREEN_KEYS, build_app

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def _tables_pending(app) -> bool:
    # A DataTable measures new rows and widens its columns only on its next idle; under load that idle can
    # lag behind two identical renders, which then show the columns at header width. Every screen of the
    # stack counts: a modal (help) shows the table of the screen below it.
    return any(t._require_update_dimensions or t._new_rows or t._updated_cells
               for screen in app.screen_stack for t in screen.query(DataTable))


async def _settle(pilot):
    # Workers post their results as messages, and a table sizes its columns on a later idle; on a loaded
    # machine either can come after any fixed pause. So wait until no table has work pending and two
    # renders in a row are the same, then photograph.
    # A table that has just measured its rows repaints on a later frame: the photograph is taken only
    # when nothing was pending at the previous render either, and the two renders are the same.
    previous, was_pending = None, True
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause(0.1)
        pending = _tables_pending(pilot.app)
        current = pilot.app.export_screenshot()
        if current == previous and not pending and not was_pending:
            return
        previous, was_pending = current, pending
    raise AssertionError("the screen did not settle within 60 s (a table kept pending work or renders kept changing)")


def screen_lines(app) -> list[str]:
    """The screen as the user sees it, one string per terminal row (every layer, modals included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def footer_entries(app) -> list[str]:
    """What the footer must show in full, from the bindings (not from the footer): ``key Description`` for
    each binding shown, ``k1 k2 Group`` for a group (keys joined without a space in a compact group)."""
    screen = next(s for s in reversed(app.screen_stack) if s.query(Footer))
    entries, groups, actions = [], {}, set()
    for _node, binding, _enabled, _tooltip in screen.active_bindings.values():
        if not binding.show or binding.action in actions:
            continue  # an action bound to several keys (+ and =) is shown once, by its first key
        actions.add(binding.action)
        key = app.get_key_display(binding)
        if binding.group is None:
            entries.append(f"{key} {binding.description}")
        else:
            groups.setdefault(binding.group, []).append(key)
    for group, keys in groups.items():
        entries.append(("" if group.compact else " ").join(keys) + " " + group.description)
    return entries


def check_screen(app, screen: str, size: tuple[int, int]) -> None:
    """Assert what must hold on ``screen`` at ``size``, reading the rendered text."""
    lines = screen_lines(app)
    assert len(lines) == size[1] and all(len(line) == size[0] for line in lines)
    footer = lines[-1]
    keys_part = footer.split("▏")[0]  # the command palette's key is docked right, after a bar
    entries = footer_entries(app)
    assert ("esc Close" if screen == "help" else "q Quit") in entries
    for entry in entries:
        assert entry in keys_part, f"footer entry {entry!r} cut or missing: {footer!r}"
    assert screen == "help" or "^p palette" in footer
    if screen == "projects":  # every column of both tables, and the hint whole
        text = "\n".join(lines)
        assert re.search(r"\bsimulate\b", text) and re.search(r"\bdetections\b", text)
        assert "(or says why a file is invalid)" in text
    if screen == "catalog":
        header = next(line for line in lines if line.lstrip().startswith("name "))
        assert re.search(r"\bdet\b", header), header
    if screen == "detections":
        header = next(line for line in lines if re.match(r"^\s*id\s+source\b", line))
        assert re.search(r"\bsim\b", header) and re.search(r"\blabel\b", header), header
        assert "real" in "\n".join(lines) and "artifact" in "\n".join(lines)
    if screen == "source":
        header = next(line for line in lines if re.match(r"^│ id\s+LC\s", line))
        for column in ("S/N", "label", "sim"):
            assert re.search(rf"(?<!\S){re.escape(column)}(?!\S)", header), header
        pane = app.screen.query_one("#source-detections").region
        assert "real" in "\n".join(lines[pane.y:pane.bottom])  # labelled on this screen
        plot = app.screen.query_one("#plot")
        assert plot.region.height >= 0.5 * size[1], "the plot should have most of the height"
        if size[1] >= 40:  # a tall terminal lists more detections too: a header and at least seven rows
            assert app.screen.query_one("#source-detections").region.height >= 10
    if screen in ("source", "histograms", "efficiency"):
        # The drawing fills its frame's width: its axis (└───┘) spans most of the screen.
        axis = max((line for line in lines if "└" in line and "┘" in line), key=len)
        span = axis.rindex("┘") - axis.index("└")
        assert span >= (0.8 if screen == "source" else 0.6) * size[0], axis


def _keys(keys, screen, size):
    async def run_before(pilot):
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)
        check_screen(pilot.app, screen, size)

    return run_before


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREEN_KEYS))
def test_screen(snap_compare, screen, size):
    assert snap_compare(build_app(), run_before=_keys(SCREEN_KEYS[screen], screen, SIZES[size]),
                        terminal_size=SIZES[size])


@pytest.mark.parametrize("screen", ["source", "histograms"])
def test_a_large_terminal_is_used(screen):
    """At 200x60 the same holds, and the drawings fill the room (no snapshot: the text says it)."""

    async def scenario():
        app = build_app()
        async with app.run_test(size=(200, 60)) as pilot:
            await _keys(SCREEN_KEYS[screen], screen, (200, 60))(pilot)

    asyncio.run(scenario())
