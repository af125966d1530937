"""The projects screen: project files and database projects with per-version counts; open another project."""

import asyncio

from textual.widgets import DataTable

from tests.fakes import FakeDataStore, FakeHistogramStore, FakeState
from tests.tui.fake_project import make_project, make_workspace
from virtualobserver.tui.app import VirtualObserverApp


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def test_lists_files_and_database_projects_and_opens_one():
    state, store, histograms = FakeState(), FakeDataStore(), FakeHistogramStore()
    project, _ = make_project(state, n=12, name="demo", store=store, histogram_store=histograms)
    project.run()
    make_project(state, n=12, name="demo", overrides={"observatories.analysis.threshold": 4.0}, store=store,
                 histogram_store=histograms)[0].run(limit=3)
    workspace = make_workspace(state, store=store, histogram_store=histograms)

    async def scenario():
        app = VirtualObserverApp(project=project, workspace=workspace, start="projects")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            configs = app.screen.query_one("#configs", DataTable)
            rows = [configs.get_row_at(i) for i in range(configs.row_count)]
            assert [r[1] for r in rows] == ["configs/demo.yaml", "configs/other.yaml", "configs/broken.yaml"]
            assert str(rows[0][0]) == "●" and rows[0][2] == "demo" and rows[0][4:7] == ["12", "12", "12"]
            assert rows[1][4] == "0" and "invalid" in str(rows[2][2])
            database = app.screen.query_one("#database", DataTable)
            db_rows = [database.get_row_at(i) for i in range(database.row_count)]
            analyse = [r for r in db_rows if r[3] == "analyse"]
            assert len(analyse) == 2 and sorted(r[5] for r in analyse) == ["12", "3"]
            current = [r for r in analyse if str(r[6]) == "✓"]
            assert len(current) == 1 and current[0][5] == "12"
            await pilot.press("down", "down", "enter")  # the broken file: an error, nothing opened
            await settle(app, pilot)
            assert app.project is project
            await pilot.press("up", "enter")  # configs/other.yaml
            await settle(app, pilot)
            assert app.project.name == "other" and app.current_mode == "run" and app.sub_title == "other"
            await pilot.press("r")
            await settle(app, pilot)
            await pilot.press("1")
            await settle(app, pilot)
            configs = app.screen.query_one("#configs", DataTable)
            assert configs.get_row_at(1)[5] == "12" and str(configs.get_row_at(1)[0]) == "●"
            await pilot.press("tab", "enter")  # the database's "demo" project, opened through its file
            await settle(app, pilot)
            assert app.project.name == "demo"

    run(scenario())


def test_without_a_workspace_the_open_project_is_listed():
    project, state = make_project(n=4)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, start="projects")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            database = app.screen.query_one("#database", DataTable)
            assert database.get_row_at(0)[0] == "demo" and database.row_count == 2  # reduce and analyse

    run(scenario())
