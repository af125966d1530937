"""Write exported rows and histograms to files (ECSV, CSV, FITS, VOTable; netCDF), atomically."""

from __future__ import annotations

from pathlib import Path

from adapters.files.atomic import atomic_path
from domain.errors import DataError

__all__ = ["write_rows", "write_histograms"]

_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".vot": "votable", ".xml": "votable"}


def write_rows(rows: list[dict], path: str | Path) -> int:
    """Write rows as a table whose format follows the extension; return the number of rows.

    Parameters
    ----------
    rows : list of dict
        Rows with the same keys.
    path : str or pathlib.Path
        ``.ecsv``, ``.csv``, ``.fits`` or ``.vot``/``.xml``.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    DataError
        For an unknown extension.
    """
    from astropy.table import Table

    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown table format (use one of {', '.join(sorted(_FORMATS))})")
    columns = list(rows[0]) if rows else ["source"]
    table = Table(rows=[[_plain(r[c]) for c in columns] for r in rows] or None, names=columns)
    with atomic_path(path) as tmp:
        table.write(tmp, format=fmt, overwrite=True)
    return len(rows)


def _plain(value):
    # Masked/None values become NaN or empty text so every column has one type.
    return float("nan") if value is None else value


def write_histograms(histograms, path: str | Path) -> None:
    """Write one Histograms to a netCDF file (atomically).

    Parameters
    ----------
    histograms : Histograms
        The merged histogram.
    path : str or pathlib.Path
        Output ``.nc`` file.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        histograms.to_dataset().to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
