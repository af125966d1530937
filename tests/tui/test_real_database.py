"""The demo survey on a real PostgreSQL: a run started (paused and resumed) from the TUI ends as `vo run` does."""

import asyncio

import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from virtualobserver.adapters.container import build_container
from tests.e2e.helpers import REPO, vo
from virtualobserver.tui.app import VirtualObserverApp

#: What a run leaves in the database, without ids and times (which differ between any two runs).
STATE_QUERIES = {
    "sources": "SELECT name, ra, dec, mag FROM sources ORDER BY name",
    "raw_data": "SELECT survey, source_name, version, num_epochs FROM raw_data ORDER BY source_name",
    "lightcurves": """SELECT s.name, l.survey, l.filter, l.season, l.version, l.num_epochs, l.num_good, l.mjd_start,
                      l.mag_median FROM lightcurves l JOIN sources s ON s.id = l.source_id ORDER BY 1, 2, 3, 4, 5""",
    "detections": """SELECT s.name, d.version, d.kind, d.peak_mjd, round(d.snr::numeric, 9), d.num_epochs,
                     d.is_simulated, d.label FROM detections d JOIN sources s ON s.id = d.source_id
                     ORDER BY 1, 2, 4, 7""",
    "injections": """SELECT s.name, i.version, i.sequence, i.kind, i.peak_mjd, i.recovered FROM injections i
                     JOIN sources s ON s.id = i.source_id ORDER BY 1, 2, 3""",
    "steps": """SELECT s.name, t.stage, t.survey, t.version, t.count FROM steps t JOIN sources s ON s.id = t.source_id
                ORDER BY 1, 2, 3, 4""",
    "summaries": """SELECT s.name, m.survey, m.version, m.num_epochs, m.num_good, m.num_detections,
                    round(m.best_snr::numeric, 9) FROM source_summaries m JOIN sources s ON s.id = m.source_id
                    ORDER BY 1""",
    "failures": "SELECT s.name, f.stage FROM failures f JOIN sources s ON s.id = f.source_id ORDER BY 1, 2",
}


def database_state(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {name: [tuple(row) for row in connection.execute(text(query))]
                    for name, query in STATE_QUERIES.items()}
    finally:
        engine.dispose()


def write_demo_project(folder):
    folder.mkdir(parents=True, exist_ok=True)
    write_demo_catalog(folder / "catalog.csv", rows=24, seed=11)
    config = folder / "demo.yaml"
    config.write_text("""
project: {name: demo, batch_size: 8}
catalog: {path: catalog.csv, selection: "mag < 21"}
observatories:
  analysis: {threshold: 5.0, widths_days: [2.0]}
  simulation: {enabled: true, injections_per_source: 2}
  demo:
    download: {num_points: 100, latency: 0.05, flare_fraction: 0.2, dip_fraction: 0.2}
""")
    return config


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("which", ["small", pytest.param("demo", marks=pytest.mark.slow)])
def test_a_paused_and_resumed_tui_run_ends_like_vo_run(tmp_path, new_database, monkeypatch, which):
    # "small": 24 demo-survey sources (default run); "demo": configs/demo.yaml itself (`make test-slow`).
    config = write_demo_project(tmp_path / "project") if which == "small" else REPO / "configs" / "demo.yaml"
    cli_url, tui_url = new_database(), new_database()
    done = vo("run", str(config), data_dir=tmp_path / "cli-data", database_url=cli_url)
    assert done.returncode == 0, done.stderr

    monkeypatch.setenv("VO_DATABASE_URL", tui_url)
    monkeypatch.setenv("VO_DATA", str(tmp_path / "tui-data"))
    container = build_container(config)
    project = container.project()

    stopped = 0

    async def scenario():
        nonlocal stopped
        app = VirtualObserverApp(project=project, workspace=container.workspace())
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await pilot.press("r")
            for _ in range(6000):  # until the first batch is downloaded
                await pilot.pause(0.01)
                if screen.panes["demo:download"].counts.handled:
                    break
            await pilot.press("p")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert screen.state == "paused"
            stopped = project.status()["downloaded"]
            assert 0 < stopped < project.browse_catalog(limit=0).selected  # stopped part-way
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert screen.state == "finished"

    try:
        asyncio.run(scenario())
    finally:
        container.database().close()
    mine, theirs = database_state(tui_url), database_state(cli_url)
    assert len(theirs["sources"]) > stopped and theirs["detections"] and theirs["injections"]
    for table in STATE_QUERIES:
        assert mine[table] == theirs[table], table
