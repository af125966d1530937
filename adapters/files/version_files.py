"""DataVersionFiles: the product files of a step version under the data folder, and every project's manifests."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from virtualobserver.adapters.faults import fault_point
from virtualobserver.adapters.files.manifest_store import is_manifest, read_manifest
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.naming import safe_key
from virtualobserver.services.prune_ports import StepVersion, VersionFiles

__all__ = ["DataVersionFiles"]


class DataVersionFiles(VersionFiles):
    """Folders of each step version, in the layout of ``Hdf5DataStore``, ``NetCdfHistogramStore`` and manifests.

    ``download``: ``raw/<survey>/<version>/``; ``reduction``: ``projects/<project>/<version>/``;
    ``analysis``: ``analysis/<project>/<version>/``, ``histograms/<project>/<survey>/<version>/`` and the
    detections' stamps, ``stamps/<project>/<version>/``;
    ``simulation``: ``histograms/<project>/<survey>/<version>/``. A project's manifests are in
    ``projects/<project>/<project version>/``, beside its reduction versions' folders.

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def manifests(self) -> list[dict]:
        """Return the own manifest (``manifest.yaml``) of every version of every project."""
        found = []
        for main in sorted((self.root / "projects").glob("*/*/manifest.yaml")):
            with contextlib.suppress(DataError):  # an unreadable manifest is the doctor's to report
                found.append(read_manifest(main))
        return found

    def _folders(self, project: str, product: StepVersion) -> list[PurePosixPath]:
        owner, v = safe_key(project, max_length=32), product.version
        return {
            "download": [PurePosixPath("raw", safe_key(product.survey, max_length=16), v)],
            "reduction": [PurePosixPath("projects", owner, v)],
            "analysis": [PurePosixPath("analysis", owner, v), PurePosixPath("histograms", owner, product.survey, v),
                         PurePosixPath("stamps", owner, v)],
            "simulation": [PurePosixPath("histograms", owner, product.survey, v)],
        }[product.step]

    def folder_files(self, project: str, product: StepVersion) -> list[str]:
        """Return every file in the folders of the step version (manifests excepted), sorted."""
        found = []
        for folder in self._folders(project, product):
            for where, _, names in os.walk(self.root / folder):
                found.extend(Path(where, n).relative_to(self.root).as_posix() for n in names if not is_manifest(n))
        return sorted(found)

    def size(self, path: str) -> int:
        """Return the size of ``path`` in bytes (0 if it does not exist)."""
        try:
            return (self.root / path).stat().st_size
        except FileNotFoundError:
            return 0

    def remove(self, path: str) -> None:
        """Delete ``path`` (nothing if it is already gone) and the folders it leaves empty."""
        fault_point("prune.before_remove", path)
        full = self.root / path
        full.unlink(missing_ok=True)
        self._remove_empty(full.parent)

    def _remove_empty(self, folder: Path) -> None:
        # Up to the top folder (raw/, projects/, ...), which stays.
        while folder.parent != self.root and folder != self.root:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                if folder.exists():
                    return
            folder = folder.parent

    def remove_manifests(self, project: str, version: str) -> int:
        """Delete the manifests of a project's version and its folder if left empty; return how many went."""
        folder = self.root / "projects" / safe_key(project, max_length=32) / version
        # The version's own manifest last: until it goes, the version is listed and a rerun can finish.
        names = sorted((p for p in folder.glob("manifest*.yaml") if is_manifest(p.name)),
                       key=lambda p: p.name == "manifest.yaml")
        for path in names:
            path.unlink(missing_ok=True)
        self._remove_empty(folder)
        return len(names)
