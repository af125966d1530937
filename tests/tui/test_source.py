"""The source screen: metadata, step between lightcurves, zoom and pan in time, the data table, modes."""

import asyncio

import numpy as np
import pytest
from textual.widgets import ContentSwitcher, DataTable

from virtualobserver.domain.rawdata import RawData
from tests.tui.fake_project import FlareSurvey, make_project
from virtualobserver.tui.app import VirtualObserverApp


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
            await pilot.press("plus", "plus")
            lo, hi = screen.xlim
            assert lc.mjds.min() < lo < hi < lc.mjds.max()
            width = hi - lo
            await pilot.press("full_stop")
            assert abs(screen.xlim[0] - (lo + width / 2)) < 1e-9
            # Panning on stops at the last epoch (plus a margin of 2 % of the window), the width kept.
            await pilot.press(*["full_stop"] * 6)
            assert screen.xlim[1] - screen.xlim[0] == pytest.approx(width)
            assert screen.xlim[1] == pytest.approx(lc.mjds.max() + 0.02 * width)
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
            assert screen.query_one("#plot").mode == "flux"
            await pilot.press("m")
            assert screen.query_one("#plot").mode == "snr"
            await pilot.press("A")
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


class ShallowSurvey(FlareSurvey):
    """The flare survey with a limiting magnitude per epoch: every 9th image (and only those) too shallow to show
    the source (limit 10 mag; the sources are 15-20 mag), so the limiting-magnitude cut removes exactly them."""

    def download(self, source):
        raw = super().download(source)
        limit = np.full(raw.num_epochs, 25.0)
        limit[::9] = 10.0
        return RawData(raw.survey, raw.source_name, raw.version, {**raw.columns, "limiting_mag": limit},
                       ra=raw.ra, dec=raw.dec)


def expected_cuts(views, xlim=None):
    """Epochs removed by each cut (within ``xlim``), counted from the lightcurves' own columns, not the products."""
    flagged = shallow = either = 0
    for lc, _ in views:
        inside = np.ones(lc.mjds.size, bool) if xlim is None else (lc.mjds >= xlim[0]) & (lc.mjds <= xlim[1])
        bad_flag, too_shallow = (lc.flag != 0) & inside, (lc.columns["limiting_mag"] == 10.0) & inside
        flagged += int(bad_flag.sum())
        shallow += int(too_shallow.sum())
        either += int((bad_flag | too_shallow).sum())
    return flagged, shallow, either


def status_of(flagged, shallow):
    parts = [f"x flag {flagged}"] * bool(flagged) + [f"v limiting_mag {shallow}"] * bool(shallow)
    return "cut: " + ", ".join(parts) if parts else "no epoch cut"


def grey_markers(plot) -> dict[str, int]:
    """Characters drawn in plotext's grey (colour 8) in the plot, by character: the cut epochs' markers."""
    text = plot.content
    found: dict[str, int] = {}
    for span in text.spans:
        style = span.style if not isinstance(span.style, str) else None
        if style is not None and style.color is not None and style.color.number == 8:
            for char in text.plain[span.start:span.end].strip():
                found[char] = found.get(char, 0) + 1
    return found


def test_cut_epochs_are_drawn_apart_and_the_status_names_each_cut_with_counts():
    project, state = make_project(n=3, survey=ShallowSurvey)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source("S000")
            await settle(app, pilot)
            screen = app.screen
            plot = screen.query_one("#plot")
            flagged, shallow, either = expected_cuts(screen.views)
            assert flagged > 0 and shallow > 0, "the test needs epochs of both cuts"
            status = f"cut: x flag {flagged}, v limiting_mag {shallow}"
            assert plot.status == status and plot.border_subtitle == status
            assert f"epochs, {either} cut ·" in str(screen.query_one("#source-meta").render())
            markers = grey_markers(plot)
            assert set(markers) == {"x", "v"}  # cut epochs are grey; several can share a character cell
            assert not any("\u2800" <= char <= "\u28ff" for char in plot.content.plain)  # no trend in magnitudes
            assert 0 < markers["v"] <= shallow and 0 < markers["x"] <= flagged
            await pilot.press("n")  # one lightcurve: the counts are of the epochs shown
            assert plot.status == status_of(*expected_cuts(screen.views[:1])[:2])
            await pilot.press("plus", "plus")  # and of those within the zoom
            inside = expected_cuts(screen.views[:1], screen.xlim)
            assert inside != expected_cuts(screen.views[:1]), "the zoom should leave some cut epochs out"
            assert plot.status == status_of(*inside[:2])
            await pilot.press("0", "A", "m")  # the whole span of every lightcurve, in flux
            assert plot.mode == "flux" and plot.status == f"{status} · ─ trend" == plot.border_subtitle
            assert any("\u2800" <= char <= "\u28ff" for char in plot.content.plain)  # the trend, in braille dots
            await pilot.press("m")
            assert plot.mode == "snr" and plot.status == status.replace("cut:", "cut, not scored:")
            assert not grey_markers(plot)  # cut epochs have no score to draw
            await pilot.press("t")  # the epochs table names the cuts each epoch failed
            await pilot.pause()
            epochs = screen.query_one("#epochs", DataTable)
            expected = [",".join(["flag"] * bool(lc.flag[i])
                                 + ["limiting_mag"] * bool(lc.columns["limiting_mag"][i] == 10))
                        for lc, _ in screen.views for i in range(lc.mjds.size)]
            assert sum(map(bool, expected)) == either
            assert [epochs.get_row_at(i)[8] for i in range(epochs.row_count)] == expected

    run(scenario())


def test_without_saved_products_the_survey_flags_are_shown_as_flagged():
    project, state = make_project(n=3, overrides={"observatories.analysis.save_epoch_scores": False})
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source("S000")
            await settle(app, pilot)
            screen = app.screen
            flagged = sum(int(np.count_nonzero(lc.flag)) for lc, _ in screen.views)
            assert flagged > 0 and screen.scores == {}
            assert screen.query_one("#plot").status == f"cut: x flagged {flagged}"
            assert f"epochs, {flagged} flagged ·" in str(screen.query_one("#source-meta").render())

    run(scenario())


def test_the_detections_table_shows_amplitude_and_equivalent_duration():
    project, state = make_project(n=12)
    project.run()
    rows = project.detections(order_by="source")
    name = rows[0].source

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source(name)
            await settle(app, pilot)
            table = app.screen.query_one("#source-detections", DataTable)
            labels = [str(column.label) for column in table.columns.values()]
            amp, ed = labels.index("amp"), labels.index("ED s")
            assert ed == amp + 1
            shown = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
            mine = [r.detection for r in rows if r.source == name]
            assert set(shown) == {str(d.id) for d in mine}
            for d in mine:
                assert d.amplitude is not None and d.equivalent_duration is not None
                assert shown[str(d.id)][amp] == f"{d.amplitude:.3g}"
                assert float(shown[str(d.id)][ed]) == pytest.approx(d.equivalent_duration, rel=5e-3)
            # At 80 columns, the columns up to the amplitude (label and sim among them) are on screen
            # without scrolling.
            assert {"S/N", "label", "sim"} <= set(labels[:amp])
            columns = list(table.columns.values())[:amp + 1]
            assert sum(column.get_render_width(table) for column in columns) <= table.scrollable_content_region.width

    run(scenario())
