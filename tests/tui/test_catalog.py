"""The catalog screen: selection expression, cone search, flags, only-with filter, paging, open a source."""

import asyncio

from textual.widgets import DataTable

from tests.tui.fake_project import make_project
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.screens import catalog as catalog_screen


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def names(table: DataTable) -> list:
    return [table.get_row_at(i)[0] for i in range(table.row_count)]


async def submit(app, pilot, key: str, field: str, value: str) -> None:
    """Focus the field with its key, put ``value`` in (typing it key by key is slow) and press enter."""
    await pilot.press(key)
    app.screen.query_one(f"#{field}").value = value
    await pilot.press("enter")
    await settle(app, pilot)


def hint(app) -> str:
    return str(app.screen.query_one("#catalog-hint").render())


def test_selection_cone_flags_and_open():
    project, state = make_project(n=12)
    project.run(limit=6)
    with_detections = {r.source for r in project.detections()}

    async def scenario():
        app = VirtualObserverApp(project=project, start="catalog")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#catalog", DataTable)
            assert table.row_count == 12 and "12 rows · 12 selected by the project · 12 match" in hint(app)
            row = table.get_row_at(0)
            assert row[0] == "S000" and str(row[6]) == "✓" and str(row[7]) == "✓" and row[8] == "4"
            assert str(table.get_row_at(11)[6]) == "·"  # not run yet
            await pilot.press("slash", *"mag < 16", "enter")  # typed once, as a person would
            await settle(app, pilot)
            assert names(table) == ["S000", "S001", "S002", "S003", "S004"]
            assert app.screen.focused is table  # back on the table after enter
            await submit(app, pilot, "slash", "selection", "magnitude < 3")
            assert "unknown column 'magnitude'" in hint(app)
            await submit(app, pilot, "slash", "selection", "")
            await submit(app, pilot, "c", "cone", "1.5 -60 0.5")
            assert names(table) == ["S000"] and table.get_row_at(0)[5] == "15.00"  # 0.5 deg of RA at Dec -60: 15 arcmin
            await submit(app, pilot, "c", "cone", "0 0 200")
            assert "cone: need" in hint(app)
            await submit(app, pilot, "c", "cone", "")
            await pilot.press("f")  # only rows with data
            await settle(app, pilot)
            assert table.row_count == 6
            await pilot.press("f", "f")  # only rows with detections
            await settle(app, pilot)
            assert set(names(table)) == with_detections
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.current_mode == "source" and app.screen.name_shown == names(table)[0]

    run(scenario())


def test_pages(monkeypatch):
    monkeypatch.setattr(catalog_screen, "PAGE", 5)
    project, state = make_project(n=12)

    async def scenario():
        app = VirtualObserverApp(project=project, start="catalog")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#catalog", DataTable)
            assert names(table) == ["S000", "S001", "S002", "S003", "S004"]
            await pilot.press("right_square_bracket", "right_square_bracket")
            await settle(app, pilot)
            assert names(table) == ["S010", "S011"] and "showing 11–12" in hint(app)
            await pilot.press("right_square_bracket")  # no page after the last
            await settle(app, pilot)
            await pilot.press("left_square_bracket")
            await settle(app, pilot)
            assert names(table)[0] == "S005"

    run(scenario())
