"""MeasuredDataTable: cells drawn before their rows were measured are drawn again at the measured width."""

import asyncio

from textual.app import App
from textual.widgets import DataTable

from virtualobserver.tui.widgets.data_table import MeasuredDataTable


def _drawn_after_measuring(table_class) -> str:
    class One(App):
        def compose(self):
            yield table_class()

    async def run() -> str:
        app = One()
        async with app.run_test(size=(40, 5)):
            table = app.query_one(table_class)
            table.add_column("RA", key="ra")
            row = table.add_row("120.33333")
            # A cell drawn before the idle that measures its row is drawn at the header's width ...
            table._render_cell(0, 0, table.rich_style, table.columns["ra"].get_render_width(table))
            table._update_dimensions({row})  # ... which that idle then widens (called here, in between)
            lines = table._render_cell(0, 0, table.rich_style, table.columns["ra"].get_render_width(table))
            return "".join(segment.text for segment in lines[0]).strip()

    return asyncio.run(run())


def test_a_cell_drawn_before_measuring_is_drawn_again_in_full():
    assert _drawn_after_measuring(MeasuredDataTable) == "120.33333"


def test_textual_alone_keeps_the_early_drawing():
    # The reason for MeasuredDataTable; when this fails, Textual has fixed it and the subclass can go.
    assert _drawn_after_measuring(DataTable) == "12"
