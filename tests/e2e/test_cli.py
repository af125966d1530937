"""The ``vo`` command end to end: run, rerun, status, bad input, embedded database."""

import json

import pytest
from astropy.table import Table

from tests.e2e.helpers import vo, vo_json, write_project

STATUS_KEYS = {"sources", "downloaded", "reduced", "analysed", "lightcurves", "detections", "failed"}


def test_run_then_rerun_does_nothing(tmp_path, empty_database_url):
    config = write_project(tmp_path / "p")
    data = tmp_path / "data"
    first = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    assert first["selected"] == 60 and first["download"]["done"] == 60 and first["analyse"]["done"] == 60
    status = first["status"]
    assert STATUS_KEYS <= set(status)
    assert status["sources"] == status["downloaded"] == status["reduced"] == status["analysed"] == 60
    assert status["lightcurves"] >= 60 and status["failed"] == 0
    files = sorted(p.relative_to(data) for p in data.rglob("*.h5"))
    again = vo("run", str(config), data_dir=data, database_url=empty_database_url)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert sorted(p.relative_to(data) for p in data.rglob("*.h5")) == files
    shown = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    cache = shown.pop("cache")
    assert shown == {**status, "project": "e2e"}
    assert cache == {"path": str(data / "cache"), "bytes": 0, "surveys": {"demo": 0}}  # the demo downloads nothing


def test_limit_and_changed_threshold(tmp_path, empty_database_url):
    config = write_project(tmp_path / "p", rows=30)
    data = tmp_path / "data"
    part = vo_json("run", str(config), "--limit", "12", data_dir=data, database_url=empty_database_url)
    assert part["status"]["analysed"] == 12
    more = vo_json("run", str(config), "--set", "observatories.analysis.threshold=3.5",
                   data_dir=data, database_url=empty_database_url)
    assert more["download"]["done"] == 18 and more["download"]["skipped"] == 12
    assert more["reduce"]["skipped"] == 12 and more["analyse"]["done"] == 30
    old = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    assert old["analysed"] == 12  # the 5-sigma version was never completed for the rest


def bad_config(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("project: {name: e2e}\ncatalog: {path: catalog.csv}\nobservatories: {analysis: {treshold: 3}}\n",
     r"bad\.yaml: 'observatories\.analysis\.treshold': unknown key"),
    ("project: {name: e2e, batch_size: many}\ncatalog: {path: catalog.csv}\n",
     r"bad\.yaml: 'project\.batch_size': expected int"),
    ("project: {name: e2e}\ncatalog: {path: nowhere.csv}\n", r"nowhere\.csv: catalog file not found"),
    ("project: {name: e2e}\ncatalog: {path: broken.csv}\n", r"broken\.csv, row 3, field 'dec': .*not a number"),
    ("project: {name: e2e}\ncatalog: {path: catalog.csv, selection: 'magnitude < 3'}\n",
     r"unknown column 'magnitude'"),
])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, empty_database_url, text, message):
    config = write_project(tmp_path, rows=20)
    data = tmp_path / "data"
    before = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)["status"]
    files = {p: p.read_bytes() for p in data.rglob("*.h5")}
    (tmp_path / "broken.csv").write_text("name,ra,dec\na,1,2\nb,3,oops\n")
    done = vo("run", str(bad_config(tmp_path, text)), data_dir=data, database_url=empty_database_url)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vo: error: "), done.stderr
    assert __import__("re").search(message, lines[0]), lines[0]
    after = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    assert after.pop("cache")["bytes"] == 0 and after == {**before, "project": "e2e"}
    assert {p: p.read_bytes() for p in data.rglob("*.h5")} == files


def test_embedded_database_by_default(tmp_path):
    config = write_project(tmp_path / "p", rows=15)
    data = tmp_path / "data"
    run = vo_json("run", str(config), data_dir=data, database_url=None)
    assert run["status"]["analysed"] == 15
    assert (data / "postgres" / "PG_VERSION").is_file()
    upgrade = vo("db", "upgrade", data_dir=data, database_url=None)
    assert upgrade.returncode == 0 and "up to date" in upgrade.stdout
    # The last process to exit stops the server: nothing is left running on this cluster.
    assert not (data / "postgres" / "postmaster.pid").exists()
    status = vo_json("status", str(config), data_dir=data, database_url=None)
    assert status["analysed"] == 15
    assert json.loads(json.dumps(status))["failed"] == 0


def test_simulate_command_hides_simulated_detections(tmp_path, empty_database_url):
    config = write_project(tmp_path / "p", rows=20)
    data = tmp_path / "data"
    run = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    assert run["status"]["injections"] == 0 and "simulate" not in run
    simulated = vo_json("simulate", str(config), "--set", "observatories.simulation.injections_per_source=5",
                        data_dir=data, database_url=empty_database_url)
    status = simulated["status"]
    assert simulated["simulate"]["done"] == 20
    assert status["injections"] == 5 * 20 and status["detections_simulated"] > 0
    assert status["detections"] == run["status"]["detections"]
    text = vo("simulate", str(config), "--set", "observatories.simulation.injections_per_source=5",
              data_dir=data, database_url=empty_database_url)
    assert text.returncode == 0 and "nothing to do" in text.stdout and "efficiency by kind" in text.stdout


def test_top_ranks_sources_by_summary(tmp_path, empty_database_url):
    config = write_project(tmp_path / "p", rows=25)
    data = tmp_path / "data"
    vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    rows = vo_json("top", str(config), "--limit", "7", data_dir=data, database_url=empty_database_url)
    assert len(rows) == 7
    sizes = [abs(r["best_snr"]) for r in rows]  # signed, ranked by size: the strongest event first
    assert sizes == sorted(sizes, reverse=True) and all(r["num_epochs"] >= r["num_good"] > 0 for r in rows)
    everyone = vo_json("top", str(config), "--by", "num_detections", "--limit", "25",
                       data_dir=data, database_url=empty_database_url)
    status = vo_json("status", str(config), data_dir=data, database_url=empty_database_url)
    assert sum(r["num_detections"] for r in everyone) == status["detections"]
    # The best S/N is the signed S/N of the source's strongest detection, with its kind and peak time.
    detections = tmp_path / "detections.ecsv"
    assert vo("export", str(config), "--what", "detections", "--out", str(detections), data_dir=data,
              database_url=empty_database_url).returncode == 0
    strongest = {}
    for row in Table.read(detections, format="ascii.ecsv"):
        if abs(row["snr"]) > abs(strongest.get(row["source"], {"snr": 0.0})["snr"]):
            strongest[row["source"]] = {"snr": float(row["snr"]), "kind": str(row["kind"]),
                                        "peak_mjd": float(row["peak_mjd"].mjd)}  # ECSV keeps times as Time
    detected = [r for r in everyone if r["num_detections"]]
    assert detected and {r["best_kind"] for r in detected} == {"brightening", "dimming"}
    for r in detected:
        best = strongest[r["source"]]
        assert (r["best_snr"], r["best_kind"]) == (pytest.approx(best["snr"]), best["kind"])
        assert r["best_peak_mjd"] == pytest.approx(best["peak_mjd"])
    for r in everyone:  # --json is complete: the per-filter statistics add up to the source's
        assert r["best_snr"] is not None and r["best_peak_mjd"] is not None and r["detections_dropped"] >= 0
        assert r["num_detections"] or r["best_kind"] is None
        assert set(r["per_filter"]) <= {"g", "r"}
        for key in ("num_lightcurves", "num_epochs", "num_good", "num_detections"):
            assert sum(f[key] for f in r["per_filter"].values()) == r[key]
        assert r["mag_median"] in [f["mag_median"] for f in r["per_filter"].values()]
    # The table shows the signed S/N, the kind and the peak time of the strongest source.
    text = vo("top", str(config), "--limit", "3", data_dir=data, database_url=empty_database_url).stdout
    header, first = text.splitlines()[:2]
    assert header.split()[:5] == ["source", "best", "S/N", "kind", "peak"]
    assert first.split()[:4] == [rows[0]["source"], f"{rows[0]['best_snr']:+.1f}", rows[0]["best_kind"] or "-",
                                 f"{rows[0]['best_peak_mjd']:.4f}"]


def test_compacted_histograms_equal_uncompacted(tmp_path, new_database, monkeypatch):
    from sqlalchemy import create_engine, text

    from virtualobserver.adapters.container import open_project

    config = write_project(tmp_path / "p", rows=44)
    histograms = {}
    for label, batch in (("small", 2), ("large", 22)):
        data = tmp_path / label
        url = new_database()
        assert vo("run", str(config), "--set", f"project.batch_size={batch}",
                  data_dir=data, database_url=url).returncode == 0
        monkeypatch.setenv("VO_DATA", str(data))
        monkeypatch.setenv("VO_DATABASE_URL", url)
        container, project = open_project(config)
        try:
            histograms[label] = {name: project.histograms(name) for name in ("scanned", "cut_chi")}
        finally:
            container.database().close()
        engine = create_engine(url)
        with engine.connect() as connection:
            parts = connection.execute(text("SELECT count(*) FROM histogram_parts WHERE kind = 'scanned'")).scalar()
        engine.dispose()
        assert parts == 1 if label == "small" else parts == 2  # 22 parts compacted into one; 2 left alone
    assert histograms["small"] == histograms["large"]
    assert histograms["small"]["scanned"].total("epochs") > 0


def test_export_excludes_simulated_unless_asked(tmp_path, empty_database_url):
    import xarray as xr
    from astropy.table import Table

    from virtualobserver.adapters.files.cf_histograms import read_histograms

    config = write_project(tmp_path / "p", rows=20, extra="  simulation: {enabled: true, injections_per_source: 4}\n")
    data = tmp_path / "data"
    status = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)["status"]
    assert status["detections_simulated"] > 0

    def export(*args):
        done = vo("export", str(config), *args, data_dir=data, database_url=empty_database_url)
        assert done.returncode == 0, done.stderr

    export("detections", str(tmp_path / "real.ecsv"))
    export("detections", str(tmp_path / "all.ecsv"), "--include-simulated")
    export("injections", str(tmp_path / "injections.csv"))
    export("efficiency", str(tmp_path / "efficiency.nc"))
    real, everything = Table.read(tmp_path / "real.ecsv"), Table.read(tmp_path / "all.ecsv")
    assert len(real) == status["detections"] and not real["is_simulated"].any()
    assert len(everything) == status["detections"] + status["detections_simulated"]
    assert everything["is_simulated"].sum() == status["detections_simulated"]
    injections = Table.read(tmp_path / "injections.csv", format="ascii.csv")
    assert len(injections) == status["injections"] == 4 * 20
    assert injections["recovered"].astype(str).tolist().count("True") == status["detections_simulated"]
    with xr.open_dataset(tmp_path / "efficiency.nc") as ds:
        assert ds.attrs["Conventions"].startswith("CF-")  # the CF layout of exports (not the store's)
    efficiency = read_histograms(tmp_path / "efficiency.nc")
    assert efficiency.total("injected") == 80 and efficiency.total("recovered") == status["detections_simulated"]


def test_concurrent_run_of_the_same_project_is_refused(tmp_path, empty_database_url):
    import signal
    import subprocess
    import time

    from tests.e2e.helpers import REPO, vo_command, vo_env

    config = write_project(tmp_path / "p", rows=40, batch_size=5)
    data = tmp_path / "data"
    # The first run freezes (SIGSTOP) at its first download, holding the project: a run in progress for as
    # long as the test needs, however loaded the machine (a slow run used to end before the second began).
    env = {**vo_env(data, empty_database_url), "VO_FAULT": "download.source:1:stop"}
    first = subprocess.Popen(vo_command("run", str(config)), cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _state(first.pid) != "T":
            assert first.poll() is None and time.monotonic() < deadline, "the first run never reached a download"
            time.sleep(0.1)
        second = vo("run", str(config), data_dir=data, database_url=empty_database_url)
        assert second.returncode == 2 and "being run by another process" in second.stderr, second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert vo_json("status", str(config), data_dir=data, database_url=empty_database_url)["analysed"] == 40


def _state(pid: int) -> str:
    # /proc/PID/stat: "pid (comm) state ...": T once the process is stopped.
    text = open(f"/proc/{pid}/stat").read()
    return text[text.rindex(")") + 2]


def test_unreachable_database_is_a_one_line_error_without_the_password(tmp_path):
    config = write_project(tmp_path / "p", rows=5)
    done = vo("status", str(config), data_dir=tmp_path / "data",
              database_url="postgresql://astro:s3cret@127.0.0.1:1/vo")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("vo: error: cannot connect to the database") and "s3cret" not in lines[0]


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path):
    import signal
    import subprocess
    import time

    from tests.e2e.helpers import REPO, vo_command, vo_env

    config = write_project(tmp_path / "p", rows=60, batch_size=5, latency=0.1)
    data = tmp_path / "data"
    process = subprocess.Popen(vo_command("run", str(config), "--workers", "1"), cwd=REPO,
                               env=vo_env(data, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(data.glob("raw/**/*.h5")):  # wait until real work is under way
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; everything committed so far is kept" in err
    assert not (data / "postgres" / "postmaster.pid").exists()  # the embedded server was released
    status = vo_json("run", str(config), data_dir=data, database_url=None)["status"]
    assert status["analysed"] == 60 and status["failed"] == 0
