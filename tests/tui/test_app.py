"""The app as a whole: screens by key, help, command palette, no project, an 80x24 terminal."""

import asyncio

import pytest
from textual.widgets import DataTable, RichLog

from tests.tui.fake_project import FakeClock, make_project, make_workspace
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.screens.help import HelpScreen
from virtualobserver.tui.widgets.nav_bar import SCREENS

SMALL = (80, 24)


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    """Let workers finish and their messages be handled."""
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def test_number_keys_show_each_screen_and_it_fits_80x24():
    project, _ = make_project()
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=SMALL) as pilot:
            await settle(app, pilot)
            assert app.current_mode == "run"
            for mode, key, _title in SCREENS:
                await pilot.press(key)
                await settle(app, pilot)
                assert app.current_mode == mode and app.screen.MODE == mode
                # Every widget of the screen's body lies inside the 80x24 screen and has room.
                for widget in app.screen.query("DataTable, LightcurvePlot, HistogramPlot, RichLog, StagePane"):
                    if widget.display and widget.parent.display:
                        region = widget.region
                        assert region.right <= 80 and region.bottom <= 24, (mode, widget, region)

    run(scenario())


def test_help_lists_the_keys_of_the_current_screen_and_closes():
    project, _ = make_project()

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("5")
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = " ".join(f"{key} {what}" for key, what in app.screen.rows)
            for expected in ("Real", "Artifact", "Unsure", "Order", "Detections screen", "ctrl+p"):
                assert expected in text, expected
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.MODE == "detections"

    run(scenario())


def test_command_palette_goes_to_a_screen_and_starts_a_run():
    project, _ = make_project()

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"go to histograms")
            await pilot.pause(0.15)
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.current_mode == "histograms"
            run_command = next(c for c in app.get_system_commands(app.screen) if c.title == "Run")
            run_command.callback()  # the palette's "Run", without typing it again
            await settle(app, pilot)
            assert app.current_mode == "run" and app.screen.state == "finished"

    run(scenario())
    assert project.status()["analysed"] == 12


def test_without_a_project_it_starts_on_the_project_list():
    async def scenario():
        app = VirtualObserverApp()
        async with app.run_test(size=SMALL) as pilot:
            await settle(app, pilot)
            assert app.current_mode == "projects"
            await pilot.press("3")
            await settle(app, pilot)
            text = "".join(str(line.text) for line in app.screen.query_one("#log", RichLog).lines)
            assert "`vo tui CONFIG`" in text
            await pilot.press("r")  # nothing to run: a warning, no crash
            await settle(app, pilot)
            assert app.screen.state == "idle"

    run(scenario())


@pytest.mark.parametrize("start", ["catalog", "source", "detections", "histograms"])
def test_screens_without_a_project_say_so(start):
    async def scenario():
        app = VirtualObserverApp(start=start)
        async with app.run_test(size=SMALL) as pilot:
            await settle(app, pilot)
            assert app.current_mode == start
            await pilot.press("enter", "n", "plus", "o", "a")  # keys with nothing to act on do no harm

    run(scenario())


def test_quit_while_running_stops_the_run_after_its_step():
    import threading

    from tests.tui.fake_project import FlareSurvey

    project, state = make_project(n=12, batch_size=2)
    gate = threading.Event()
    download = FlareSurvey.download

    def held(survey, source):
        gate.wait(5)  # hold the first batch until "q" was pressed
        return download(survey, source)

    async def scenario():
        app = VirtualObserverApp(project=project, workspace=make_workspace(state))
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("r")
            await pilot.pause()
            assert app.run_active
            await pilot.press("q")
            gate.set()

    FlareSurvey.download = held
    try:
        run(scenario())
    finally:
        FlareSurvey.download = download
    assert project.status()["analysed"] < 12  # stopped early; committed batches kept


def test_status_table_counts_after_a_run():
    project, _ = make_project()
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=SMALL) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#status", DataTable)
            row = table.get_row_at(0)
            assert row[0] == "fake" and row[1] == "12" and row[4] == "12"

    run(scenario())
