"""FileManifestStore: version manifests as YAML files beside the products, created once and never replaced."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Any, Mapping

import yaml

from virtualobserver.adapters.yaml_limits import safe_load
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.naming import safe_key
from virtualobserver.services.provenance import content_hash
from virtualobserver.services.provenance_ports import ManifestStore

__all__ = ["FileManifestStore", "manifest_problem", "is_manifest", "read_manifest"]

_MAIN = "manifest.yaml"
_VERSION = re.compile(r"^[0-9a-f]{6,64}$")
_OTHER = re.compile(r"^manifest-(?P<hash>[0-9a-f]{12})\.yaml$")
_HEADER = ("# virtualobserver version manifest: how the products of this version were made.\n"
           "# Written once and never changed; a later run with other non-science settings adds manifest-<hash>.yaml.\n")


class FileManifestStore(ManifestStore):
    """Manifests under ``<root>/projects/<project>/<version>/``.

    The folder is the one that holds the project's lightcurves of a reduction version
    (``projects/<project>/<version>/``, the project name made safe the same way), with
    the project's version in place of the reduction version. ``manifest.yaml`` is the
    version's own manifest; a manifest of the same version with other content goes to
    ``manifest-<content hash>.yaml``. Files are created with a hard link from a fsynced
    temporary file, which fails if the name exists: two processes saving at once never
    overwrite each other, and a crash leaves no partial manifest.

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _folder(self, project: str) -> Path:
        return Path("projects") / safe_key(project, max_length=32)

    def _version_folder(self, project: str, version: str) -> Path:
        if not _VERSION.match(version):
            raise DataError(f"not a version name: {version!r} (expected hexadecimal digits)")
        return self._folder(project) / version

    def save(self, project: str, version: str, manifest: Mapping[str, Any]) -> str:
        """Keep ``manifest`` for ``version``; return the stored file (relative to the root) holding its content."""
        folder = self._version_folder(project, version)
        content = content_hash(manifest)
        text = _HEADER + yaml.safe_dump(dict(manifest), sort_keys=False, allow_unicode=True, width=110)
        for name in (_MAIN, f"manifest-{content[:12]}.yaml"):
            relative = folder / name
            path = self.root / relative
            if not path.exists() and _create(path, text):
                return str(relative)
            if content_hash(_read(path)) == content:  # the same content is already kept
                return str(relative)
        raise DataError(f"{self.root / folder}: a different manifest already has the name of this content")

    def list(self, project: str) -> list[str]:
        """Return the versions of ``project`` that have a manifest, sorted."""
        folder = self.root / self._folder(project)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if _VERSION.match(p.name) and (p / _MAIN).is_file())

    def load(self, project: str, version: str) -> list[dict]:
        """Return every manifest of ``version``: ``manifest.yaml`` first, then the others by creation time."""
        folder = self.root / self._version_folder(project, version)
        main = folder / _MAIN
        if not main.is_file():
            return []
        others = [_read(p) for p in sorted(folder.glob("manifest-*.yaml"))]
        others.sort(key=lambda m: str(m.get("created", "")))
        return [_read(main), *others]

    def fingerprint(self, path: str) -> str:
        """Return the SHA-256 of the file's bytes."""
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise DataError(f"{path}: cannot read to hash it: {exc.strerror or exc}") from None
        return digest.hexdigest()


def is_manifest(name: str) -> bool:
    """Whether a file name is one of a version's manifests (``manifest.yaml`` or ``manifest-<hash>.yaml``)."""
    return name == _MAIN or bool(_OTHER.match(name))


def manifest_problem(path: Path) -> str | None:
    """Return why a stored manifest cannot be trusted, or None if it reads and matches where it is kept.

    It must read as a mapping whose ``version`` is its folder's name, and a
    ``manifest-<hash>.yaml`` must hold the content of that hash.

    Parameters
    ----------
    path : pathlib.Path
        The manifest file.

    Returns
    -------
    str or None
        A one-line reason, or None.
    """
    try:
        manifest = _read(path)
    except DataError as exc:
        return " ".join(str(exc).split(": ", 1)[-1].split())
    if str(manifest.get("version")) != path.parent.name:
        return f"its version {manifest.get('version')!r} is not its folder's {path.parent.name!r}"
    other = _OTHER.match(path.name)
    if other and not content_hash(manifest).startswith(other["hash"]):
        return f"content does not match its name: it hashes to {content_hash(manifest)[:12]}"
    return None


def read_manifest(path: Path) -> dict:
    """Return the manifest in ``path``.

    Raises
    ------
    DataError
        If it does not read as a YAML mapping.
    """
    return _read(path)


def _read(path: Path) -> dict:
    try:
        document = safe_load(path.read_text(encoding="utf-8"))  # a manifest is a file anyone may edit
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read manifest: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise DataError(f"{path}: not a manifest (expected a mapping)")
    return document


def _create(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` unless it exists; return whether this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer (threads of one process too), so racing writers never share a temporary file; the
    # ".<name>.tmp-<pid>.<random>.part" form is the one the data folder's sweep of dead writers' leftovers knows.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # unlike rename, fails when the name exists: never overwrites
        except FileExistsError:
            return False
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
