"""Snapshots (SVG) of every screen at 80x24, built over fakes (`pytest --snapshot-update` after a deliberate change)."""

import pytest

from tests.tui.snapshot_app import SCREEN_KEYS, build_app


async def _settle(pilot):
    # Workers post their results as messages, and a table sizes its columns on a later refresh; on a loaded
    # machine either can come after any fixed pause (a table was once photographed with its columns still
    # at header width). So wait until two renders in a row are the same, then photograph.
    previous = None
    for _ in range(60):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
        current = pilot.app.export_screenshot()
        if current == previous:
            return
        previous = current


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
