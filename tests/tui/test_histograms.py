"""The histograms screen: each product, its axes and variables, log scale, the efficiency map and the rates."""

import asyncio

from tests.tui.fake_project import make_project
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.messages import RateLoaded
from virtualobserver.tui.screens.histograms import rate_text


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def test_products_axes_variables_and_efficiency():
    project, state = make_project(n=6, simulate=True)

    async def scenario():
        app = VirtualObserverApp(project=project, start="histograms")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            screen = app.screen
            assert "no scanned histograms" in str(screen.query_one("#histogram-info").render())
            project.run()
            app.data_changed.publish("run")
            await settle(app, pilot)
            plot = screen.query_one("#histogram")
            assert plot.variable == "epochs" and plot.axis == "mag" and "epochs" in str(plot.render())
            info = str(screen.query_one("#histogram-info").render())
            assert f"epochs {screen.histograms.total('epochs'):,}" in info
            await pilot.press("a")
            assert plot.axis == "filter"
            await pilot.press("l")
            assert plot.log_scale and "log10(1 + epochs)" in str(plot.render())
            await pilot.press("down")  # cut: offset
            await settle(app, pilot)
            assert screen.product == "cut_offset" and plot.axis == "offset"
            await pilot.press("v")
            assert plot.variable == "failed"
            await pilot.press("end")  # efficiency
            await settle(app, pilot)
            assert plot.variable == "efficiency" and plot.axis == "snr_amplitude"
            assert "recovered fraction" in str(plot.render())
            assert "injected" in str(screen.query_one("#histogram-info").render())
            await pilot.press("a", "a")
            assert plot.axis == "kind"
            await pilot.press("v")
            assert plot.variable == "injected"

    run(scenario())


def test_efficiency_shows_the_event_rate_of_each_simulated_kind():
    project, state = make_project(n=8, simulate=True, overrides={
        "observatories.simulation.kinds": ["flare", "box_dip", "microlensing"]})
    project.run()
    messages = []

    async def scenario():
        app = VirtualObserverApp(project=project, start="histograms")
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await settle(app, pilot)
            rate = app.screen.query_one("#rate-info")
            assert not rate.display  # only with the efficiency map
            await pilot.press("end")
            await settle(app, pilot)
            loaded = [m for m in messages if isinstance(m, RateLoaded)]
            assert rate.display and loaded[-1].kind == "flare" and loaded[-1].rate is not None
            expected = project.rate("flare")
            text = str(rate.render())
            assert text.startswith("rate flare") and "/source/yr" in text and f"{expected.upper:.3g}" in text
            assert f"N_obs {expected.observed}" in text and "k: next kind" in text
            plot = app.screen.query_one("#histogram")
            legend = plot.content.plain
            # One kind beside all kinds: the rate's kind is in the legend, the others are not.
            assert "all" in legend and "flare" in legend and "box_dip" not in legend
            await pilot.press("k")
            await settle(app, pilot)
            assert [m.kind for m in messages if isinstance(m, RateLoaded)][-1] == "box_dip"
            assert str(rate.render()).startswith("rate box_dip")
            legend = plot.content.plain
            assert "box_dip" in legend and "flare" not in legend
            await pilot.press("home")  # scanned epochs: the rate line goes away
            await settle(app, pilot)
            assert not rate.display

    run(scenario())


def test_rate_line_says_why_there_is_no_rate():
    assert rate_text(RateLoaded("flare", "fake", error="no injections of kind 'flare'")) == (
        "rate of flare: no injections of kind 'flare' · k: next kind")
