"""The histograms screen: each product, its axes and variables, log scale, the efficiency map."""

import asyncio

from tests.tui.fake_project import make_project
from tui.app import VirtualObserverApp


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
