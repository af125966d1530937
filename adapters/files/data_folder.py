"""ProductFolder: the doctor's view of the product files under a data folder (HDF5 and netCDF)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path, PurePosixPath
from typing import Sequence

from virtualobserver.adapters.files.atomic import is_temporary
from virtualobserver.adapters.files.batch_tables import content_problem, h5py_module
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.manifest_store import is_manifest, manifest_problem
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.naming import safe_key, shard
from virtualobserver.domain.rawdata import RawData
from virtualobserver.services.doctor_ports import DataFolder

__all__ = ["ProductFolder", "PRODUCT_FOLDERS"]

#: Sub-folders that hold products made by runs (the raw-answer cache, the database and manifests are not).
PRODUCT_FOLDERS = ("raw", "projects", "analysis", "histograms", "stamps")
_SUFFIXES = (".h5", ".nc")
# Keys of tables in a batch file: rows start:stop of a dataset (see adapters/files/batch_tables.py).
_SLICE = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<start>\d+):(?P<stop>\d+)\]$")


class ProductFolder(DataFolder):
    """Product files under ``root``, by path relative to it; quarantined files go to ``root/quarantine/<time>/``.

    The paths follow the layout of ``Hdf5DataStore`` and ``NetCdfHistogramStore``
    (a test keeps them in step).

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._quarantine = self.root / "quarantine" / time.strftime("%Y%m%dT%H%M%S")

    def files(self) -> list[str]:
        """Return every product file and temporary file under the product folders, sorted."""
        found = []
        for top in (*PRODUCT_FOLDERS, "cache"):
            for folder, _, names in os.walk(self.root / top):
                for name in names:
                    # In the raw-answer cache only what a killed download left counts: answers are not records.
                    if is_temporary(name) or (top != "cache" and name.endswith(_SUFFIXES)):
                        found.append(Path(folder, name).relative_to(self.root).as_posix())
        return sorted(found)

    def manifests(self) -> list[str]:
        """Return every version manifest under ``projects/``, sorted."""
        found = []
        for folder, _, names in os.walk(self.root / "projects"):
            found.extend(Path(folder, name).relative_to(self.root).as_posix() for name in names if is_manifest(name))
        return sorted(found)

    def is_temporary(self, path: str) -> bool:
        """Whether ``path`` is a temporary file of an atomic write."""
        return is_temporary(PurePosixPath(path).name)

    def lightcurve_path(self, project: str, version: str, source_name: str) -> str:
        """Return the lightcurve file of a source (as ``Hdf5DataStore.save_lightcurves`` names it)."""
        key = safe_key(source_name)
        return f"projects/{safe_key(project, max_length=32)}/{version}/{shard(key)}/{key}.h5"

    def lightcurve_files(self, project: str) -> list[str]:
        """Return the lightcurve files of ``project`` (all versions)."""
        prefix = f"projects/{safe_key(project, max_length=32)}/"
        return [p for p in self.files() if p.startswith(prefix) and p.endswith(".h5") and not self.is_temporary(p)]

    def scores_path(self, project: str, version: str, source_name: str) -> str:
        """Return the epoch-score file of a source (as ``Hdf5DataStore.save_epoch_scores`` names it)."""
        key = safe_key(source_name)
        return f"analysis/{safe_key(project, max_length=32)}/{version}/{shard(key)}/{key}.h5"

    def histogram_path(self, key: str) -> str:
        """Return the netCDF file of a histogram part key."""
        return NetCdfHistogramStore.relative_path(key).as_posix()

    def exists(self, path: str) -> bool:
        """Whether a file ``path`` exists."""
        return bool(path) and (self.root / path).is_file()

    def problem(self, path: str, keys: Sequence[str] | None = None) -> str | None:
        """Return ``"missing"``, why the file cannot be read whole, or None if it reads.

        The datasets named in ``keys`` (HDF5: whole datasets, or ``name[start:stop]`` rows of
        a batch file), every dataset when ``keys`` is None, or every variable (netCDF) are read
        in full, so a file cut short or with damaged chunks is found, not only a bad header. A batch
        file, named by the hash of its content, is also hashed again: a changed byte that still
        reads is found as well.
        """
        full = self.root / path
        if not path or not full.is_file():
            return "missing"
        try:
            if path.endswith(".nc"):
                NetCdfHistogramStore(self.root).load(path[: -len(".nc")])
            elif path.endswith(".yaml"):
                return manifest_problem(full)
            else:
                self._read_hdf5(full, keys)
                changed = content_problem(full)
                if changed:
                    return changed
        except (DataError, OSError, KeyError, ValueError, RuntimeError) as exc:
            return " ".join(str(exc).split())[:300] or type(exc).__name__
        return None

    @staticmethod
    def _read_hdf5(full: Path, keys: Sequence[str] | None) -> None:
        h5py = h5py_module()

        with h5py.File(full, "r") as f:
            if keys is None:
                f.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
                return
            for key in keys:
                match = _SLICE.match(key)
                name = match["name"] if match else key
                if name not in f:
                    raise KeyError(f"no dataset {name!r}")
                rows = f[name][int(match["start"]):int(match["stop"])] if match else f[name][()]
                if match and len(rows) != int(match["stop"]) - int(match["start"]):
                    raise KeyError(f"dataset {name!r} has no rows {match['start']}:{match['stop']}")

    def quarantine(self, path: str) -> str:
        """Move ``path`` to ``quarantine/<time>/<path>`` and return that path (relative to the root)."""
        target = self._quarantine / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.root / path, target)
        return target.relative_to(self.root).as_posix()

    def read_raw(self, path: str) -> list[RawData]:
        """Return the raw-data records a raw file describes (arrays not kept); empty if it is not readable.

        A per-source file carries survey, source, version and position as attributes; a batch
        file (``raw/<survey>/<version>/batches/...``) names its sources in its index, and its
        survey and version come from its folder (the survey as its safe name: the caller maps it).
        """
        h5py = h5py_module()

        try:
            with h5py.File(self.root / path, "r") as f:
                if "index" not in f:
                    dataset = f["raw"]
                    a = {k: dataset.attrs[k] for k in ("survey", "source_name", "version", "ra", "dec")}
                    raw = RawData(str(a["survey"]), str(a["source_name"]), str(a["version"]), ra=float(a["ra"]),
                                  dec=float(a["dec"]))
                    raw.num_epochs, raw.file, raw.key = int(dataset.shape[0]), path, "raw"
                    return [raw]
                index = f["index"][()]
        except (OSError, KeyError):
            return []
        parts = path.split("/")
        found = []
        for row in index:
            key, name = _text(row["key"]), _text(row["source_name"])
            survey = _text(row["survey"]) if "survey" in index.dtype.names else parts[1]
            raw = RawData(survey, name, parts[2],
                          ra=float(row["ra"]) if "ra" in index.dtype.names else float("nan"),
                          dec=float(row["dec"]) if "dec" in index.dtype.names else float("nan"))
            match = _SLICE.match(key)
            raw.num_epochs = int(match["stop"]) - int(match["start"]) if match else 0
            raw.file, raw.key = path, key
            found.append(raw)
        return found

    def read_lightcurves(self, path: str) -> list[Lightcurve]:
        """Return the lightcurves of a lightcurve file (columns loaded), or an empty list if unreadable.

        Batch files without a survey in their index give lightcurves with ``survey`` empty
        (the caller knows it from the version).
        """
        h5py = h5py_module()

        found = []
        try:
            with h5py.File(self.root / path, "r") as f:
                if "index" in f:
                    index = f["index"][()]
                    names = index.dtype.names
                    for row in index:
                        lc = Lightcurve(_text(row["survey"]) if "survey" in names else "", _text(row["filter"]),
                                        int(row["season"]), source_name=_text(row["source_name"]),
                                        version=path.split("/")[2],
                                        time_scale=_text(row["time_scale"]) if "time_scale" in names else "utc")
                        lc.file, lc.key = path, _text(row["key"])
                        found.append(lc)
                else:
                    for name in f:
                        a = f[name].attrs
                        lc = Lightcurve(str(a["survey"]), str(a["filter"]), int(a["season"]),
                                        source_name=str(a["source_name"]), version=str(a["version"]),
                                        time_scale=str(a.get("time_scale", "utc")))
                        lc.file, lc.key = path, name
                        found.append(lc)
            # The store reads the columns as a run does, which also recomputes the summary values.
            return Hdf5DataStore(self.root).load_lightcurves(found)
        except (OSError, KeyError, ValueError, DataError):
            return []


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
