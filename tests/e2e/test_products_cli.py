"""``vo export`` and ``vo plot`` end to end on PostgreSQL: every product, each format, figures, clear errors."""

import re
import uuid

import pandas
import pytest
from sqlalchemy import create_engine, make_url, text

from virtualobserver.adapters.cli.main import main
from virtualobserver.adapters.files.fits_lightcurves import read_lightcurves_fits
from virtualobserver.adapters.files.tables import read_table
from tests.e2e.helpers import vo, vo_json, write_project


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE refuse transactions
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def project(tmp_path_factory, postgres_url):
    # One run shared by the tests of this module (on its own database), since `vo run` is the slow part.
    folder = tmp_path_factory.mktemp("products")
    config = write_project(folder / "p", rows=10, extra="  simulation: {enabled: true, injections_per_source: 4}\n")
    data = folder / "data"
    name = f"vo_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        status = vo_json("run", str(config), data_dir=data, database_url=url)["status"]
        assert status["detections"] > 0 and status["detections_simulated"] > 0

        def run(*args, ok=True):
            done = vo(args[0], str(config), *args[1:], data_dir=data, database_url=url)
            assert (done.returncode == 0) == ok, done.stderr
            return done

        yield run, status, (config, data, url)
    finally:
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_product_exports_with_units_and_provenance(project, tmp_path, monkeypatch, capsys):
    run, status, (config, data, url) = project
    out = {name: tmp_path / name for name in ("lc.fits", "det.csv", "src.vot", "scanned.h5", "eff.ecsv",
                                              "inj.fits", "eff.nc")}
    run("export", "--what", "lightcurves", "--out", str(out["lc.fits"]), "--limit", "3")
    # The other exports run `vo`'s main() in this process (same code, no interpreter start per call).
    monkeypatch.setenv("VO_DATA", str(data))
    monkeypatch.setenv("VO_DATABASE_URL", url)
    monkeypatch.setattr("virtualobserver.adapters.cli.main._exit_cleanly_on_signals", lambda: None)
    for args in (("--what", "detections", "--out", str(out["det.csv"]), "--simulated"),
                 ("--what", "sources", "--out", str(out["src.vot"])),
                 ("--what", "histograms", "--out", str(out["scanned.h5"])),
                 ("--what", "histograms", "--simulated", "--format", "ecsv", "--out", str(out["eff.ecsv"])),
                 ("--what", "injections", "--out", str(out["inj.fits"])),
                 ("--what", "histograms", "--simulated", "--out", str(out["eff.nc"])),
                 ("--what", "lightcurves", "--format", "skyportal", "--limit", "2", "--out", str(tmp_path / "sp.csv")),
                 ("--what", "lightcurves", "--format", "lightkurve", "--out", str(tmp_path / "lk"),
                  "--source", "DEMO-000002", "--json")):
        assert main(["export", str(config), *args]) == 0, capsys.readouterr().err
    summary = capsys.readouterr().out.strip().splitlines()[-1]

    lightcurves = read_lightcurves_fits(out["lc.fits"])
    assert len(lightcurves) >= 3 and {t.meta["OBJECT"] for t in lightcurves} == {"DEMO-000001", "DEMO-000002",
                                                                                 "DEMO-000003"}
    assert all(str(t["mjd"].unit) == "d" and t.meta["TIMESYS"] == "UTC" for t in lightcurves)
    files = list((tmp_path / "lk").glob("DEMO-000002-*_lc.fits"))
    assert len(files) == sum(t.meta["OBJECT"] == "DEMO-000002" for t in lightcurves)
    assert f'"lightcurves": {len(files)}' in summary
    photometry = pandas.read_csv(tmp_path / "sp.csv")  # SkyPortal's columns, as plain CSV
    assert list(photometry.columns) == ["obj_id", "mjd", "flux", "fluxerr", "zp", "magsys", "filter", "origin"]
    assert set(photometry["obj_id"]) == {"DEMO-000001", "DEMO-000002"} and set(photometry["zp"]) == {23.9}
    assert set(photometry["filter"]) <= {"ztfg", "ztfr"} and set(photometry["magsys"]) == {"ab"}
    plain = pandas.read_csv(out["det.csv"])  # plain CSV: units in the column names
    assert {"peak_mjd_utc", "peak_flux_ujy"} <= set(plain.columns) and len(plain) == len(read_table(out["det.csv"]))
    detections = read_table(out["det.csv"])
    assert len(detections) == status["detections"] + status["detections_simulated"]
    assert set(detections["label"]) == {""} and detections.meta["SIMULATD"] is True
    assert str(detections["peak_mjd"].unit) == "d" and detections.meta["PROJECT"] == "e2e"
    sources = read_table(out["src.vot"])
    assert len(sources) == 10 and str(sources["ra"].unit) == "deg" and sources.meta["ANAVER"]
    scanned, efficiency = read_table(out["scanned.h5"]), read_table(out["eff.ecsv"])
    assert scanned.meta["HISTNAME"] == "scanned" and scanned["epochs"].sum() > 0
    assert efficiency.meta["HISTNAME"] == "efficiency" and efficiency["injected"].sum() == status["injections"]
    assert len(read_table(out["inj.fits"])) == status["injections"]
    assert out["eff.nc"].read_bytes()[:4] == b"\x89HDF"  # netCDF-4
    # The first form of the command still works, with a note pointing at the new one.
    legacy = run("export", "detections", str(tmp_path / "legacy.ecsv"))
    assert "old form" in legacy.stderr and len(read_table(tmp_path / "legacy.ecsv")) == status["detections"]


def test_plots_and_one_line_errors(project, tmp_path):
    run, _, _ = project
    source = read_table(_export_detections(run, tmp_path))["source"][0]
    run("plot", "--source", source, "--flux", "--out", str(tmp_path / "lc.pdf"), "--simulated")
    run("plot", "--what", "efficiency", "--out", str(tmp_path / "eff.png"))
    assert (tmp_path / "lc.pdf").read_bytes().startswith(b"%PDF")
    # The figure is drawn from the saved per-epoch products: the trend, and the demo's bad images (2 %) as cut.
    run("plot", "--source", source, "--out", str(tmp_path / "lc.svg"))
    drawn = set(re.findall(r'id="((?:cut:|trend|flagged)[a-z_]*)"', (tmp_path / "lc.svg").read_text()))
    assert "trend" in drawn and "cut:flag" in drawn and "flagged" not in drawn, drawn
    assert (tmp_path / "eff.png").read_bytes().startswith(b"\x89PNG")
    # --simulated draws each event injected into the source as its model curve, one per injection.
    run("export", "--what", "injections", "--source", source, "--out", str(tmp_path / "inj.ecsv"))
    injected = len(read_table(tmp_path / "inj.ecsv"))
    assert injected > 0
    run("plot", "--source", source, "--simulated", "--out", str(tmp_path / "sim.svg"))
    assert (tmp_path / "sim.svg").read_text().count('id="injection') == injected
    assert 'id="injection' not in (tmp_path / "lc.svg").read_text()  # not without --simulated

    # Argument errors are checked in process (tests/integration/test_product_commands.py); this one needs the database.
    done = run("plot", "--source", "nobody", "--out", str(tmp_path / "x.png"), ok=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines == ["vo: error: project 'e2e' has no source 'nobody'"], done.stderr


def _export_detections(run, tmp_path):
    path = tmp_path / "detections.ecsv"
    run("export", "--what", "detections", "--out", str(path))
    return path


def test_every_export_honours_its_source_filters(project, tmp_path, monkeypatch, capsys):
    run, status, (config, data, url) = project
    monkeypatch.setenv("VO_DATA", str(data))
    monkeypatch.setenv("VO_DATABASE_URL", url)
    monkeypatch.setattr("virtualobserver.adapters.cli.main._exit_cleanly_on_signals", lambda: None)

    def export(*args):
        code = main(["export", str(config), *args])
        return code, capsys.readouterr().err.strip().splitlines()

    every, first_two = tmp_path / "all.ecsv", tmp_path / "two.ecsv"
    assert export("--what", "injections", "--out", str(every)) == (0, [])
    assert export("--what", "injections", "--limit", "2", "--out", str(first_two)) == (0, [])
    names = sorted(set(read_table(every)["source"]))
    assert len(names) > 2 and len(read_table(every)) == status["injections"]
    two = read_table(first_two)
    assert sorted(set(two["source"])) == names[:2]
    assert len(two) == sum(1 for name in read_table(every)["source"] if name in names[:2])
    one = tmp_path / "one.ecsv"
    assert export("--what", "injections", "--source", names[-1], "--out", str(one)) == (0, [])
    assert set(read_table(one)["source"]) == {names[-1]}

    # An unknown name is an error naming it, and nothing is written (it used to be an empty file and exit 0).
    for what in ("lightcurves", "detections", "sources", "injections"):
        out = tmp_path / f"nope-{what}.ecsv"
        code, err = export("--what", what, "--source", "NOPE", "--source", names[0], "--out", str(out))
        assert code == 2 and err == ["vo: error: no source named NOPE in project e2e"], (what, err)
        assert not out.exists()
    code, err = export("--what", "histograms", "--limit", "3", "--out", str(tmp_path / "h.nc"))
    assert code == 2 and "do not apply" in err[0] and len(err) == 1
