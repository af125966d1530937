"""The run screen: progress per stage, log, errors listed as they happen, pause/resume, cancel, responsiveness."""

import asyncio
import threading

from textual.widgets import DataTable, RichLog

from tests.fakes import FakeSurveyClient
from tests.tui.fake_project import FakeClock, FlareSurvey, make_project
from virtualobserver.tui.app import VirtualObserverApp
from virtualobserver.tui.messages import RunFinished, StageAdvanced, StageStarted


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot):
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


def log_text(screen) -> str:
    # Long lines wrap at the log's width (at a space): join the pieces back.
    return " ".join(str(line.text).strip() for line in screen.query_one("#log", RichLog).lines)


class Gate:
    """Holds every download until opened, so a test can act while the run works."""

    def __init__(self):
        self.event = threading.Event()
        self.original = FlareSurvey.download

    def __enter__(self):
        original, event = self.original, self.event

        def held(survey, source):
            event.wait(10)
            return original(survey, source)

        FlareSurvey.download = held
        return self

    def __exit__(self, *exc):
        self.event.set()
        FlareSurvey.download = self.original


def test_run_shows_a_pane_per_stage_with_counts_rate_and_a_log():
    project, state = make_project(n=12, batch_size=4, simulate=True)
    messages = []

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await settle(app, pilot)
            screen = app.screen
            assert set(screen.panes) == {"fake:download", "fake:reduce", "fake:analyse", "fake:simulate"}
            assert all(p.counts.state == "idle" for p in screen.panes.values())
            await pilot.press("r")
            await settle(app, pilot)
            assert screen.state == "finished"
            for pane in screen.panes.values():
                c = pane.counts
                assert (c.state, c.total, c.done, c.handled) == ("finished", 12, 12, 12) and c.rate > 0
                assert "12/12" in str(pane.render().renderables[1].columns[1]._cells[0])
            assert "run finished: download 12, reduce 12, analyse 12, simulate 12" in log_text(screen)
            status = screen.query_one("#status", DataTable).get_row_at(0)
            assert status[3] == "12" and status[7] == "12"  # reduced, simulated

    run(scenario())
    assert sum(isinstance(m, StageStarted) for m in messages) == 4
    assert sum(isinstance(m, StageAdvanced) for m in messages) == 12  # 3 batches x 4 stages
    assert [m.summary["analyse"]["done"] for m in messages if isinstance(m, RunFinished)] == [12]


def test_failing_sources_are_listed_while_the_run_goes_on():
    project, state = make_project(n=12, batch_size=4)
    FakeSurveyClient.failing = {"S001", "S007"}

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await settle(app, pilot)
            screen = app.screen
            errors = screen.query_one("#errors", DataTable)
            rows = [errors.get_row_at(i) for i in range(errors.row_count)]
            assert [(r[0], r[1]) for r in rows] == [("S001", "download (fake)"), ("S007", "download (fake)")]
            assert "no data for S001" in rows[0][2]
            assert screen.panes["fake:download"].counts.failed == 2
            assert screen.panes["fake:analyse"].counts.done == 10
            assert "2 failed" in log_text(screen)

    run(scenario())
    assert project.status()["analysed"] == 10


def test_pause_stops_after_the_step_and_r_resumes_to_the_same_result_as_one_run():
    project, state = make_project(n=12, batch_size=2)
    reference, _ = make_project(n=12, batch_size=2)
    reference.run()

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            with Gate() as gate:
                await pilot.press("r")
                await pilot.pause()
                await pilot.press("p")
                assert screen.state == "pausing"
                gate.event.set()
                await settle(app, pilot)
            assert screen.state == "paused" and "paused: r resumes" in log_text(screen)
            assert all(p.counts.state == "paused" for p in screen.panes.values())
            paused = project.status()
            assert 0 < paused["downloaded"] < 12
            await pilot.press("r")
            await settle(app, pilot)
            assert screen.state == "finished" and "resuming the run" in log_text(screen)
            download = screen.panes["fake:download"].counts
            assert download.skipped == paused["downloaded"] and download.handled == 12

    run(scenario())
    mine, theirs = project.status(), reference.status()
    for key in ("sources", "downloaded", "reduced", "analysed", "lightcurves", "detections", "failed"):
        assert mine[key] == theirs[key], key
    assert len(FlareSurvey.downloads) == 24  # each source downloaded once per project: no duplicates


def test_cancel_keeps_committed_work_and_the_ui_stays_responsive_while_running():
    project, state = make_project(n=12, batch_size=2)

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24)) as pilot:
            run_screen = app.screen
            with Gate() as gate:
                await pilot.press("r")
                await pilot.pause()
                assert app.run_active
                # The run is blocked in its worker; the interface still answers keys.
                await pilot.press("2")
                await pilot.pause()
                assert app.current_mode == "catalog"
                await pilot.press("3", "r")
                await pilot.pause()
                assert app.current_mode == "run" and run_screen.state == "running"  # a second run is refused
                await pilot.press("c")
                gate.event.set()
                await settle(app, pilot)
            assert run_screen.state == "cancelled"
            assert "run cancelled; every batch committed so far is kept" in log_text(run_screen)
            await pilot.press("r")
            await settle(app, pilot)
            assert run_screen.state == "finished"

    run(scenario())
    assert project.status()["analysed"] == 12


def test_simulate_only_and_nothing_to_do():
    project, state = make_project(n=6, batch_size=3)
    project.run()

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await settle(app, pilot)
            assert "nothing to do" in log_text(app.screen)
            await pilot.press("m")
            await settle(app, pilot)
            assert app.screen.panes["fake:simulate"].counts.done == 6

    run(scenario())
    assert project.status()["injections"] > 0


def test_a_failing_run_is_reported_not_raised():
    project, state = make_project(n=4, batch_size=2)

    def broken(limit=None):
        raise RuntimeError("disk full")

    project.run = broken

    async def scenario():
        app = VirtualObserverApp(project=project, clock=FakeClock())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await settle(app, pilot)
            assert app.screen.state == "failed"
            assert "run failed: RuntimeError: disk full" in log_text(app.screen)

    run(scenario())
