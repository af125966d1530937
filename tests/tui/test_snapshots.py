"""Snapshots (SVG) of every screen at 80x24, built over fakes (`pytest --snapshot-update` after a deliberate change)."""

import time

import pytest
from textual.widgets import DataTable

from tests.tui.snapshot_app import SCREEN_KEYS, build_app


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


def _keys(keys):
    async def run_before(pilot):
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    return run_before


# Every screen and the help; the efficiency view and others are in the screenshots (`make screenshots`).
@pytest.mark.parametrize("screen", [name for name in SCREEN_KEYS if name != "efficiency"])
def test_screen(snap_compare, screen):
    assert snap_compare(build_app(), run_before=_keys(SCREEN_KEYS[screen]), terminal_size=(80, 24))
