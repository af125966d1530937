"""Hdf5DataStore: raw data and lightcurve arrays in HDF5 files under the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from adapters.files.atomic import atomic_path
from domain.errors import DataError
from domain.lightcurve import LIGHTCURVE_COLUMNS, Lightcurve
from domain.naming import safe_key, shard
from domain.rawdata import RawData
from services.ports import DataStore

__all__ = ["Hdf5DataStore"]


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise DataError("h5py is required for the HDF5 data store (pip install h5py)") from exc
    return h5py


class Hdf5DataStore(DataStore):
    """One HDF5 file per source: raw data shared by survey and version, lightcurves per project version.

    Layout under ``root``::

        raw/<survey>/<version>/<xx>/<key>.h5            datasets = raw columns
        projects/<project>/<version>/<xx>/<key>.h5     one group per lightcurve

    where ``<key>`` is :func:`domain.naming.safe_key` of the source name (a
    name can never become a path) and ``<xx>`` spreads files over folders.
    Files are written atomically and are deterministic in content, so a
    rewrite after a crash gives the same arrays. Stored paths are relative to
    ``root``, so the data folder can move.

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _raw_path(self, raw: RawData) -> Path:
        key = safe_key(raw.source_name)
        return Path("raw") / safe_key(raw.survey, max_length=16) / raw.version / shard(key) / f"{key}.h5"

    def save_raw(self, raw: RawData) -> None:
        """Write the columns of ``raw`` atomically and set ``raw.file`` and ``raw.key``."""
        relative = self._raw_path(raw)
        with atomic_path(self.root / relative) as tmp:
            with _h5py().File(tmp, "w", track_order=True) as f:
                group = f.create_group("raw")
                _write_columns(group, raw.columns)
                group.attrs.update(survey=raw.survey, source_name=raw.source_name, version=raw.version,
                                   ra=raw.ra, dec=raw.dec)
        raw.file, raw.key = str(relative), "raw"

    def load_raw(self, raw: RawData) -> RawData:
        """Fill ``raw.columns`` from its file and return it."""
        raw.columns = self._read_group(raw.file, raw.key, f"raw data of {raw.source_name!r}")
        return raw

    def save_lightcurves(
        self, project: str, source_name: str, version: str, lightcurves: Sequence[Lightcurve]
    ) -> None:
        """Write all lightcurves of one source and version to one file, atomically."""
        key = safe_key(source_name)
        relative = Path("projects") / safe_key(project, max_length=32) / version / shard(key) / f"{key}.h5"
        with atomic_path(self.root / relative) as tmp:
            with _h5py().File(tmp, "w", track_order=True) as f:
                for lc in lightcurves:
                    group_name = f"{safe_key(lc.filter, max_length=16)}_season{lc.season}"
                    group = f.create_group(group_name)
                    _write_columns(group, {c: lc.columns[c] for c in LIGHTCURVE_COLUMNS})
                    group.attrs.update(survey=lc.survey, filter=lc.filter, season=lc.season,
                                       source_name=source_name, version=version)
                    lc.file, lc.key = str(relative), group_name

    def load_lightcurve(self, lightcurve: Lightcurve) -> Lightcurve:
        """Fill ``lightcurve.columns`` from its file and return it."""
        lightcurve.columns = self._read_group(lightcurve.file, lightcurve.key, f"lightcurve {lightcurve.label}")
        return lightcurve

    def _read_group(self, file: str | None, key: str | None, what: str) -> dict[str, np.ndarray]:
        if not file or not key:
            raise DataError(f"{what} has no file on record")
        path = self.root / file
        try:
            with _h5py().File(path, "r") as f:
                group = f[key]
                return {name: _read_dataset(group[name]) for name in group}
        except (OSError, KeyError) as exc:
            raise DataError(f"{what}: cannot read {path}#{key}: {exc}") from exc


def _write_columns(group, columns) -> None:
    for name, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind in "UO":
            values = np.char.encode(values.astype(str), "utf-8")
        group.create_dataset(name, data=values)


def _read_dataset(dataset) -> np.ndarray:
    values = dataset[()]
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    return values
