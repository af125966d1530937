"""The source screen: metadata, step between lightcurves, zoom and pan in time, the data table, modes."""

import asyncio

from textual.widgets import ContentSwitcher, DataTable

from tests.tui.fake_project import make_project
from tui.app import VirtualObserverApp


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def test_step_zoom_pan_table_and_modes():
    project, state = make_project(n=6, simulate=True)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await app.show_source("S000")
            await settle(app, pilot)
            screen = app.screen
            meta = str(screen.query_one("#source-meta").render())
            assert "S000" in meta and "RA 1.00000" in meta and "plx 1.00 mas" in meta
            assert len(screen.views) == 4  # two filters x two seasons
            assert screen.index is None and "LC all 4" in meta
            await pilot.press("n")
            assert screen.index == 0 and "LC 1/4" in str(screen.query_one("#source-meta").render())
            await pilot.press("n", "n", "n", "n")
            assert screen.index == 0  # wraps
            await pilot.press("N")
            assert screen.index == 3
            lc = screen.views[3][0]
            await pilot.press("plus")
            lo, hi = screen.xlim
            assert lc.mjds.min() < lo < hi < lc.mjds.max()
            width = hi - lo
            await pilot.press("full_stop")
            assert abs(screen.xlim[0] - (lo + width / 2)) < 1e-9
            await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
            assert screen.xlim is None  # zoomed out to the whole span
            await pilot.press("plus", "0")
            assert screen.xlim is None
            await pilot.press("t")
            await pilot.pause()
            assert screen.query_one("#source-views", ContentSwitcher).current == "epochs"
            epochs = screen.query_one("#epochs", DataTable)
            assert epochs.row_count == lc.mjds.size
            assert epochs.get_row_at(0)[2] == f"{lc.mjds[0]:.5f}"
            await pilot.press("t", "m")
            assert screen.query_one("#plot").mode == "snr"
            await pilot.press("a")
            assert screen.index is None
            hidden = screen.query_one("#source-detections", DataTable).row_count
            await pilot.press("s")
            await settle(app, pilot)
            shown = screen.query_one("#source-detections", DataTable).row_count
            assert screen.include_simulated and shown >= hidden

    run(scenario())


def test_next_event_zooms_on_each_detection_in_turn():
    project, state = make_project(n=12)
    project.run()
    rows = project.detections(order_by="source")
    name = rows[0].source
    peaks = sorted(r.detection.peak_mjd for r in rows if r.source == name)

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source(name)
            await settle(app, pilot)
            screen = app.screen
            for peak in peaks + peaks[:1]:
                await pilot.press("e")
                lo, hi = screen.xlim
                assert lo < peak < hi
            selected = screen.query_one("#source-detections", DataTable)
            assert selected.row_count == len(peaks)

    run(scenario())


def test_a_source_without_data():
    project, state = make_project(n=6)

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source("S003")
            await settle(app, pilot)
            assert "no lightcurves" in str(app.screen.query_one("#plot").render())
            await pilot.press("n", "plus", "e", "t")

    run(scenario())
