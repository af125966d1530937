"""The app built over fakes with a finished run, for snapshot tests and the screenshots (`make screenshots`)."""

from __future__ import annotations

from tests.fakes import FakeDataStore, FakeHistogramStore, FakeState
from tests.tui.fake_project import FakeClock, ImagedFlareSurvey, make_project, make_workspace
from virtualobserver.tui.app import VirtualObserverApp

__all__ = ["build_app", "SCREEN_KEYS"]

#: How to reach each screen's interesting state: (name, keys pressed after start-up).
SCREEN_KEYS = {
    "projects": ["1"],
    "catalog": ["2"],
    "run": ["3", "r"],
    # The strongest detection's source, then its next event (in another lightcurve), labelled real there.
    "source": ["5", "enter", "e", "r"],
    "detections": ["5", "r", "a", "u"],
    "histograms": ["6"],
    "efficiency": ["6", "end"],
    "help": ["5", "question_mark"],
}


def build_app(*, run_first: bool = True) -> VirtualObserverApp:
    """Return the app on a simulated 16-source fake project with images (12 analysed unless ``run_first`` is False).

    The run screen's own run then finds everything done (or does it all, without ``run_first``),
    with a fake clock so that its rates and times are the same on every machine.
    """
    state, store, histograms = FakeState(), FakeDataStore(), FakeHistogramStore()
    project, _ = make_project(state, n=16, batch_size=6, simulate=True, store=store, histogram_store=histograms,
                              survey=ImagedFlareSurvey)
    if run_first:
        project.run(limit=12)
    workspace = make_workspace(state, store=store, histogram_store=histograms, n=16, batch_size=6, simulate=True,
                               survey=ImagedFlareSurvey)
    return VirtualObserverApp(project=project, workspace=workspace, clock=FakeClock(), start="run")
