"""The detections screen: sort, label (persisted, exported), filter, simulated toggle, open at the event."""

import asyncio

from textual.widgets import DataTable

from tests.tui.fake_project import make_project
from virtualobserver.tui.app import VirtualObserverApp


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def column(table: DataTable, index: int) -> list:
    return [table.get_row_at(i)[index] for i in range(table.row_count)]


def test_sort_label_filter_and_simulated_toggle():
    project, state = make_project(n=12, simulate=True)
    project.run()
    total = project.status()["detections"]

    async def scenario():
        app = VirtualObserverApp(project=project, start="detections")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#detections", DataTable)
            assert table.row_count == total
            snr = [abs(float(v)) for v in column(table, 5)]
            assert snr == sorted(snr, reverse=True)
            await pilot.press("o")  # by time
            await settle(app, pilot)
            times = [float(v) for v in column(table, 4)]
            assert times == sorted(times)
            await pilot.press("d")  # reversed
            await settle(app, pilot)
            assert [float(v) for v in column(table, 4)] == sorted(times, reverse=True)
            await pilot.press("o")  # by source
            await settle(app, pilot)
            assert column(table, 1) == sorted(column(table, 1))
            await pilot.press("o", "o", "o")  # label, centroid σ, back to |S/N|
            await settle(app, pilot)
            first, second, third = (table.get_row_at(i)[0] for i in range(3))
            await pilot.press("r", "a", "u")  # each label moves the cursor down
            await settle(app, pilot)
            assert [str(table.get_row_at(i)[6]) for i in range(3)] == ["real", "artifact", "unsure"]
            assert "1 real, 1 artifact, 1 unsure" in str(app.screen.query_one("#detections-hint").render())
            await pilot.press("up", "up", "x")  # clear the artifact label
            await settle(app, pilot)
            await pilot.press("f")  # unjudged only
            await settle(app, pilot)
            assert table.row_count == total - 2
            await pilot.press("f", "f", "f", "f")  # back to all
            await pilot.press("s")  # simulated shown
            await settle(app, pilot)
            assert table.row_count > total and "sim" in [str(v) for v in column(table, 7)]
            return first, second, third

    first, second, third = run(scenario())
    labels = {r.detection.id: r.label for r in project.detections()}
    assert (labels[int(first)], labels[int(second)], labels[int(third)]) == ("real", None, "unsure")
    exported = {row["peak_mjd"]: row["label"] for row in project.export("detections")}
    assert sorted(v for v in exported.values() if v) == ["real", "unsure"]


def test_enter_opens_the_source_zoomed_on_the_event():
    project, state = make_project(n=12)
    project.run()
    best = project.detections()[0]

    async def scenario():
        app = VirtualObserverApp(project=project, start="detections")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
            screen = app.screen
            assert app.current_mode == "source" and screen.name_shown == best.source
            lo, hi = screen.xlim
            assert lo < best.detection.peak_mjd < hi and hi - lo < 100
            lc, found = screen.views[screen.index]
            assert best.detection.id in [d.id for d in found]
            assert "MJD" in str(screen.query_one("#plot").render())

    run(scenario())


def test_clicking_a_header_sorts():
    project, state = make_project(n=12)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, start="detections")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#detections", DataTable)
            table.post_message(DataTable.HeaderSelected(table, table.columns["source"].key, 1,
                                                        table.columns["source"].label))
            await settle(app, pilot)
            assert app.screen.order == 2 and column(table, 1) == sorted(column(table, 1))

    run(scenario())
