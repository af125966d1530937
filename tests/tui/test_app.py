"""TUI driven with Pilot over a Project on fake adapters."""

import asyncio

from textual.widgets import DataTable, RichLog

from tests.unit.test_project import make_project
from tui.app import VirtualObserverApp
from tui.messages import RunFinished, SourceLoaded, StageStarted


def run(coro):
    return asyncio.run(coro)


def test_run_from_the_tui_shows_progress_and_status():
    project, state = make_project(n=6, batch_size=2)
    messages = []

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(message_hook=messages.append) as pilot:
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#status", DataTable)
            rows = {table.get_row_at(i)[0]: table.get_row_at(i)[1] for i in range(table.row_count)}
            assert rows["analysed"] == "6" and rows["sources"] == "6"
            assert set(app.bars) == {"fake:download", "fake:reduce", "fake:analyse"}
            assert all(bar.progress == 6 for bar in app.bars.values())
            lines = [str(line.text) for line in app.query_one("#log", RichLog).lines]
            assert any("run finished" in line for line in lines)

    run(scenario())
    finished = [m for m in messages if isinstance(m, RunFinished)]
    assert len(finished) == 1 and finished[0].summary["analyse"]["done"] == 6
    assert sum(isinstance(m, StageStarted) for m in messages) == 3


def test_app_without_project_explains_how_to_open_one():
    async def scenario():
        app = VirtualObserverApp()
        async with app.run_test():
            lines = [str(line.text) for line in app.query_one("#log", RichLog).lines]
            assert any("vo tui CONFIG" in line for line in lines)

    run(scenario())


def test_sources_view_plots_the_highlighted_source():
    project, state = make_project(n=6, batch_size=3, overrides={"observatories.analysis.threshold": 2.0})
    project.run()
    messages = []

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(140, 40), message_hook=messages.append) as pilot:
            await pilot.press("2")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#sources", DataTable)
            assert table.row_count == 6
            names = [table.get_row_at(i)[0] for i in range(table.row_count)]
            snrs = [float(table.get_row_at(i)[1]) for i in range(table.row_count)]
            assert snrs == sorted(snrs, reverse=True)
            await pilot.press("down")
            await app.workers.wait_for_complete()
            await pilot.pause()
            plot = app.query_one("#plot")
            assert plot.views and plot.title_text.startswith(names[1])
            rendered = str(plot.render())
            assert "MJD" in rendered
            detections = app.query_one("#detections", DataTable)
            expected = sum(len(found) for _, found in plot.views)
            assert detections.row_count == expected
            await pilot.press("m")
            await pilot.pause()
            assert plot.mode == "snr" and plot.scores and "best S/N" in str(plot.render())
            await pilot.press("m")
            assert plot.mode == "mag"

    run(scenario())
    loaded = [m for m in messages if isinstance(m, SourceLoaded)]
    assert loaded and all(lc.is_loaded for lc, _ in loaded[-1].views)


def test_cancel_stops_between_steps_and_keeps_committed_work():
    import threading

    from tests.fakes import FakeSurveyClient

    project, state = make_project(n=12, batch_size=2)
    gate = threading.Event()
    original = FakeSurveyClient.download

    def slow_download(self, source):
        gate.wait(5)  # hold the first batch until the test has pressed "c"
        return original(self, source)

    FakeSurveyClient.download = slow_download
    try:
        async def scenario():
            app = VirtualObserverApp(project=project)
            async with app.run_test() as pilot:
                await pilot.press("r")
                await pilot.pause()
                await pilot.press("c")
                gate.set()
                await app.workers.wait_for_complete()
                await pilot.pause()
                lines = [str(line.text) for line in app.query_one("#log", RichLog).lines]
                assert any("run cancelled" in line for line in lines), lines
                assert not any(line.startswith("error:") for line in lines)

        run(scenario())
    finally:
        FakeSurveyClient.download = original
    status = project.status()
    assert 0 < status["downloaded"] < 12 and status["analysed"] < 12  # stopped early, committed steps kept
    project.run()
    assert project.status()["analysed"] == 12
