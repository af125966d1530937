"""``vo status`` counts the sources the configuration selects apart from all in the project, each count named."""

import numpy as np
from astropy.table import Table
from sqlalchemy import create_engine, text

from tests.e2e.helpers import vo, vo_json, write_project


def sql_counts(url: str, names: list[str], reduction: str, analysis: str) -> tuple[int, int]:
    """Lightcurves and real detections of the named sources, by SQL on the tables."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            lightcurves = c.execute(text("SELECT count(*) FROM lightcurves l JOIN sources s ON s.id = l.source_id "
                                         "WHERE s.name = ANY(:n) AND l.version = :v"),
                                    {"n": names, "v": reduction}).scalar()
            detections = c.execute(text("SELECT count(*) FROM detections d JOIN sources s ON s.id = d.source_id "
                                        "WHERE s.name = ANY(:n) AND d.version = :v AND NOT d.is_simulated"),
                                   {"n": names, "v": analysis}).scalar()
            return lightcurves, detections
    finally:
        engine.dispose()


def test_status_counts_the_selection_apart_from_the_whole_project(tmp_path, empty_database_url):
    url, data = empty_database_url, tmp_path / "data"
    config = str(write_project(tmp_path / "p", rows=30))
    catalog = Table.read(tmp_path / "p" / "catalog.csv", format="ascii.csv")
    names = [str(n) for n in catalog["name"]]

    run = vo("run", config, "--limit", "10", data_dir=data, database_url=url)
    assert run.returncode == 0, run.stderr
    # Each stage's count says what it made; no "products" column that changes meaning from line to line.
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ")}
    assert "raw data" in lines["download"] and "lightcurves" in lines["reduce"] and "detections" in lines["analyse"]
    assert "products" not in run.stdout

    status = vo_json("status", config, data_dir=data, database_url=url)
    versions = status["surveys"]["demo"]["versions"]
    lightcurves, detections = sql_counts(url, names[:10], versions["reduction"], versions["analysis"])
    assert status["sources"] == 10 and status["lightcurves"] == lightcurves and status["detections"] == detections
    selected = status["selected"]
    assert selected["sources"] == 30 and selected["registered"] == 10  # the catalog selects 30, 10 were run
    assert selected["downloaded"] == selected["reduced"] == selected["analysed"] == 10
    assert selected["lightcurves"] == lightcurves and selected["detections"] == detections

    # A narrower selection: some of the project's sources are no longer selected, some selected are not run yet.
    cut = float(np.median(catalog["mag"]))
    chosen = [n for n, mag in zip(names, catalog["mag"]) if mag < cut]
    ran = [n for n in chosen if n in names[:10]]
    assert 0 < len(ran) < 10 and len(chosen) > len(ran)
    narrow = vo_json("status", config, "--set", f"catalog.selection=mag < {cut}", data_dir=data, database_url=url)
    lightcurves, detections = sql_counts(url, ran, versions["reduction"], versions["analysis"])
    assert narrow["sources"] == 10  # the whole project, as before
    selected = narrow["selected"]
    assert selected["sources"] == len(chosen) and selected["registered"] == len(ran)
    assert selected["downloaded"] == selected["analysed"] == len(ran)
    assert selected["lightcurves"] == lightcurves and selected["detections"] == detections
    assert selected["surveys"]["demo"]["lightcurves"] == lightcurves

    shown = vo("status", config, "--set", f"catalog.selection=mag < {cut}", data_dir=data, database_url=url)
    assert shown.returncode == 0, shown.stderr
    head, *rows = shown.stdout.splitlines()
    assert "selected by this config" in head and "all in the project" in head
    table = {line[:28].strip(): line[28:].split() for line in rows if line.startswith("  ") and line[2] != "("}
    assert table["sources"] == [str(len(chosen)), "10"]
    assert table["sources with raw data"] == [str(len(ran)), "10"]
    assert table["lightcurves"] == [str(lightcurves), str(status["lightcurves"])]
    assert f"{len(chosen) - len(ran)} selected sources are not in the project yet" in shown.stdout
