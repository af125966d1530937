"""Write product tables to files (CSV, ECSV, FITS, VOTable, HDF5; netCDF histograms) atomically, and read them back.

Every format keeps values, units and the provenance metadata: ECSV and CSV in their YAML
header (the CSV is an ECSV with commas, so a spreadsheet or ``pandas.read_csv(comment="#")``
reads its rows and astropy reads everything), FITS in TUNIT and header keywords, VOTable in
FIELD units and PARAMs, HDF5 through astropy's ``serialize_meta``. :func:`read_table` gives
back what :func:`write_table` wrote.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from adapters.files.atomic import atomic_path
from domain.errors import DataError

__all__ = ["write_rows", "write_histograms", "write_table", "read_table", "guess_format", "TABLE_FORMATS",
           "fits_unit_fixes", "restore_units"]

_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".vot": "votable", ".xml": "votable"}
#: Table formats of ``vo export`` and the file extensions that name them.
TABLE_FORMATS = {"csv": (".csv",), "ecsv": (".ecsv",), "fits": (".fits", ".fit", ".fts"),
                 "votable": (".vot", ".votable", ".xml"), "hdf5": (".h5", ".hdf5", ".he5")}
_HDF5_PATH = "data"


def guess_format(path: str | Path) -> str:
    """Return the table format named by a file's extension.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file.

    Returns
    -------
    str
        ``csv``, ``ecsv``, ``fits``, ``votable`` or ``hdf5``.

    Raises
    ------
    DataError
        If the extension names no format.
    """
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in TABLE_FORMATS.items():
        if suffix in suffixes:
            return fmt
    known = ", ".join(s for suffixes in TABLE_FORMATS.values() for s in suffixes)
    raise DataError(f"{path}: cannot tell the format from the extension {suffix or '(none)'!r} "
                    f"(use --format, or one of {known})")


def write_table(table, path: str | Path, fmt: str | None = None) -> int:
    """Write an astropy table with its units and metadata, atomically; return the number of rows.

    Parameters
    ----------
    table : astropy.table.Table
        Table with units and (FITS-safe) metadata.
    path : str or pathlib.Path
        Output file.
    fmt : str, optional
        ``csv``, ``ecsv``, ``fits``, ``votable`` or ``hdf5`` (default: from the extension).

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    DataError
        For an unknown format.
    """
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt not in TABLE_FORMATS:
        raise DataError(f"unknown table format {fmt!r} (use one of {', '.join(TABLE_FORMATS)})")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # Units such as electron/s are kept in a form astropy reads back, so its warnings that
        # the FITS or VOUnit standards lack them would only alarm the user.
        warnings.simplefilter("ignore")
        if fmt in ("csv", "ecsv"):
            table.write(tmp, format="ascii.ecsv", delimiter="," if fmt == "csv" else " ", overwrite=True)
        elif fmt == "fits":
            from astropy.io import fits

            fits.HDUList([primary_hdu(table.meta), table_hdu(table)]).writeto(tmp, overwrite=True)
        elif fmt == "votable":
            _votable(table).to_xml(str(tmp))
        else:
            table.write(tmp, format="hdf5", path=_HDF5_PATH, serialize_meta=True, overwrite=True)
    return len(table)


def read_table(path: str | Path, fmt: str | None = None, *, hdu: int = 1):
    """Read a table written by :func:`write_table` (or one HDU of a lightcurve FITS file).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    fmt : str, optional
        Format (default: from the extension).
    hdu : int
        FITS only: the HDU to read.

    Returns
    -------
    astropy.table.Table
        Values, units (parsed leniently where a standard lacks one) and metadata as written;
        text columns as ``str`` with empty strings (not masked values) where the text was empty.
    """
    from astropy.table import Table

    path = Path(path)
    fmt = fmt or guess_format(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt in ("csv", "ecsv"):
            table = Table.read(path, format="ascii.ecsv")
        elif fmt == "fits":
            table = Table.read(path, format="fits", hdu=hdu, character_as_bytes=False, unit_parse_strict="silent")
            for key in ("COMMENT", "HISTORY", "EXTNAME", "EXTVER"):
                table.meta.pop(key, None)
        elif fmt == "votable":
            table = _read_votable(path)
        elif fmt == "hdf5":
            table = Table.read(path, format="hdf5", path=_HDF5_PATH)
        else:
            raise DataError(f"unknown table format {fmt!r} (use one of {', '.join(TABLE_FORMATS)})")
    restore_units(table)
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind == "S":
            table[name] = np.char.decode(np.asarray(column), "utf-8")
        elif column.dtype.kind == "U" and getattr(column, "mask", None) is not None and np.any(column.mask):
            table[name] = np.asarray(column.filled(""))
    return table


def restore_units(table) -> None:
    """Parse again, with astropy's own unit format, units a standard format could not name (e.g. electron/s).

    Parameters
    ----------
    table : astropy.table.Table
        Read from a file; changed in place.
    """
    import astropy.units as u

    for column in table.columns.values():
        if isinstance(column.unit, u.UnrecognizedUnit):
            column.unit = u.Unit(str(column.unit), parse_strict="silent")


def fits_unit_fixes(table) -> dict[int, str]:
    """Return TUNIT values (by column number, from 1) for units the FITS standard cannot name.

    Parameters
    ----------
    table : astropy.table.Table
        Table about to be written.

    Returns
    -------
    dict
        Column number -> unit in astropy's generic form (lightkurve and :func:`read_table` parse it).
    """
    fixes = {}
    for number, column in enumerate(table.columns.values(), start=1):
        if column.unit is None:
            continue
        try:
            column.unit.to_string("fits")
        except ValueError:
            fixes[number] = column.unit.to_string()
    return fixes


def primary_hdu(meta: dict):
    """Return a FITS primary HDU holding provenance keywords (never ``CREATOR``: see the lightkurve layout).

    Parameters
    ----------
    meta : dict
        Upper-case keys of at most eight characters, scalar values.

    Returns
    -------
    astropy.io.fits.PrimaryHDU
        Without data.
    """
    from astropy.io import fits

    hdu = fits.PrimaryHDU()
    for key, value in meta.items():
        if isinstance(value, (str, int, float, bool, np.integer, np.floating, np.bool_)):
            hdu.header[key] = value
    return hdu


def table_hdu(table, extra: dict | None = None):
    """Return a binary-table HDU of ``table`` with every unit kept and ``extra`` header keywords.

    Parameters
    ----------
    table : astropy.table.Table
        Table with units and metadata.
    extra : dict, optional
        More header keywords.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        The HDU.
    """
    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = fits.table_to_hdu(table)
    for number, unit in fits_unit_fixes(table).items():
        hdu.header[f"TUNIT{number}"] = unit
    for key, value in (extra or {}).items():
        hdu.header[key] = value
    return hdu


def _votable(table):
    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Param

    votable = from_table(table)
    resource_table = votable.get_first_table()
    for key, value in table.meta.items():
        # PARAMs keep each metadata value with its type; astropy drops table.meta when writing VOTable.
        if isinstance(value, (bool, np.bool_)):
            param = Param(votable, name=key, value=bool(value), datatype="boolean")
        elif isinstance(value, (int, np.integer)):
            param = Param(votable, name=key, value=int(value), datatype="long")
        elif isinstance(value, (float, np.floating)):
            param = Param(votable, name=key, value=float(value), datatype="double")
        elif isinstance(value, str):
            param = Param(votable, name=key, value=value, datatype="unicodeChar", arraysize="*")
        else:
            continue
        resource_table.params.append(param)
    return votable


def _read_votable(path: Path):
    from astropy.io.votable import parse

    resource_table = parse(str(path)).get_first_table()
    table = resource_table.to_table(use_names_over_ids=True)
    for param in resource_table.params:
        value = param.value
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        table.meta[param.name] = value.item() if isinstance(value, np.generic) else value
    return table


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
