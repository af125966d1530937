"""In-memory fake of the provenance port (ManifestStore), for service unit tests."""

from __future__ import annotations

import copy

from virtualobserver.domain.errors import DataError
from virtualobserver.services.provenance import content_hash
from virtualobserver.services.provenance_ports import ManifestStore


class FakeManifestStore(ManifestStore):
    """Manifests in a dict by (project, version), with the real store's keep-first rule; counts writes.

    Parameters
    ----------
    files : dict, optional
        Path -> SHA-256 returned by :meth:`fingerprint` (unknown paths raise DataError, as a missing file would).
    """

    def __init__(self, files: dict[str, str] | None = None):
        self.files = dict(files or {})
        self.manifests: dict[tuple[str, str], list[dict]] = {}
        self.writes = 0

    def save(self, project, version, manifest):
        kept = self.manifests.setdefault((project, version), [])
        content = content_hash(manifest)
        for i, existing in enumerate(kept):
            if content_hash(existing) == content:
                return f"{project}/{version}/{i}"
        kept.append(copy.deepcopy(dict(manifest)))
        self.writes += 1
        return f"{project}/{version}/{len(kept) - 1}"

    def list(self, project):
        return sorted(v for p, v in self.manifests if p == project)

    def load(self, project, version):
        return copy.deepcopy(self.manifests.get((project, version), []))

    def fingerprint(self, path):
        if path not in self.files:
            raise DataError(f"{path}: cannot read to hash it: no such file")
        return self.files[path]
