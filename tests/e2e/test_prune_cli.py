"""``vo versions`` disk use and ``vo prune`` end to end, on the real PostgreSQL: dry run, real run, killed run resumed.

Two versions of one project share their raw data and lightcurves (only the threshold differs); the
old one also has a simulation. What pruning the old one must remove is worked out here from the
data folder's documented layout and by SQL on the tables, not from the code under test.
"""

import shutil
import signal
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from virtualobserver.adapters.files.tables import read_table
from tests.e2e.helpers import vo, vo_json, write_project
from tests.e2e.test_kill_resume import run_rows

NEW = "observatories.analysis.threshold=3.5"


def files_of(data: Path) -> dict[str, bytes]:
    """Every product file and manifest by path (the database's own files and the answer cache are not products)."""
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*")
            if p.is_file() and p.relative_to(data).parts[0] not in ("postgres", "cache")}


def build(tmp_path: Path, url: str) -> tuple[str, Path, dict, dict]:
    """Old version (threshold 5, run and simulated), then the current one (3.5): return config, data, both chains."""
    # With images: the detections' stamps are an analysis version's files too.
    config, data = str(write_project(tmp_path / "p", rows=20, images=True)), tmp_path / "data"
    vo_json("run", config, data_dir=data, database_url=url)
    vo_json("simulate", config, data_dir=data, database_url=url)
    vo_json("run", config, "--set", NEW, data_dir=data, database_url=url)
    listing = vo_json("versions", config, "--set", NEW, data_dir=data, database_url=url)
    old, new = (v for v in listing["versions"])  # oldest first
    assert new["current"] and not old["current"]
    return config, data, old, new


def expected_rows(url: str, analysis: str, simulation: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            def count(sql):
                return c.execute(text(sql), {"a": analysis, "s": simulation}).scalar()

            return {"detections": count("SELECT count(*) FROM detections WHERE version IN (:a, :s) AND NOT is_simulated"),
                    "simulated_detections": count("SELECT count(*) FROM detections WHERE version IN (:a, :s) "
                                                  "AND is_simulated"),
                    "injections": count("SELECT count(*) FROM injections WHERE version = :s"),
                    "summaries": count("SELECT count(*) FROM source_summaries WHERE version = :a"),
                    "histogram_parts": count("SELECT count(*) FROM histogram_parts WHERE version IN (:a, :s)"),
                    "steps": count("SELECT count(*) FROM steps WHERE version IN (:a, :s)"),
                    "failures": 0, "lightcurves": 0, "raw_data": 0}
    finally:
        engine.dispose()


def test_dry_run_reports_what_the_real_run_removes_and_the_other_version_stays_whole(tmp_path, empty_database_url):
    url = empty_database_url
    config, data, old, new = build(tmp_path, url)
    chain, kept_chain = old["versions"]["demo"], new["versions"]["demo"]
    assert chain["download"] == kept_chain["download"] and chain["reduction"] == kept_chain["reduction"]
    assert chain["analysis"] != kept_chain["analysis"]

    # What the old version alone has: its analysis and simulation folders and its manifest folder.
    before = files_of(data)
    own = {p for p in before if set(Path(p).parts[1:]) & {chain["analysis"], chain["simulation"]}
           and Path(p).parts[0] in ("analysis", "histograms", "stamps")}
    manifest = {p for p in before if Path(p).parts[:1] == ("projects",) and old["version"] in Path(p).parts}
    assert len(own) >= 4 and len(manifest) == 1 and any(Path(p).parts[0] == "stamps" for p in own)
    rows = expected_rows(url, chain["analysis"], chain["simulation"])
    assert rows["detections"] > 0 and rows["injections"] > 0 and rows["simulated_detections"] > 0

    # vo versions: the bytes of each step's folders, and what pruning frees (the old version's own files).
    listing = {v["version"]: v["disk"] for v in vo_json("versions", config, "--set", NEW, data_dir=data,
                                                        database_url=url)["versions"]}
    folder = {"download": ("raw", chain["download"]), "reduction": ("projects", chain["reduction"]),
              "analysis": None, "simulation": None}
    for step, where in folder.items():
        if where:
            size = sum(len(b) for p, b in before.items() if Path(p).parts[0] == where[0] and where[1] in Path(p).parts)
            assert listing[old["version"]]["by_step"][step] == size > 0
    assert listing[old["version"]]["frees_bytes"] == sum(len(before[p]) for p in own)
    assert listing[old["version"]]["rows"]["injections"] == rows["injections"]
    assert listing[new["version"]]["rows"]["injections"] == 0
    assert listing[old["version"]]["rows"]["lightcurves"] == listing[new["version"]]["rows"]["lightcurves"] > 0

    run = vo("export", config, "--set", NEW, "--what", "detections", "--out", str(tmp_path / "before.ecsv"),
             data_dir=data, database_url=url)
    assert run.returncode == 0, run.stderr
    counts_before = run_rows(url)["counts"]

    # The current version is refused without --force, in one line, and nothing changes.
    refused = vo("prune", config, "--set", NEW, "--version", new["version"][:6], data_dir=data, database_url=url)
    assert refused.returncode == 2 and "--force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    unknown = vo("prune", config, "--version", "fff000", data_dir=data, database_url=url)
    assert unknown.returncode == 2 and "no version starts with 'fff000'" in unknown.stderr

    dry = vo_json("prune", config, "--set", NEW, "--version", old["version"][:6], "--dry-run",
                  data_dir=data, database_url=url)
    assert files_of(data) == before and run_rows(url)["counts"] == counts_before  # nothing removed
    assert dry["rows"] == rows and dry["files"] == len(own) and dry["bytes"] == sum(len(before[p]) for p in own)
    assert {(k["step"], k["version"]) for k in dry["kept"]} == {("download", chain["download"]),
                                                                 ("reduction", chain["reduction"])}

    real = vo_json("prune", config, "--set", NEW, "--version", old["version"][:6], data_dir=data, database_url=url)
    assert real["rows"] == dry["rows"] and real["files"] == dry["files"] and real["bytes"] == dry["bytes"]
    after = files_of(data)
    assert set(before) - set(after) == own | manifest and not set(after) - set(before)
    assert all(after[p] == before[p] for p in after)  # the other version's files, byte for byte
    counts_after = run_rows(url)["counts"]
    for table, kind in (("injections", "injections"), ("source_summaries", "summaries"),
                        ("histogram_parts", "histogram_parts"), ("steps", "steps")):
        assert counts_before[table] - counts_after[table] == rows[kind]
    assert counts_after["lightcurves"] == counts_before["lightcurves"] and counts_after["raw_data"] == 20

    # The current version reads as before, the data folder is healthy, and the old version is gone.
    run = vo("export", config, "--set", NEW, "--what", "detections", "--out", str(tmp_path / "after.ecsv"),
             data_dir=data, database_url=url)
    assert run.returncode == 0, run.stderr
    exported, again = read_table(tmp_path / "before.ecsv"), read_table(tmp_path / "after.ecsv")
    assert len(again) == len(exported) > 0 and [list(r) for r in again] == [list(r) for r in exported]
    doctor = vo("doctor", config, "--set", NEW, data_dir=data, database_url=url)
    assert doctor.returncode == 0 and "healthy" in doctor.stdout, doctor.stdout
    listing = vo_json("versions", config, "--set", NEW, data_dir=data, database_url=url)
    assert [v["version"] for v in listing["versions"]] == [new["version"]]
    again = vo("prune", config, "--set", NEW, "--version", old["version"][:6], data_dir=data, database_url=url)
    assert again.returncode == 2 and "no version starts with" in again.stderr


def _copy(new_database, url: str, data: Path, where: Path) -> tuple[str, Path]:
    """A copy of the database (as a template) and of the data folder."""
    copy = new_database(make_url(url).database)
    shutil.copytree(data, where, ignore=shutil.ignore_patterns("postgres"))
    return copy, where


def test_a_prune_killed_at_any_point_and_run_again_ends_as_an_uninterrupted_one(tmp_path, new_database):
    url = new_database()
    config, data, old, _ = build(tmp_path, url)
    prune = ("prune", config, "--set", NEW, "--version", old["version"])

    whole_url, whole = _copy(new_database, url, data, tmp_path / "whole")
    vo_json(*prune, data_dir=whole, database_url=whole_url)
    expected_rows, expected_files = run_rows(whole_url), files_of(whole)

    # Killed (SIGKILL) after the first step version's rows are committed, and in the middle of deleting files.
    for fault in ("prune.after_commit:1", "prune.before_remove:3"):
        killed_url, killed = _copy(new_database, url, data, tmp_path / fault.replace(":", "-"))
        done = vo(*prune, data_dir=killed, database_url=killed_url, env={"VO_FAULT": fault})
        assert done.returncode == -signal.SIGKILL, (fault, done.stderr)
        assert files_of(killed) != expected_files  # stopped before the end
        # No row points at a missing file: the doctor finds at most files no row claims any more.
        report = vo_json("doctor", config, "--set", NEW, data_dir=killed, database_url=killed_url,
                         code=None)
        assert {f["kind"] for f in report["findings"]} <= {"orphan"}, (fault, report["findings"])
        vo_json(*prune, data_dir=killed, database_url=killed_url)
        assert run_rows(killed_url) == expected_rows, fault
        assert files_of(killed) == expected_files, fault
        doctor = vo("doctor", config, "--set", NEW, data_dir=killed, database_url=killed_url)
        assert doctor.returncode == 0, (fault, doctor.stdout)


def test_raw_data_another_project_uses_stays_and_the_pruned_version_is_made_again(tmp_path, empty_database_url):
    url, data = empty_database_url, tmp_path / "data"
    mine = str(write_project(tmp_path / "a", rows=10))
    other = write_project(tmp_path / "b", rows=10)  # the same catalog and survey settings: the same raw data
    other.write_text(other.read_text().replace("name: e2e", "name: other"))
    for config in (mine, str(other)):
        vo_json("run", config, data_dir=data, database_url=url)
    version = vo_json("versions", mine, data_dir=data, database_url=url)["current"]
    before = files_of(data)
    theirs = {p: b for p, b in before.items() if "/other-" in f"/{p}" or p.startswith("raw/")}

    # --step analysis: the analysis and what was made from it; lightcurves, raw data and the manifest stay.
    partial = vo_json("prune", mine, "--version", version, "--step", "analysis", "--force", "--dry-run",
                      data_dir=data, database_url=url)
    assert {p["step"] for p in partial["products"]} == {"analysis", "simulation"} and not partial["manifest"]
    assert partial["rows"]["lightcurves"] == 0 and partial["rows"]["summaries"] == 10

    done = vo_json("prune", mine, "--version", version, "--force", data_dir=data, database_url=url)
    kept = {k["step"]: k["reason"] for k in done["kept"]}
    assert kept == {"download": f"used by version {version} of project other"}  # same chain, other project
    assert done["rows"]["lightcurves"] > 0 and done["rows"]["raw_data"] == 0 and done["manifests"] == 1
    after = files_of(data)
    assert {p: after.get(p) for p in theirs} == theirs  # the other project's files and the raw data, unchanged
    assert not [p for p in after if p.startswith(("projects/e2e-", "analysis/e2e-", "histograms/e2e-"))]
    for config in (mine, str(other)):
        doctor = vo("doctor", config, data_dir=data, database_url=url)
        assert doctor.returncode == 0 and "healthy" in doctor.stdout, doctor.stdout

    # Nothing on record says the pruned steps are done: the next run makes them again, from the raw data kept.
    again = vo_json("run", mine, data_dir=data, database_url=url)
    assert again["download"]["done"] == 0 and again["download"]["skipped"] == 10
    assert again["reduce"]["done"] == again["analyse"]["done"] == 10
