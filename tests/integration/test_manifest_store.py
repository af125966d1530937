"""FileManifestStore on real files: created once, never overwritten (even by racing writers), read back as written."""

import hashlib
import threading

import pytest
import yaml

from virtualobserver.adapters.files.manifest_store import FileManifestStore
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.naming import safe_key


def manifest(batch_size=100, created="2025-01-01T00:00:00Z", threshold=5.0):
    return {"manifest_format": 1, "project": "p/../x", "version": "abc123def456", "created": created,
            "config": {"project": {"batch_size": batch_size}, "analysis": {"threshold": threshold,
                                                                           "widths_days": [2.0, 8.0]}}}


def test_first_save_creates_the_versions_manifest_in_the_project_folder(tmp_path):
    store = FileManifestStore(tmp_path)
    relative = store.save("p/../x", "abc123def456", manifest())
    path = tmp_path / relative
    # Beside the lightcurves: projects/<project made safe>/<version>/, so a name can never become a path.
    assert path == tmp_path / "projects" / safe_key("p/../x", max_length=32) / "abc123def456" / "manifest.yaml"
    assert yaml.safe_load(path.read_text()) == manifest()  # types survive (floats, lists, nesting)
    assert store.list("p/../x") == ["abc123def456"] and store.load("p/../x", "abc123def456") == [manifest()]
    assert not list(path.parent.glob(".*tmp*"))  # no temporary file left behind


def test_same_content_is_not_written_again_and_other_content_goes_beside(tmp_path):
    store = FileManifestStore(tmp_path)
    first = store.save("p", "abc123def456", manifest())
    original = (tmp_path / first).read_bytes()
    assert store.save("p", "abc123def456", manifest(created="2030-01-01T00:00:00Z")) == first
    other = store.save("p", "abc123def456", manifest(batch_size=7, created="2026-01-01T00:00:00Z"))
    assert other != first and other.endswith(".yaml") and "manifest-" in other
    assert (tmp_path / first).read_bytes() == original
    assert store.save("p", "abc123def456", manifest(batch_size=7)) == other  # found again, not duplicated
    loaded = store.load("p", "abc123def456")
    assert [m["config"]["project"]["batch_size"] for m in loaded] == [100, 7]


def test_racing_writers_never_overwrite_each_other(tmp_path):
    store = FileManifestStore(tmp_path)
    results = {}

    def save(i):
        results[i] = store.save("p", "abc123def456", manifest(batch_size=i % 2 + 1))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = store.load("p", "abc123def456")
    # Two contents, each kept exactly once, and every writer was told the file holding its content.
    assert sorted(m["config"]["project"]["batch_size"] for m in kept) == [1, 2]
    for i, relative in results.items():
        assert yaml.safe_load((tmp_path / relative).read_text())["config"]["project"]["batch_size"] == i % 2 + 1


def test_list_load_and_fingerprint(tmp_path):
    store = FileManifestStore(tmp_path)
    assert store.list("nothing") == [] and store.load("nothing", "abc123") == []
    store.save("p", "bbbbbb", manifest())
    store.save("p", "aaaaaa", manifest())
    (tmp_path / "projects" / safe_key("p", max_length=32) / "ffffff").mkdir()  # a lightcurve folder: no manifest
    assert store.list("p") == ["aaaaaa", "bbbbbb"]
    catalog = tmp_path / "catalog.csv"
    catalog.write_bytes(b"name,ra,dec\nx,1,2\n")
    assert store.fingerprint(str(catalog)) == hashlib.sha256(catalog.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="missing.csv: cannot read"):
        store.fingerprint(str(tmp_path / "missing.csv"))


def test_a_version_name_can_never_be_a_path(tmp_path):
    with pytest.raises(DataError, match="not a version name"):
        FileManifestStore(tmp_path).save("p", "../../etc", manifest())
