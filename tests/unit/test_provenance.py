"""Version manifests: what names a version, what a manifest records, keep-first saving, listing and diffs."""

import datetime as dt

import pytest

from virtualobserver.domain.config import ALGORITHMS, SECTIONS, build_config
from virtualobserver.domain.errors import DataError
from virtualobserver.services.provenance import (
    Difference,
    build_manifest,
    catalog_fingerprint,
    content_hash,
    diff_manifests,
    flatten,
    list_versions,
    project_version,
    record_manifest,
)
from tests.fakes import FakeSurveyParameters
from tests.provenance_fakes import FakeManifestStore

SURVEYS = {"fake": FakeSurveyParameters, "other": FakeSurveyParameters}
T0 = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def config(overrides=None, surveys=("fake",), **catalog):
    document = {"project": {"name": "p", "surveys": list(surveys)},
                "catalog": {"path": "cat.csv", "selection": "mag < 20", **catalog},
                "observatories": {"analysis": {"threshold": 5.0}}}
    return build_config(document, survey_parameters=SURVEYS, overrides=overrides)


def store(digest="a" * 64):
    return FakeManifestStore({"cat.csv": digest})


def test_version_changes_with_science_parameters_only():
    base = project_version(config())
    assert project_version(config({"observatories.analysis.threshold": 4.0})) != base
    assert project_version(config({"observatories.fake.download.num_points": 61})) != base
    assert project_version(config(surveys=("fake", "other"))) != base  # a new survey is a new version
    # Neither non-science settings nor the catalog (its selection or its rows) make a new version.
    assert project_version(config({"project.batch_size": 3, "project.description": "x"})) == base
    assert project_version(config(selection="mag < 15")) == base


def test_version_follows_the_science_code(monkeypatch):
    base = project_version(config())
    monkeypatch.setitem(ALGORITHMS, "analysis", ALGORITHMS["analysis"] + "-next")
    assert project_version(config()) != base


def test_catalog_hash_covers_file_selection_columns_and_epoch():
    base = catalog_fingerprint(config(), store().fingerprint)
    assert base["file_sha256"] == "a" * 64 and len(base["hash"]) == 64
    assert catalog_fingerprint(config(), store("b" * 64).fingerprint)["hash"] != base["hash"]
    for change in ({"selection": "mag < 15"}, {"columns": {"name": "id"}}, {"epoch": 2016.0}):
        assert catalog_fingerprint(config(**change), store().fingerprint)["hash"] != base["hash"], change


def test_manifest_records_every_parameter_the_versions_code_and_catalog():
    cfg = config()
    manifest = build_manifest(cfg, store().fingerprint, now=T0)
    survey = cfg.surveys[0]
    assert manifest["version"] == project_version(cfg) and manifest["created"] == "2025-01-02T03:04:05Z"
    assert manifest["code"]["algorithms"] == ALGORITHMS and manifest["code"]["version"]
    assert manifest["catalog"] == catalog_fingerprint(cfg, store().fingerprint)
    assert manifest["versions"] == {"fake": {"download": survey.download_version, "reduction": survey.reduction_version,
                                             "analysis": survey.analysis_version,
                                             "simulation": survey.simulation_version}}
    blocks = manifest["config"]["observatories"]["fake"]
    assert blocks["download"] == survey.download.as_dict()
    for section in SECTIONS:  # every parameter, defaults included
        assert blocks[section] == getattr(survey, section).as_dict(), section
    assert blocks["analysis"]["threshold"] == 5.0 and "clip_sigma" in blocks["analysis"]
    assert manifest["config"]["project"] == {"name": "p", "description": "", "surveys": ["fake"], "batch_size": 100}
    assert manifest["config"]["catalog"]["selection"] == "mag < 20"


def test_saving_the_same_content_twice_keeps_one_manifest():
    manifests = store()
    first = record_manifest(config(), manifests, now=T0)
    again = record_manifest(config(), manifests, now=T0 + dt.timedelta(hours=1))  # only the time differs
    assert again["file"] == first["file"] and manifests.writes == 1
    assert manifests.load("p", first["version"])[0]["created"] == "2025-01-02T03:04:05Z"


def test_other_non_science_content_is_kept_beside_never_over_the_first():
    manifests = store()
    first = record_manifest(config(), manifests, now=T0)
    later = record_manifest(config({"project.batch_size": 7}), manifests, now=T0 + dt.timedelta(days=1))
    assert later["version"] == first["version"] and later["file"] != first["file"]
    kept = manifests.load("p", first["version"])
    assert [m["config"]["project"]["batch_size"] for m in kept] == [100, 7]


def test_a_new_threshold_is_a_new_version_listed_with_its_differences():
    manifests = store()
    old = record_manifest(config(), manifests, now=T0)
    new = record_manifest(config({"observatories.analysis.threshold": 4.0}), manifests, now=T0 + dt.timedelta(1))
    versions = list_versions(manifests, "p", current=new["version"])
    assert [v.version for v in versions] == [old["version"], new["version"]]
    assert [v.current for v in versions] == [False, True] and versions[0].changes == []
    changed = {d.key: (d.old, d.new) for d in versions[1].changes}
    assert changed["config.observatories.fake.analysis.threshold"] == (5.0, 4.0)
    assert set(changed) == {"config.observatories.fake.analysis.threshold", "versions.fake.analysis",
                            "versions.fake.simulation"}
    assert versions[1].catalog_hashes == [old["catalog"]["hash"]]


def test_a_missing_catalog_file_is_an_error_naming_it():
    with pytest.raises(DataError, match=r"cat\.csv: cannot read"):
        record_manifest(config(), FakeManifestStore())


def test_diff_flatten_and_content_hash():
    old = {"created": "t0", "version": "a", "x": {"y": 1, "z": [1, 2]}, "gone": 1}
    new = {"created": "t1", "version": "b", "x": {"y": 2, "z": [1, 2]}, "added": None}
    assert diff_manifests(old, new) == [Difference("added", None, None), Difference("gone", 1, None),
                                        Difference("x.y", 1, 2)]
    assert flatten({"a": {"b": {"c": 1}}, "d": {}}) == {"a.b.c": 1, "d": {}}
    assert content_hash({**old, "created": "other"}) == content_hash(old) != content_hash(new)
