"""Write a screenshot (SVG and PNG) of every screen of the TUI on the demo project: ``python -m tests.tui.screenshots``.

Every screen shows the demo project of ``configs/demo.yaml`` (its demo survey with images and its
simulation, over 120 catalog rows, stored in memory so that the pictures are the same on every machine);
``demo-detections`` and ``demo-source`` show the detections sorted by centroid offset significance and
the source of the first, a neighbour's flare, with its stamps.

The PNGs are rendered from the SVGs with resvg (a wheel with no system library); the SVGs
ask for the web font "Fira Code", which is swapped for a monospace font installed here.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from pathlib import Path

from tests.tui.snapshot_app import SCREEN_KEYS

__all__ = ["main", "take", "svg_to_png"]

#: Monospace fonts to draw with, best first (the first one the system has is used).
FONTS = ("DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono", "monospace")


async def take(name: str, keys: list[str], size: tuple[int, int]) -> str:
    """Return the SVG of the screen reached by pressing ``keys`` in a fresh app on the demo project."""
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        for key in ["", *keys]:
            if key:
                await pilot.press(key)
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
        return app.export_screenshot(title=f"virtualobserver — {name}")


def _demo_parts(rows: int, simulate: bool):
    """The demo configuration over ``rows`` fake catalog rows, and how to make its project over shared fakes."""
    import yaml

    from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
    from virtualobserver.domain.config import build_config
    from virtualobserver.services.project import Project
    from tests.fakes import FakeCatalogReader, FakeDataStore, FakeHistogramStore, FakeState, FakeUnitOfWork
    from tests.tui.fake_project import catalog

    document = yaml.safe_load(Path("configs/demo.yaml").read_text())
    document["catalog"] = {"path": "fake.csv", "selection": "mag < 30"}
    document["observatories"]["simulation"]["enabled"] = simulate
    config = build_config(document, survey_parameters={"demo": DemoParameters}, source="configs/demo.yaml")
    state, store, histograms = FakeState(), FakeDataStore(), FakeHistogramStore()

    def make(cfg):
        return Project(cfg, uow_factory=lambda: FakeUnitOfWork(state), store=store,
                       catalog_reader=FakeCatalogReader(catalog(rows)), histogram_store=histograms,
                       surveys={"demo": VirtualDemoObs})

    return config, make, state


def demo_project(rows: int = 120, *, simulate: bool = False):
    """The demo project of ``configs/demo.yaml`` (images on; simulation if asked) over ``rows`` fake catalog rows, run."""
    config, make, _ = _demo_parts(rows, simulate)
    project = make(config)
    project.run()
    return project


def demo_app(rows: int = 120, done: int = 100):
    """The app on the demo project (with its simulation), ``done`` of its ``rows`` sources run, on the run screen.

    The run screen's own run then does the rest, with a fake clock so that its rates and times are the same
    on every machine; the projects screen lists ``configs/demo.yaml``.
    """
    from virtualobserver.services.workspace import Workspace
    from virtualobserver.tui.app import VirtualObserverApp
    from tests.fakes import FakeUnitOfWork
    from tests.tui.fake_project import FakeClock

    config, make, state = _demo_parts(rows, simulate=True)
    project = make(config)
    project.run(limit=done)
    workspace = Workspace(lambda: FakeUnitOfWork(state), find_configs=lambda: ["configs/demo.yaml"],
                          load_config=lambda path: config, make_project=make)
    return VirtualObserverApp(project=project, workspace=workspace, clock=FakeClock(), start="run")


async def take_demo(size: tuple[int, int]) -> dict[str, str]:
    """Return SVGs of the demo project's detections (sorted by centroid σ) and of the first one's source."""
    from virtualobserver.tui.app import VirtualObserverApp

    app = VirtualObserverApp(project=demo_project(), start="detections")
    shots = {}
    async with app.run_test(size=size) as pilot:
        # The cursor stays on its detection when the order changes: page up to the first row.
        for keys, name in ((["c", "pageup", "pageup", "pageup"], "demo-detections"), (["enter"], "demo-source")):
            for key in keys:
                await pilot.press(key)
            for _ in range(4):
                await app.workers.wait_for_complete()
                await pilot.pause(0.1)
            shots[name] = app.export_screenshot(title=f"virtualobserver — {name}")
    return shots


def svg_to_png(svg: str) -> bytes | None:
    """Render ``svg`` to PNG bytes with resvg (None when resvg is not installed)."""
    try:
        import resvg_py
    except ImportError:
        return None
    for font in FONTS:
        text = svg.replace("Fira Code", font)
        png = resvg_py.svg_to_bytes(svg_string=text, font_family=font, monospace_family=font)
        if png:
            return bytes(png)
    return None


def main(argv: list[str] | None = None) -> int:
    """Write ``<screen>.svg`` and ``<screen>.png`` for every screen into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="results/screenshots", help="folder (default %(default)s)")
    parser.add_argument("--size", default="100x30", help="terminal size COLUMNSxROWS (default %(default)s)")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    missing_png = False
    shots = ((name, asyncio.run(take(name, keys, size))) for name, keys in SCREEN_KEYS.items())
    for name, svg in itertools.chain(shots, asyncio.run(take_demo(size)).items()):
        (out / f"{name}.svg").write_text(svg, encoding="utf-8")
        png = svg_to_png(svg)
        if png is None:
            missing_png = True
        else:
            (out / f"{name}.png").write_bytes(png)
        print(f"wrote {out / name}.svg" + ("" if png is None else " and .png"))
    if missing_png:
        print("PNG needs resvg-py (pip install -e '.[test]')", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
