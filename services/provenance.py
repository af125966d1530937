"""Provenance of products: version manifests (resolved configuration, versions, code, catalog) and their diffs.

A project's *version* (the name of its manifest folder) is the hash of every survey's
version chain. Each chain already hashes the science parameters of its steps and the
version of their science code (:data:`domain.config.ALGORITHMS`), so a changed threshold
gives a new version and a changed batch size does not. The catalog's hash is recorded in
the manifest but kept out of the versions: adding rows to a catalog must not redo the
sources that are finished, whose products do not depend on the other rows.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from virtualobserver._release import release
from virtualobserver.domain.config import ALGORITHMS, ProjectConfig, SurveyConfig
from virtualobserver.domain.parameters import version_hash
from virtualobserver.services.provenance_ports import ManifestStore

__all__ = [
    "MANIFEST_FORMAT",
    "Difference",
    "VersionInfo",
    "code_version",
    "catalog_fingerprint",
    "project_version",
    "version_chain",
    "resolved_config",
    "build_manifest",
    "record_manifest",
    "list_versions",
    "diff_manifests",
    "flatten",
    "content_hash",
]

#: Layout version of the manifest files.
MANIFEST_FORMAT = 1
#: Manifest entries that are not content: two manifests differing only there are the same.
_NOT_CONTENT = ("created",)
#: Entries left out of diffs (they always differ between two versions, and say nothing of why).
_NOT_COMPARED = ("created", "version")
_PACKAGE = "virtualobserver"


@dataclass(frozen=True)
class Difference:
    """One dotted key whose value differs between two manifests.

    Attributes
    ----------
    key : str
        Dotted key, e.g. ``config.observatories.demo.analysis.threshold``.
    old, new : Any
        Values in the older and newer manifest (None where the key is absent).
    """

    key: str
    old: Any
    new: Any


@dataclass
class VersionInfo:
    """A version of a project as its manifests describe it.

    Attributes
    ----------
    version : str
        Version name (its folder).
    manifest : dict
        The version's own manifest (the first saved).
    revisions : list of dict
        Later manifests of the same version whose non-science content differed (e.g. another catalog).
    changes : list of Difference
        Differences from the previous version (by creation time); empty for the first.
    current : bool
        Whether it is the version of the configuration being looked at.
    """

    version: str
    manifest: dict
    revisions: list[dict] = field(default_factory=list)
    changes: list[Difference] = field(default_factory=list)
    current: bool = False

    @property
    def created(self) -> str:
        """Creation time (ISO 8601, UTC) of the version's own manifest."""
        return str(self.manifest.get("created", ""))

    @property
    def catalog_hashes(self) -> list[str]:
        """Catalog hashes of every manifest of the version, first first, each once."""
        hashes = [m.get("catalog", {}).get("hash", "") for m in [self.manifest, *self.revisions]]
        return list(dict.fromkeys(h for h in hashes if h))

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary (manifests included)."""
        return {"version": self.version, "created": self.created, "current": self.current,
                "code": self.manifest.get("code", {}), "catalog_hashes": self.catalog_hashes,
                "versions": self.manifest.get("versions", {}),
                "changes": [{"key": d.key, "old": d.old, "new": d.new} for d in self.changes],
                "manifest": self.manifest, "revisions": self.revisions}


def code_version() -> dict:
    """Return the version of the code: the package's release and that of each step's science code.

    Returns
    -------
    dict
        ``package``, ``version`` (from git: distinct for every commit, ``.dYYYYMMDD`` for uncommitted changes;
        ``"unknown"`` for a source tree neither checked out nor installed) and ``algorithms``.
    """
    return {"package": _PACKAGE, "version": release(), "algorithms": dict(ALGORITHMS)}


def catalog_fingerprint(config: ProjectConfig, fingerprint) -> dict:
    """Return the hash of what defines the project's targets: catalog file, selection, columns, epoch.

    Parameters
    ----------
    config : ProjectConfig
        The configuration.
    fingerprint : callable
        ``fingerprint(path) -> str``, the SHA-256 of a file (e.g. :meth:`ManifestStore.fingerprint`).

    Returns
    -------
    dict
        ``file_sha256`` (the file's bytes) and ``hash`` (SHA-256 of the file hash, selection,
        column mapping and epoch; 64 hexadecimal characters).
    """
    spec = config.catalog
    file_sha256 = fingerprint(spec.path)
    text = json.dumps({"file_sha256": file_sha256, "selection": spec.selection,
                       "columns": dict(sorted(dict(spec.columns).items())), "epoch": spec.epoch},
                      sort_keys=True, separators=(",", ":"))
    return {"file_sha256": file_sha256, "hash": hashlib.sha256(text.encode()).hexdigest()}


def version_chain(survey: SurveyConfig) -> dict[str, str]:
    """Return the versions of one survey's steps, upstream first.

    Parameters
    ----------
    survey : SurveyConfig
        The survey's configuration.

    Returns
    -------
    dict
        ``download``, ``reduction``, ``analysis`` and ``simulation`` versions.
    """
    return {"download": survey.download_version, "reduction": survey.reduction_version,
            "analysis": survey.analysis_version, "simulation": survey.simulation_version}


def project_version(config: ProjectConfig) -> str:
    """Return the version of a whole configuration: the hash of every survey's version chain.

    The simulation version of a survey hashes its whole chain (download, reduction,
    analysis, simulation parameters and science code), so this changes exactly when a
    science parameter or the science code of any survey changes, or a survey is added.

    Parameters
    ----------
    config : ProjectConfig
        The configuration.

    Returns
    -------
    str
        Twelve hexadecimal characters.

    Examples
    --------
    >>> from virtualobserver.domain.config import build_config
    >>> from virtualobserver.domain.parameters import Parameters
    >>> doc = {"project": {"name": "p", "surveys": ["s"]}, "catalog": {"path": "c.csv"}}
    >>> a = build_config(doc, survey_parameters={"s": Parameters})
    >>> b = build_config(doc, survey_parameters={"s": Parameters}, overrides={"project.batch_size": 7})
    >>> project_version(a) == project_version(b)
    True
    """
    return version_hash("project", [[s.name, s.simulation_version] for s in config.surveys])


def resolved_config(config: ProjectConfig) -> dict:
    """Return the whole configuration as plain data, every parameter included (defaults too).

    Parameters
    ----------
    config : ProjectConfig
        The configuration.

    Returns
    -------
    dict
        ``project``, ``catalog`` and ``observatories`` (per survey, every block) as in a YAML file.
    """
    spec = config.catalog
    blocks = ("download", "reduction", "quality", "analysis", "histograms", "simulation")
    return {
        "project": {"name": config.name, "description": config.description,
                    "surveys": [s.name for s in config.surveys], "batch_size": config.batch_size},
        "catalog": {"path": spec.path, "format": spec.format, "selection": spec.selection,
                    "columns": dict(spec.columns), "epoch": spec.epoch},
        "observatories": {s.name: {block: getattr(s, block).as_dict() for block in blocks} for s in config.surveys},
    }


def build_manifest(config: ProjectConfig, fingerprint, *, now: _dt.datetime | None = None) -> dict:
    """Return the manifest of a configuration's version.

    Parameters
    ----------
    config : ProjectConfig
        The configuration.
    fingerprint : callable
        ``fingerprint(path) -> str``, the SHA-256 of a file.
    now : datetime.datetime, optional
        Creation time (default: now, UTC).

    Returns
    -------
    dict
        ``manifest_format``, ``project``, ``version``, ``created``, ``code``, ``catalog``,
        ``versions`` (per survey) and ``config`` (see :func:`resolved_config`).
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return {
        "manifest_format": MANIFEST_FORMAT,
        "project": config.name,
        "version": project_version(config),
        "created": now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code": code_version(),
        "catalog": catalog_fingerprint(config, fingerprint),
        "versions": {s.name: version_chain(s) for s in config.surveys},
        "config": resolved_config(config),
    }


def record_manifest(config: ProjectConfig, store: ManifestStore, *, now: _dt.datetime | None = None) -> dict:
    """Build the manifest of a configuration and keep it (an identical one already kept is left as it is).

    Parameters
    ----------
    config : ProjectConfig
        The configuration.
    store : ManifestStore
        Where manifests are kept.
    now : datetime.datetime, optional
        Creation time (default: now, UTC).

    Returns
    -------
    dict
        The manifest, with ``file`` set to the stored file that holds its content.
    """
    manifest = build_manifest(config, store.fingerprint, now=now)
    file = store.save(config.name, manifest["version"], manifest)
    return {**manifest, "file": file}


def list_versions(store: ManifestStore, project: str, *, current: str | None = None) -> list[VersionInfo]:
    """Return the versions of a project that have manifests, oldest first, each with its changes.

    Parameters
    ----------
    store : ManifestStore
        Where manifests are kept.
    project : str
        Project name.
    current : str, optional
        Version to mark as current.

    Returns
    -------
    list of VersionInfo
        By creation time; ``changes`` compares each with the one before.
    """
    found = []
    for version in store.list(project):
        manifests = store.load(project, version)
        if manifests:
            found.append(VersionInfo(version, manifests[0], manifests[1:], current=version == current))
    found.sort(key=lambda v: (v.created, v.version))
    for before, after in zip(found, found[1:]):
        after.changes = diff_manifests(before.manifest, after.manifest)
    return found


def diff_manifests(old: Mapping[str, Any], new: Mapping[str, Any],
                   ignore: Iterable[str] = _NOT_COMPARED) -> list[Difference]:
    """Return the dotted keys whose values differ between two manifests, sorted.

    Parameters
    ----------
    old, new : mapping
        Manifests (or any nested mappings).
    ignore : iterable of str
        Top-level keys not compared (by default ``created`` and ``version``).

    Returns
    -------
    list of Difference
        One per key added, removed or changed (lists are compared whole).

    Examples
    --------
    >>> diff_manifests({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}})
    [Difference(key='a.c', old=2, new=3)]
    """
    ignored = set(ignore)
    a = {k: v for k, v in flatten(old).items() if k.split(".", 1)[0] not in ignored}
    b = {k: v for k, v in flatten(new).items() if k.split(".", 1)[0] not in ignored}
    return [Difference(key, a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)
            or (key in a) != (key in b)]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return a nested mapping as ``{dotted key: value}`` (lists and scalars are leaves).

    Parameters
    ----------
    mapping : mapping
        Nested mappings.
    prefix : str
        Prepended to every key.

    Returns
    -------
    dict
        Flat mapping.

    Examples
    --------
    >>> flatten({"a": {"b": 1}, "c": [1, 2]})
    {'a.b': 1, 'c': [1, 2]}
    """
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def content_hash(manifest: Mapping[str, Any]) -> str:
    """Return the SHA-256 of a manifest's content (everything but its creation time).

    Parameters
    ----------
    manifest : mapping
        A manifest.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    content = {k: v for k, v in manifest.items() if k not in _NOT_CONTENT}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
