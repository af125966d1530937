"""FileCatalogReader: reads target catalogs from files, naming the row and field of any bad value."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from virtualobserver.adapters.catalogs.csv_table import read_csv_columns
from virtualobserver.domain.catalog import Catalog, CatalogSpec
from virtualobserver.domain.errors import CatalogError
from virtualobserver.services.ports import CatalogReader

__all__ = ["FileCatalogReader", "guess_format"]

_EXTENSIONS = {
    ".csv": "csv", ".ecsv": "ecsv", ".fits": "fits", ".fit": "fits", ".fits.gz": "fits",
    ".vot": "votable", ".xml": "votable", ".votable": "votable", ".h5": "hdf5", ".hdf5": "hdf5",
}


class FileCatalogReader(CatalogReader):
    """Reads CSV with the standard library (so errors carry line numbers) and other formats with astropy.

    CSV columns are typed as they are read (integers, numbers, else text; see
    :mod:`adapters.catalogs.csv_table`), as astropy types the columns of other formats.
    """

    def read(self, spec: CatalogSpec) -> Catalog:
        """Read, map columns to standard names and validate the catalog.

        Parameters
        ----------
        spec : CatalogSpec
            Path, format, column mapping.

        Returns
        -------
        Catalog
            Validated catalog.

        Raises
        ------
        CatalogError
            If the file is missing, unreadable, or a row is malformed.
        """
        path = Path(spec.path)
        if not path.is_file():
            raise CatalogError("catalog file not found", path=path)
        fmt = spec.format if spec.format != "auto" else guess_format(path)
        if fmt == "csv":
            # The column that becomes the name stays text; the others are typed as they are read.
            columns, row_numbers = read_csv_columns(path, text={spec.columns.get("name", "name")})
        else:
            columns, row_numbers = _read_astropy(path, fmt), None
        mapped = dict(columns)
        for standard, column in spec.columns.items():
            if column not in columns:
                raise CatalogError(f"mapped column {column!r} not in file (have: {', '.join(columns)})",
                                   path=path, field=standard)
            mapped[standard] = columns[column]
        return Catalog(mapped, name=str(path), row_numbers=row_numbers, epoch=spec.epoch)


def guess_format(path: Path) -> str:
    """Return the catalog format ``path``'s extension names (``csv``, ``ecsv``, ``fits``, ``votable``, ``hdf5``)."""
    name = path.name.lower()
    for extension, fmt in sorted(_EXTENSIONS.items(), key=lambda item: -len(item[0])):
        if name.endswith(extension):
            return fmt
    raise CatalogError("cannot tell the format from the extension; set catalog.format", path=path)


def _read_astropy(path: Path, fmt: str) -> dict[str, np.ndarray]:
    from astropy.table import Table

    kwargs = {"format": {"ecsv": "ascii.ecsv", "hdf5": "hdf5"}.get(fmt, fmt)}
    if fmt == "votable":
        kwargs["use_names_over_ids"] = True  # Gaia VOTables carry upper-case IDs but lower-case names
    try:
        table = Table.read(path, **kwargs)
    except Exception as exc:  # astropy raises many types for malformed files
        raise CatalogError(f"cannot read as {fmt}: {exc}", path=path) from None
    columns = {}
    for name in table.colnames:
        column = table[name]
        values = column.filled(np.nan) if hasattr(column, "filled") and column.dtype.kind == "f" else column
        if hasattr(values, "filled"):
            values = values.filled()
        columns[name] = np.asarray(values)
    return columns
