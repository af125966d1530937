"""Snapshots (SVG) of every screen at 80x24, built over fakes (`pytest --snapshot-update` after a deliberate change)."""

import pytest

from tests.tui.snapshot_app import SCREEN_KEYS, build_app


async def _settle(pilot):
    # Workers post their results as messages; on a loaded machine those can arrive after the first pause,
    # so settle a few rounds with a little wall time each before the screen is photographed.
    for _ in range(6):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)


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
