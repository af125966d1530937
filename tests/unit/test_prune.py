"""services/prune.py over fake ports: what a version shares stays, the rest goes, rows before files, manifest last."""

from collections import Counter

import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.services.prune import chain_of, disk_use, find_version, plan_prune, prune
from virtualobserver.services.prune_ports import StepVersion, VersionFiles, VersionRecords


def manifest(project, version, **steps):
    return {"project": project, "version": version,
            "versions": {"demo": {"download": steps.get("d", "d1"), "reduction": steps.get("r", "r1"),
                                  "analysis": steps.get("a", "a1"), "simulation": steps.get("s", "s1")}}}


class Store:
    """Rows by (project, version), files by owner, and a log of every change in order."""

    def __init__(self):
        self.rows = {}  # (project or "" for raw data, version) -> Counter
        self.refs = {}  # path -> (project or "", version) of the row pointing at it
        self.folders = {}  # (project, version) -> paths
        self.sizes = {}
        self.raw_links = []  # (project, reduction version, download version): lightcurves made from raw data
        self.log = []

    def add(self, project, version, path=None, size=10, **rows):
        self.rows[(project, version)] = Counter(rows)
        if path:
            self.refs[path] = (project, version)
            self.folders.setdefault((project, version), []).append(path)
            self.sizes[path] = size


class FakeRecords(VersionRecords):
    def __init__(self, store):
        self.store, self.pending = store, []

    def _key(self, project, product):
        return ("" if product.step == "download" else project, product.version)

    def rows(self, project, product):
        return dict(self.store.rows.get(self._key(project, product), Counter()))

    def files(self, project, product):
        return {p for p, owner in self.store.refs.items() if owner == self._key(project, product)}

    def raw_used_elsewhere(self, project, product, pruned):
        return any(d == product.version and not (p == project and r in pruned) for p, r, d in self.store.raw_links)

    def referenced(self, paths, project=None, versions=()):
        return {p for p in paths if p in self.store.refs
                and not (self.store.refs[p][1] in versions and self.store.refs[p][0] in (project, ""))}

    def remove(self, project, product):
        self.pending.append(self._key(project, product))
        return self.rows(project, product)

    def commit(self):
        for key in self.pending:
            self.store.rows.pop(key, None)
            for path in [p for p, owner in self.store.refs.items() if owner == key]:
                del self.store.refs[path]
            self.store.log.append(("rows", key[1]))
        self.pending = []

    def rollback(self):
        self.pending = []


class FakeFiles(VersionFiles):
    def __init__(self, store, manifests):
        self.store, self._manifests = store, manifests

    def manifests(self):
        return list(self._manifests)

    def folder_files(self, project, product):
        owner = "" if product.step == "download" else project
        return [p for p in self.store.folders.get((owner, product.version), []) if p in self.store.sizes]

    def size(self, path):
        return self.store.sizes.get(path, 0)

    def remove(self, path):
        assert path not in self.store.refs, f"{path} deleted while a row points at it"
        self.store.sizes.pop(path, None)
        self.store.log.append(("file", path))

    def remove_manifests(self, project, version):
        self._manifests = [m for m in self._manifests if (m["project"], m["version"]) != (project, version)]
        self.store.log.append(("manifest", version))
        return 1


def two_versions():
    """Project p: v1 and v2 differ in the analysis (threshold) only."""
    store = Store()
    store.add("", "d1", "raw/demo/d1/b.h5", 100, raw_data=5)
    store.add("p", "r1", "projects/p/r1/b.h5", 50, lightcurves=15, steps=5)
    store.add("p", "a1", "analysis/p/a1/b.h5", 20, detections=3, summaries=5, steps=5)
    store.add("p", "s1", "histograms/p/demo/s1/e.nc", 7, injections=40, steps=5)
    store.add("p", "a2", "analysis/p/a2/b.h5", 30, detections=4, summaries=5, steps=5)
    store.raw_links.append(("p", "r1", "d1"))
    return store, [manifest("p", "v1"), manifest("p", "v2", a="a2", s="s2")]


def test_a_version_loses_only_what_no_other_version_uses_downstream_first():
    store, manifests = two_versions()
    files = FakeFiles(store, manifests)
    plan = plan_prune("p", manifests[0], manifests, lambda: FakeRecords(store), files)
    assert [(p.step, p.version) for p in plan.products] == [("simulation", "s1"), ("analysis", "a1")]
    assert plan.kept == {StepVersion("demo", "download", "d1"): "used by version v2",
                         StepVersion("demo", "reduction", "r1"): "used by version v2"}
    assert plan.rows == Counter(detections=3, summaries=5, steps=10, injections=40)
    assert plan.files == {"analysis/p/a1/b.h5": 20, "histograms/p/demo/s1/e.nc": 7} and plan.bytes == 27
    assert plan.manifest

    from tests.fakes import RecordingProgress

    progress = RecordingProgress()
    report = prune(plan, lambda: FakeRecords(store), files, progress)
    assert report.rows == plan.rows and report.files == 2 and report.bytes == 27 and report.manifests == 1
    # Progress as it went: the two step versions' rows, then the two files.
    assert progress.events == [("start", "step versions", 2), *[("advance", "step versions", 1, 0, 0)] * 2,
                               ("finish", "step versions"), ("start", "files removed", 2),
                               *[("advance", "files removed", 1, 0, 0)] * 2, ("finish", "files removed")]
    kinds = [kind for kind, _ in store.log]
    assert kinds == ["rows", "rows", "file", "file", "manifest"]  # rows, then files, then the manifest
    assert ("p", "a2") in store.rows and ("p", "r1") in store.rows and ("", "d1") in store.rows


def test_a_project_step_named_by_another_projects_manifest_is_still_pruned_but_raw_data_is_not():
    store, _ = two_versions()
    manifests = [manifest("p", "v1"), manifest("q", "v1")]  # q: the same chain, its own rows
    plan = plan_prune("p", manifests[0], manifests, lambda: FakeRecords(store), FakeFiles(store, manifests))
    assert [p.version for p in plan.products] == ["s1", "a1", "r1"]
    assert plan.kept == {StepVersion("demo", "download", "d1"): "used by version v1 of project q"}


def test_raw_data_with_lightcurves_elsewhere_stays_and_the_current_configuration_protects_its_chain():
    store, _ = two_versions()
    store.raw_links.append(("q", "r7", "d1"))  # a project without a manifest reduced the same raw data
    only = [manifest("p", "v1")]
    plan = plan_prune("p", only[0], only, lambda: FakeRecords(store), FakeFiles(store, only))
    assert plan.kept == {StepVersion("demo", "download", "d1"):
                         "lightcurves of another version or project were made from it"}
    assert "raw/demo/d1/b.h5" not in plan.files and "projects/p/r1/b.h5" in plan.files
    current = {"demo": {"download": "d1", "reduction": "r1", "analysis": "a9", "simulation": "s9"}}
    plan = plan_prune("p", only[0], only, lambda: FakeRecords(store), FakeFiles(store, only), current=current)
    assert [p.version for p in plan.products] == ["s1", "a1"]
    assert set(plan.kept.values()) == {"used by the current configuration"}


def test_a_file_a_kept_row_points_at_stays():
    store, manifests = two_versions()
    store.folders[("p", "a1")].append("analysis/p/a1/shared.h5")
    store.sizes["analysis/p/a1/shared.h5"] = 5
    store.refs["analysis/p/a1/shared.h5"] = ("p", "a2")  # a row of the other analysis version points there
    plan = plan_prune("p", manifests[0], manifests, lambda: FakeRecords(store), FakeFiles(store, manifests))
    assert "analysis/p/a1/shared.h5" not in plan.files and "analysis/p/a1/b.h5" in plan.files


def test_scoping_by_step_and_survey_and_unknown_names():
    store, manifests = two_versions()
    plan = plan_prune("p", manifests[0], manifests, lambda: FakeRecords(store), FakeFiles(store, manifests),
                      step="simulation")
    assert [p.version for p in plan.products] == ["s1"] and not plan.manifest and not plan.kept
    with pytest.raises(DataError, match="has no survey 'ztf'"):
        chain_of(manifests[0], survey="ztf")
    with pytest.raises(DataError, match="no step 'fetch'"):
        chain_of(manifests[0], step="fetch")
    assert find_version(manifests, "p", "v2")["version"] == "v2"
    with pytest.raises(DataError, match=r"more than one version starts with 'v' \(known: v1, v2"):
        find_version(manifests, "p", "v")
    with pytest.raises(DataError, match="no version starts with 'v1'"):
        find_version(manifests, "q", "v1")


def test_disk_use_counts_each_version_whole_and_what_pruning_it_frees():
    store, manifests = two_versions()
    use = disk_use("p", manifests, lambda: FakeRecords(store), FakeFiles(store, manifests), current="v2",
                   current_chains={"demo": manifests[1]["versions"]["demo"]})
    assert use["v1"].bytes == 100 + 50 + 20 + 7 and use["v1"].frees == 27
    assert use["v1"].by_step == {"download": 100, "reduction": 50, "analysis": 20, "simulation": 7}
    assert use["v2"].bytes == 100 + 50 + 30 and use["v2"].frees == 30  # its own analysis (s2 has no files)
    assert use["v1"].rows["injections"] == 40 and use["v2"].rows["injections"] == 0
