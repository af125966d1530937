"""What a catalog file says about its columns (names, units, UCDs, numbers or text), for ``vo init``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virtualobserver.adapters.catalogs.csv_table import read_csv_columns
from virtualobserver.adapters.catalogs.files import guess_format
from virtualobserver.domain.catalog_columns import ColumnInfo
from virtualobserver.domain.errors import CatalogError

__all__ = ["CatalogDescription", "describe_catalog"]


@dataclass(frozen=True)
class CatalogDescription:
    """A catalog file's columns and their metadata.

    Attributes
    ----------
    format : str
        ``csv``, ``ecsv``, ``fits``, ``votable`` or ``hdf5``.
    columns : tuple of ColumnInfo
        One per column, in file order.
    rows : int
        Number of rows.
    epochs : dict
        Column name -> its single value, for columns that hold a reference epoch (UCD
        ``time.epoch`` or the name ``ref_epoch``) with the same finite value in every row.
    """

    format: str
    columns: tuple[ColumnInfo, ...]
    rows: int
    epochs: dict


def describe_catalog(path: str | Path) -> CatalogDescription:
    """Read a catalog file and describe its columns.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV (read with the project's own reader, so the types are those a run sees), ECSV,
        FITS, VOTable or HDF5 (read with astropy, keeping units and UCDs).

    Returns
    -------
    CatalogDescription
        Its format, columns and row count.

    Raises
    ------
    CatalogError
        If the file is missing, of an unknown extension or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError("catalog file not found", path=path)
    fmt = guess_format(path)
    if fmt == "csv":
        values, _ = read_csv_columns(path)
        infos = [ColumnInfo(name, numeric=v.dtype.kind in "iuf") for name, v in values.items()]
        units, ucds = {}, {}
    else:
        from astropy.table import Table

        kwargs = {"format": {"ecsv": "ascii.ecsv", "hdf5": "hdf5"}.get(fmt, fmt)}
        if fmt == "votable":
            kwargs["use_names_over_ids"] = True
        try:
            table = Table.read(path, **kwargs)
        except Exception as exc:  # astropy raises many types for malformed files
            raise CatalogError(f"cannot read as {fmt}: {exc}", path=path) from None
        values = {name: np.asarray(table[name]) for name in table.colnames}
        units = {name: str(table[name].unit) if table[name].unit is not None else "" for name in table.colnames}
        ucds = {name: str((table[name].meta or {}).get("ucd", "") or "") for name in table.colnames}
        infos = [ColumnInfo(name, unit=units[name], ucd=ucds[name],
                            numeric=values[name].dtype.kind in "iuf" and values[name].ndim == 1)
                 for name in table.colnames]
    rows = len(next(iter(values.values()), []))
    return CatalogDescription(fmt, tuple(infos), rows, _epochs(infos, values))


def _epochs(infos: list[ColumnInfo], values: dict) -> dict:
    found = {}
    for info in infos:
        if info.numeric and ("time.epoch" in info.words or info.key in ("ref_epoch", "epoch")):
            column = np.asarray(values[info.name], dtype=float)
            if column.size and np.isfinite(column).all() and (column == column[0]).all():
                found[info.name] = float(column[0])
    return found
