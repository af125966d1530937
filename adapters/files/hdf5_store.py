"""Hdf5DataStore: raw data and lightcurve arrays in HDF5 files under the data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from adapters.files.atomic import atomic_path
from domain.errors import DataError
from domain.lightcurve import Lightcurve
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

        raw/<survey>/<version>/<xx>/<key>.h5            dataset "raw": a table of the raw columns
        projects/<project>/<version>/<xx>/<key>.h5     one table dataset per lightcurve

    where ``<key>`` is :func:`domain.naming.safe_key` of the source name (a
    name can never become a path) and ``<xx>`` spreads files over folders.
    Each table is one compound dataset (one column per field), which writes
    and reads several times faster than one dataset per column.
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
                dataset = f.create_dataset("raw", data=_to_table(raw.columns))
                dataset.attrs.update(survey=raw.survey, source_name=raw.source_name, version=raw.version,
                                     ra=raw.ra, dec=raw.dec, meta=_dump_meta(raw))
                for name, image in getattr(raw, "images", {}).items():
                    f.create_dataset(f"images/{safe_key(name, max_length=32)}", data=image).attrs["name"] = name
        raw.file, raw.key = str(relative), "raw"

    def load_raw(self, raw: RawData) -> RawData:
        """Fill ``raw.columns``, ``raw.meta`` and ``raw.images`` from its file and return it."""
        what = f"raw data of {raw.source_name!r}"
        if not raw.file or not raw.key:
            raise DataError(f"{what} has no file on record")
        path = self.root / raw.file
        try:
            with _h5py().File(path, "r") as f:
                dataset = f[raw.key]
                raw.columns = _from_table(dataset[()])
                raw.meta = json.loads(dataset.attrs.get("meta", "{}"))
                images = f.get("images", {})
                raw.images = {images[k].attrs.get("name", k): images[k][()] for k in images}
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{what}: cannot read {path}#{raw.key}: {exc}") from exc
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
                    name = f"{safe_key(lc.filter, max_length=16)}_season{lc.season}"
                    dataset = f.create_dataset(name, data=_to_table(lc.columns))
                    dataset.attrs.update(survey=lc.survey, filter=lc.filter, season=lc.season,
                                         time_scale=getattr(lc, "time_scale", "utc"),
                                         source_name=source_name, version=version)
                    lc.file, lc.key = str(relative), name

    def _scores_path(self, project: str, source_name: str, version: str) -> Path:
        key = safe_key(source_name)
        return Path("analysis") / safe_key(project, max_length=32) / version / shard(key) / f"{key}.h5"

    def save_epoch_scores(self, project: str, source_name: str, version: str,
                          tables: dict[str, dict[str, np.ndarray]]) -> None:
        """Write the per-epoch analysis products of one source, one table per lightcurve key, atomically."""
        with atomic_path(self.root / self._scores_path(project, source_name, version)) as tmp:
            with _h5py().File(tmp, "w", track_order=True) as f:
                for name, columns in tables.items():
                    f.create_dataset(name, data=_to_table(columns))

    def load_epoch_scores(self, project: str, source_name: str, version: str) -> dict[str, dict[str, np.ndarray]]:
        """Read the per-epoch analysis products of one source (empty if none were saved)."""
        path = self.root / self._scores_path(project, source_name, version)
        if not path.is_file():
            return {}
        try:
            with _h5py().File(path, "r") as f:
                return {name: _from_table(f[name][()]) for name in f}
        except OSError as exc:
            raise DataError(f"epoch scores of {source_name!r}: cannot read {path}: {exc}") from exc

    def load_lightcurve(self, lightcurve: Lightcurve) -> Lightcurve:
        """Fill ``lightcurve.columns`` from its file and return it."""
        return self.load_lightcurves([lightcurve])[0]

    def load_lightcurves(self, lightcurves: Sequence[Lightcurve]) -> list[Lightcurve]:
        """Fill the columns of several lightcurves, opening each file once."""
        by_file: dict[str | None, list[Lightcurve]] = {}
        for lc in lightcurves:
            by_file.setdefault(lc.file, []).append(lc)
        for file, group in by_file.items():
            tables = self._read_tables(file, [lc.key for lc in group], f"lightcurve {group[0].label}")
            for lc, table in zip(group, tables):
                lc.columns = table
        return list(lightcurves)

    def _read_tables(self, file: str | None, keys: list[str | None], what: str) -> list[dict[str, np.ndarray]]:
        if not file or not all(keys):
            raise DataError(f"{what} has no file on record")
        path = self.root / file
        try:
            with _h5py().File(path, "r") as f:
                return [_from_table(f[key][()]) for key in keys]
        except (OSError, KeyError) as exc:
            raise DataError(f"{what}: cannot read {path}#{','.join(map(str, keys))}: {exc}") from exc


def _dump_meta(raw: RawData) -> str:
    try:
        return json.dumps(getattr(raw, "meta", {}), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"raw data of {raw.source_name!r} ({raw.survey}): metadata is not plain JSON: {exc}") from exc


def _to_table(columns) -> np.ndarray:
    arrays = []
    for values in columns.values():
        values = np.asarray(values)
        if values.dtype.kind in "UO":
            values = np.char.encode(values.astype(str), "utf-8")
        arrays.append(values)
    table = np.empty(len(arrays[0]) if arrays else 0,
                     dtype=[(name, a.dtype) for name, a in zip(columns, arrays)])
    for name, values in zip(columns, arrays):
        table[name] = values
    return table


def _from_table(table: np.ndarray) -> dict[str, np.ndarray]:
    columns = {}
    for name in table.dtype.names:
        values = np.ascontiguousarray(table[name])
        if values.dtype.kind == "S":
            values = np.char.decode(values, "utf-8")
        columns[name] = values
    return columns
