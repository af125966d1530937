"""Pixel evidence in the TUI: the centroid column and its sort on the detections screen, the stamps on the source screen."""

import asyncio

import numpy as np
from textual.widgets import DataTable
from textual_image.widget import HalfcellImage

from tests.tui.fake_project import ImagedFlareSurvey, make_project
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.widgets.stamps_panel import STAMP_COLUMNS, STAMP_ROWS, StampsPanel


async def settle(app, pilot):
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def imaged_project():
    project, _ = make_project(n=16, batch_size=6, survey=ImagedFlareSurvey)
    project.run(limit=12)
    return project


def test_c_sorts_by_centroid_significance_unmeasured_last_and_again_reverses():
    project = imaged_project()
    # Independently of the screen: each detection's significance from the project.
    sigma = {str(r.detection.id): r.detection.centroid_offset_sigma for r in project.detections()}
    measured = sorted((k for k, v in sigma.items() if v is not None), key=lambda k: -sigma[k])
    unmeasured = {k for k, v in sigma.items() if v is None}
    assert len(measured) >= 3 and unmeasured

    async def scenario():
        app = VirtualObserverApp(project=project, start="detections")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("c")
            await settle(app, pilot)
            table = app.screen.query_one("#detections", DataTable)
            ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert ids[:len(measured)] == measured and set(ids[len(measured):]) == unmeasured
            top = table.get_row(ids[0])[list(table.columns).index("centroid")]
            assert str(top) == f"{sigma[ids[0]]:.1f}"
            blank = table.get_row(ids[-1])[list(table.columns).index("centroid")]
            assert str(blank) == ""
            assert "by centroid offset σ ↓" in str(app.screen.query_one("#detections-hint").render())
            await pilot.press("c")
            await settle(app, pilot)
            ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert ids[:len(measured)] == measured[::-1] and set(ids[len(measured):]) == unmeasured
            # Every column stays on an 80-column screen (with these short source names): the last one ends inside it.
            assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80

    asyncio.run(scenario())


def test_the_source_screen_draws_reference_peak_and_difference_of_the_highlighted_detection():
    project = imaged_project()
    rows = project.detections(order_by="centroid")
    flagged = rows[0]  # the light that changed came from the neighbour, 3 px right of the target
    assert flagged.detection.centroid_offset_sigma > 5

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await app.show_source(flagged.source, focus=flagged.detection)
            await settle(app, pilot)
            panel = app.screen.query_one("#stamps", StampsPanel)
            assert panel.display and f"det {flagged.detection.id}" in panel.border_title
            assert f"cen {flagged.detection.centroid_offset_sigma:.1f}σ" in panel.border_title
            images = {name: panel.query_one(f"#stamp-{name}") for name in ("reference", "peak", "difference")}
            # No terminal answers in tests: half blocks, one character per pixel across, two down.
            assert all(isinstance(w, HalfcellImage) for w in images.values())
            assert all(w.image.size == (STAMP_COLUMNS, 2 * STAMP_ROWS) for w in images.values())
            assert all(w.size == (STAMP_COLUMNS, STAMP_ROWS) for w in images.values())
            # The difference is brightest (orange: most red) where the neighbour is: column 8 of 11.
            red = np.asarray(images["difference"].image)[..., 0].astype(int)
            assert np.unravel_index(np.argmax(red), red.shape)[1] == 8
            # The reference is brightest on the target, at the centre (column 5).
            ref = np.asarray(images["reference"].image).astype(int).sum(axis=2)
            assert np.unravel_index(np.argmax(ref), ref.shape)[1] == 5

    asyncio.run(scenario())


def test_no_stamps_panel_for_a_survey_without_images():
    project, _ = make_project(n=6)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await app.show_source("S000")
            await settle(app, pilot)
            assert not app.screen.query_one("#stamps", StampsPanel).display
            assert app.screen.query_one("#source-bottom").size.height == 6

    asyncio.run(scenario())


def test_opened_on_a_detection_the_stamps_are_those_of_that_detection_whichever_its_row():
    project = imaged_project()
    by_source = {}
    for r in project.detections(order_by="time"):
        by_source.setdefault(r.source, []).append(r.detection)
    name, found = next((n, ds) for n, ds in by_source.items() if len(ds) >= 2)

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            for detection in (found[-1], found[0], found[-1]):
                await app.show_source(name, focus=detection)
                await settle(app, pilot)
                table = app.screen.query_one("#source-detections", DataTable)
                assert str(table.get_row_at(table.cursor_row)[0]) == str(detection.id)
                title = app.screen.query_one("#stamps", StampsPanel).border_title
                assert app.screen.stamps_for == str(detection.id)
                assert title == "stamps" or title.startswith(f"det {detection.id}")

    asyncio.run(scenario())
