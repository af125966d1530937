"""Vetting on the source screen: label there, step events across lightcurves, the window, views, the palette."""

import asyncio

import numpy as np
from textual.widgets import DataTable

from tests.tui.fake_project import FlareSurvey, make_project
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.event_window import clamp_window, event_window

#: Epoch indices (of 80, in time order) where ManyFlareSurvey brightens S000 by 0.5 mag: six events, all
#: in the first season's g or r epochs, far apart.
FLARE_EPOCHS = (3, 9, 15, 21, 27, 33)


class ManyFlareSurvey(FlareSurvey):
    """The flare survey with six more short flares on S000 (one epoch each, 25 times the noise)."""

    def download(self, source):
        raw = super().download(source)
        if source.name == "S000":
            raw.columns["mag"][list(FLARE_EPOCHS)] -= 0.5
        return raw


async def settle(app, pilot):
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_label_on_the_source_screen_is_stored_and_e_steps_events_across_two_lightcurves():
    project, state = make_project(n=6)
    project.run()
    # S000 has a flare seen in g and in r (seed-driven), i.e. detections in two lightcurves: the project says so.
    rows = [r for r in project.detections(order_by="time") if r.source == "S000"]
    assert len({(r.filter, r.season) for r in rows}) == 2
    expected = [(r.detection.id, r.filter) for r in sorted(rows, key=lambda r: r.detection.peak_mjd)]

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source("S000")
            await settle(app, pilot)
            screen = app.screen
            table = screen.query_one("#source-detections", DataTable)
            seen = []
            for _ in expected:
                await pilot.press("e")
                lc = screen.views[screen.index][0]
                current = int(table.get_row_at(table.cursor_row)[0])
                seen.append((current, lc.filter))
                # The lightcurve shown is the event's, and the window holds the event, inside that lightcurve.
                detection = next(d for d in screen.views[screen.index][1] if d.id == current)
                lo, hi = screen.xlim
                assert lo <= detection.start_mjd <= detection.peak_mjd <= detection.end_mjd <= hi
                margin = 0.02 * (hi - lo)
                assert lc.mjds.min() - margin - 1e-9 <= lo and hi <= lc.mjds.max() + margin + 1e-9
            assert seen == expected  # in time, switching lightcurve (g then r, or r then g)
            assert {f for _, f in seen} == {"g", "r"}
            await pilot.press("e")  # wraps to the first
            assert int(table.get_row_at(table.cursor_row)[0]) == expected[0][0]

            await pilot.press("a")  # the highlighted detection (the first event) is an artifact
            await pilot.press("e", "r")  # the second is real
            await settle(app, pilot)
            assert state.labels == {expected[0][0]: "artifact", expected[1][0]: "real"}
            assert project.detection_labels([i for i, _ in expected]) == state.labels
            assert str(table.get_row(str(expected[1][0]))[list(table.columns).index("label")]) == "real"
            await pilot.press("x")  # clears the second
            await settle(app, pilot)
            assert state.labels == {expected[0][0]: "artifact"}
            # The detections screen, shown next, has the label saved here.
            await pilot.press("5")
            await settle(app, pilot)
            detections = app.screen.query_one("#detections", DataTable)
            label = list(detections.columns).index("label")
            assert str(detections.get_row(str(expected[0][0]))[label]) == "artifact"
            # And the source screen shows labels given elsewhere when opened again.
            await app.show_source("S000")
            await settle(app, pilot)
            assert str(table.get_row(str(expected[0][0]))[list(table.columns).index("label")]) == "artifact"

    asyncio.run(scenario())


def test_the_focused_detection_is_always_in_view_in_the_detections_pane():
    project, _ = make_project(n=3, survey=ManyFlareSurvey)
    project.run()
    rows = [r.detection for r in project.detections(order_by="time") if r.source == "S000"]
    ids = [d.id for d in sorted(rows, key=lambda d: (d.peak_mjd, d.id))]
    assert len(ids) >= 5, "the test needs more detections than the pane has rows (3)"

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.show_source("S000")
            await settle(app, pilot)
            table = app.screen.query_one("#source-detections", DataTable)
            assert table.size.height - 1 < len(ids)  # fewer rows shown than detections
            for step in range(len(ids) + 1):
                await pilot.press("e")
                await settle(app, pilot)
                current = str(table.get_row_at(table.cursor_row)[0])
                assert current == str(ids[step % len(ids)])  # the cursor is on the event shown
                pane = [line for line in screen_text(app).splitlines()[-8:] if line.startswith("│ ")]
                assert any(line.split()[1] == current for line in pane), (current, pane)

    asyncio.run(scenario())


def test_views_cycle_mag_flux_snr_and_are_named():
    project, _ = make_project(n=3)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, start="source")
        async with app.run_test(size=(100, 30)) as pilot:
            await app.show_source("S000")
            await settle(app, pilot)
            meta = app.screen.query_one("#source-meta")
            for view, axis in (("mag", "mag (brighter up)"), ("flux", "flux"), ("S/N", "best S/N"), ("mag", "mag")):
                assert f"· {view}" in str(meta.render())
                assert axis in screen_text(app)
                await pilot.press("m")
                await settle(app, pilot)

    asyncio.run(scenario())


def test_a_source_opens_by_name_from_the_command_palette():
    project, _ = make_project(n=12)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+p")
            await pilot.press(*"S007")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.current_mode == "source"
            assert app.screen.name_shown == "S007"
            assert "S007" in str(app.screen.query_one("#source-meta").render())

    asyncio.run(scenario())


def test_event_window_is_sized_by_the_event():
    # Two-minute cadence over 10 days; an hour-long event (0.04 d): five durations (0.2 d) exceed twenty
    # steps (20 x 2 min = 0.028 d), so the window is 0.2 d around the event's centre, not the old 20 days.
    mjds = np.arange(0.0, 10.0, 2 / 1440)
    lo, hi = event_window(5.0, 5.04, 0.0, mjds)
    assert np.isclose(hi - lo, 0.2) and np.isclose((lo + hi) / 2, 5.02)
    # A wide matched filter (1 d) widens it to three filter widths.
    lo, hi = event_window(5.0, 5.04, 1.0, mjds)
    assert np.isclose(hi - lo, 3.0) and np.isclose((lo + hi) / 2, 5.02)
    # A single-epoch event on daily data: twenty steps (20 d).
    daily = np.arange(0.0, 100.0, 1.0)
    lo, hi = event_window(50.0, 50.0, 0.0, daily)
    assert np.isclose(hi - lo, 20.0)


def test_event_window_is_clamped_to_the_data():
    mjds = np.arange(0.0, 10.0, 2 / 1440)
    # An event near the start: the 0.5 d window moves right to start 2 % of its width before the first epoch.
    lo, hi = event_window(0.05, 0.15, 0.0, mjds)
    assert np.isclose(lo, -0.01) and np.isclose(hi, 0.49)
    # Near the end, it moves left.
    last = mjds[-1]
    lo, hi = event_window(last - 0.05, last, 0.0, mjds)
    assert np.isclose(hi, last + 0.005) and np.isclose(lo, last + 0.005 - 0.25)
    # Wider than the data: the data's span (plus the margin, 2 % of the span).
    assert np.allclose(clamp_window((-50.0, 50.0), 0.0, 1.0), (-0.02, 1.02))
    # Inside: unchanged.
    assert clamp_window((3.0, 4.0), 0.0, 10.0) == (3.0, 4.0)
