"""``vo versions`` end to end: a changed threshold is a new version, listed with its difference, old products intact."""

from pathlib import Path

from virtualobserver.adapters.files.tables import read_table
from tests.e2e.helpers import vo, vo_json, write_project

THRESHOLD = "observatories.analysis.threshold=3.5"


def snapshot(data: Path) -> dict:
    # Every product file (arrays, histograms, manifests); the database's own files are not products.
    return {p: p.read_bytes() for p in data.rglob("*") if p.is_file() and "postgres" not in p.relative_to(data).parts}


def test_new_threshold_makes_a_new_version_and_leaves_the_old_one_untouched(tmp_path, empty_database_url):
    config, data = str(write_project(tmp_path / "p", rows=20)), tmp_path / "data"

    def run(*args):
        done = vo(*args, data_dir=data, database_url=empty_database_url)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = vo_json("run", config, data_dir=data, database_url=empty_database_url)["status"]
    # The lead wires the manifest into `vo run`; until then `--record` writes it (the same content either way).
    old = vo_json("versions", config, "--record", data_dir=data, database_url=empty_database_url)
    assert [v["current"] for v in old["versions"]] == [True]
    run("export", config, "--what", "detections", "--out", str(tmp_path / "old.ecsv"))
    before = snapshot(data)
    manifests = [p for p in before if p.name == "manifest.yaml"]
    assert len(manifests) == 1 and manifests[0].parent.name == old["current"]

    second = vo_json("run", config, "--set", THRESHOLD, data_dir=data, database_url=empty_database_url)
    assert second["reduce"]["done"] == 0 and second["analyse"]["done"] == 20  # lightcurves reused, analysis redone
    vo_json("versions", config, "--record", "--set", THRESHOLD, data_dir=data, database_url=empty_database_url)

    after = snapshot(data)
    assert {p: after.get(p) for p in before} == before  # nothing of the old version changed or vanished

    listing = vo_json("versions", config, data_dir=data, database_url=empty_database_url)
    assert listing["current"] == old["current"] and len(listing["versions"]) == 2
    newer = listing["versions"][1]
    # The new version's products (epoch scores, histograms, manifest) are new files in folders of its own.
    added = {p.relative_to(data).parts for p in set(after) - set(before)}
    analysis = newer["versions"]["demo"]["analysis"]
    assert any(parts[0] == "analysis" and analysis in parts for parts in added)  # epoch scores
    assert any(parts[0] == "histograms" and analysis in parts for parts in added)
    assert ("projects", manifests[0].parent.parent.name, newer["version"], "manifest.yaml") in added
    changes = {c["key"]: (c["old"], c["new"]) for c in newer["changes"]}
    assert changes["config.observatories.demo.analysis.threshold"] == (5.0, 3.5)
    assert newer["catalog_hashes"] == listing["versions"][0]["catalog_hashes"]  # same catalog, recorded in both
    text = run("versions", config)
    assert f"* {old['current']}" in text and "analysis.threshold: 5.0 -> 3.5" in text
    diff = run("versions", config, "--diff", old["current"][:6], newer["version"][:6])
    assert "config.observatories.demo.analysis.threshold: 5.0 -> 3.5" in diff

    # The old version's detections are still there, exactly as they were exported before.
    run("export", config, "--what", "detections", "--out", str(tmp_path / "again.ecsv"))
    run("export", config, "--set", THRESHOLD, "--what", "detections", "--out", str(tmp_path / "new.ecsv"))
    exported, again, new = (read_table(tmp_path / f"{n}.ecsv") for n in ("old", "again", "new"))
    assert len(exported) == first["detections"] and exported.meta["ANAVER"] == again.meta["ANAVER"]
    assert [list(r) for r in again] == [list(r) for r in exported]
    assert new.meta["ANAVER"] != exported.meta["ANAVER"] and len(new) >= len(exported)
    assert new.meta["REDVER"] == exported.meta["REDVER"] and new.meta["CATHASH"] == exported.meta["CATHASH"]
