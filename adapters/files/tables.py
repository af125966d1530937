"""Write product tables to files (CSV, ECSV, FITS, VOTable, HDF5, SkyPortal CSV) atomically, and read them back.

Every format keeps values, units, the time frame and the provenance metadata, each in the place
its own standard gives them, so that other tools read them without help:

* CSV is plain CSV (``pandas.read_csv`` reads it): the unit is part of each column's name
  (``flux_ujy``, ``exptime_s``, ``ra_deg``; time columns name their scale, ``mjd_utc``, ``mjd_tdb``),
  and a sidecar ``<file>.csv.json`` holds the names, units, descriptions and the metadata.
* ECSV writes the time columns as astropy ``Time`` columns (format ``mjd``, the table's scale), so
  ``Table.read`` and ``TimeSeries.read`` give times on the right scale; the metadata in its YAML header.
* FITS: ``TUNIT``, the time keywords (``TIMESYS``, ``TIMEREF``, ``TREFPOS``, ``TIMEUNIT``,
  ``TIMEPIXR``, ``MJDREF`` and ``TCTYPn``/``TCUNIn`` on each time column), so that
  ``Table.read(path, astropy_native=True)`` gives ``Time`` columns; the rest as header keywords.
* VOTable 1.4: FIELD units, a ``TIMESYS`` element (time scale, reference position, MJD origin) that
  the time FIELDs reference, the other metadata as PARAMs.
* HDF5 through astropy's ``serialize_meta``.

Histograms as CF netCDF are in :mod:`adapters.files.cf_histograms`.

:func:`read_table` gives back what :func:`write_table` wrote.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError
from virtualobserver.services.product_tables import time_columns

__all__ = ["write_rows", "write_table", "read_table", "guess_format", "TABLE_FORMATS",
           "fits_unit_fixes", "restore_units", "csv_sidecar", "write_skyportal", "csv_header", "write_plain_csv"]

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
        if fmt == "csv":
            with atomic_path(csv_sidecar(path)) as sidecar:
                write_plain_csv(table, tmp, sidecar)
        elif fmt == "ecsv":
            _with_time_columns(table).write(tmp, format="ascii.ecsv", overwrite=True)
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
        if fmt == "csv":
            table = _read_plain_csv(path)
        elif fmt == "ecsv":
            table = _without_time_columns(Table.read(path, format="ascii.ecsv"))
        elif fmt == "fits":
            table = Table.read(path, format="fits", hdu=hdu, character_as_bytes=False, unit_parse_strict="silent")
            for key in [k for k in table.meta if re.fullmatch(r"TC(TYP|UNI)\d+|COMMENT|HISTORY|EXTNAME|EXTVER", k)]:
                table.meta.pop(key)
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


def csv_sidecar(path: str | Path) -> Path:
    """Return the sidecar of a plain CSV file: ``<file>.csv.json`` (names, units, descriptions, metadata)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _unit_word(unit) -> str:
    # "uJy" -> "ujy", "electron / s" -> "electron_s", "mas / yr" -> "mas_yr": safe in any column name.
    return re.sub(r"[^a-z0-9]+", "_", unit.to_string().lower()).strip("_")


def csv_header(table) -> list[str]:
    """Return the plain-CSV column names of a table: each name with its unit, times with their scale.

    Parameters
    ----------
    table : astropy.table.Table
        With units and (for times) a ``TIMESYS`` in its metadata.

    Returns
    -------
    list of str
        ``mjd_utc``/``peak_mjd_tdb`` for time columns, ``<name>_<unit>`` (``flux_ujy``,
        ``flux_electron_s``, ``exptime_s``, ``magerr_mag``) for columns with a unit whose name does
        not already end with it (``mag``, ``delta_mag`` stay), the name alone otherwise.
    """
    import astropy.units as u

    scale = str(table.meta.get("TIMESYS", "")).lower()
    times = set(time_columns(table)) if scale else set()
    header = []
    for name in table.colnames:
        unit = table[name].unit
        if name in times:
            header.append(f"{name}_{scale}")
        elif unit is not None and unit != u.dimensionless_unscaled and not name.endswith(_unit_word(unit)):
            header.append(f"{name}_{_unit_word(unit)}")
        else:
            header.append(name)
    return header


def _plain_meta(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value if isinstance(value, (str, int, float)) or value is None else str(value)


def write_plain_csv(table, path: str | Path, sidecar: str | Path) -> None:
    """Write a table as plain CSV (units in the column names) and its sidecar JSON.

    Parameters
    ----------
    table : astropy.table.Table
        Table with units and metadata.
    path : str or pathlib.Path
        The CSV file: one header line, then one line per row; NaN as ``nan``, masked values empty.
    sidecar : str or pathlib.Path
        The JSON file: ``columns`` (``name``, ``header``, ``unit``, ``dtype``, ``description``) and ``meta``.
    """
    header = csv_header(table)
    out = table.copy(copy_data=False)
    out.meta.clear()
    out.rename_columns(list(table.colnames), header)
    out.write(path, format="ascii.csv", overwrite=True)
    columns = [{"name": name, "header": head, "unit": None if table[name].unit is None else str(table[name].unit),
                "dtype": table[name].dtype.kind, "description": table[name].description or ""}
               for name, head in zip(table.colnames, header)]
    document = {"csv": Path(path).name, "columns": columns,
                "meta": {str(k): _plain_meta(v) for k, v in table.meta.items()}}
    Path(sidecar).write_text(json.dumps(document, indent=1), encoding="utf-8")


def _read_plain_csv(path: Path):
    from astropy.io.ascii import convert_numpy
    from astropy.table import Table

    sidecar = csv_sidecar(path)
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no sidecar {sidecar.name} with its units and metadata") from None
    types = {"U": str, "S": str, "i": np.int64, "u": np.int64, "f": np.float64, "b": bool}
    converters = {c["header"]: [convert_numpy(types.get(c["dtype"], str))] for c in document["columns"]}
    table = Table.read(path, format="ascii.csv", converters=converters, fill_values=[("", "0")],
                       fill_include_names=[c["header"] for c in document["columns"] if c["dtype"] in "iub"])
    table.rename_columns([c["header"] for c in document["columns"]], [c["name"] for c in document["columns"]])
    for column in document["columns"]:
        table[column["name"]].unit = column["unit"]
        table[column["name"]].description = column["description"] or None
    table.meta.update(document["meta"])
    return table


def _with_time_columns(table):
    """Return a copy whose time columns are astropy ``Time`` on the table's ``TIMESYS`` (masked where NaN)."""
    from astropy.time import Time

    scale = str(table.meta.get("TIMESYS", "")).lower()
    out = table.copy(copy_data=False)
    if not scale:
        return out
    for name in time_columns(table):
        values = np.ma.masked_invalid(np.asarray(table[name], dtype=np.float64))
        time = Time(values if values.mask.any() else values.data, format="mjd", scale=scale)
        time.info.description = table[name].description
        out[name] = time
    return out


def _without_time_columns(table):
    """Turn ``Time`` columns back into MJD columns in days (NaN where masked) on their own scale."""
    import astropy.units as u
    from astropy.table import Column
    from astropy.time import Time

    for name in list(table.colnames):
        column = table[name]
        if isinstance(column, Time):
            mjd = np.ma.filled(np.ma.asarray(column.mjd, dtype=np.float64), np.nan)
            table[name] = Column(mjd, unit=u.d, description=column.info.description)
    return table


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


def table_hdu(table, extra: dict | None = None, time_names=None):
    """Return a binary-table HDU of ``table`` with every unit kept and ``extra`` header keywords.

    Parameters
    ----------
    table : astropy.table.Table
        Table with units and metadata.
    extra : dict, optional
        More header keywords (values or ``(value, comment)``).
    time_names : sequence of str, optional
        The time columns (default: ``mjd`` and ``*_mjd`` in days). With a ``TIMESYS``, each gets
        ``TCTYPn`` (the scale) and ``TCUNIn``, and the header an ``MJDREF`` of 0 unless ``extra``
        gives a reference time.

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
    extra = dict(extra or {})
    scale = str(extra.get("TIMESYS", table.meta.get("TIMESYS", ""))).upper()
    if scale:
        # The FITS time-coordinate keywords (FITS 4.0, section 9): astropy reads these columns as Time.
        for name in time_columns(table) if time_names is None else time_names:
            number = table.colnames.index(name) + 1
            hdu.header[f"TCTYP{number}"] = (scale, "time scale of this column")
            hdu.header[f"TCUNI{number}"] = ("d", "time unit of this column")
        if not {"MJDREF", "JDREF"} & set(extra):
            extra["MJDREF"] = (0.0, "[d] times are MJD themselves")
    for key, value in extra.items():
        hdu.header[key] = value
    return hdu


#: ID of the VOTable TIMESYS element that the time FIELDs reference.
_TIMESYS_ID = "time_frame"


def _votable(table):
    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Param, TimeSys

    votable = from_table(table)
    votable.version = "1.4"  # the first with TIMESYS
    resource_table = votable.get_first_table()
    scale = str(table.meta.get("TIMESYS", ""))
    in_timesys = ()
    if scale:
        # VOTable 1.4's TIMESYS: scale, reference position and origin (MJD: JD 2400000.5) of the times.
        votable.resources[0].time_systems.append(TimeSys(
            ID=_TIMESYS_ID, timescale=scale.upper(), timeorigin="MJD-origin",
            refposition=str(table.meta.get("TREFPOS", "TOPOCENTER")).upper()))
        times = set(time_columns(table))
        for field in resource_table.fields:
            if field.name in times:
                field.ref = _TIMESYS_ID
        in_timesys = ("TIMESYS", "TREFPOS")
    for key, value in table.meta.items():
        # PARAMs keep each metadata value with its type; astropy drops table.meta when writing VOTable.
        if key in in_timesys:
            continue
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
    import astropy.units as u
    from astropy.io.votable import parse

    votable = parse(str(path))
    resource_table = votable.get_first_table()
    table = resource_table.to_table(use_names_over_ids=True)
    for column in table.columns.values():
        # VOTable 1.4 parses units as VOUnit, whose "electron" is not astropy's: parse the written text again.
        if column.unit is not None:
            column.unit = u.Unit(column.unit.to_string(), parse_strict="silent")
    for param in resource_table.params:
        value = param.value
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        table.meta[param.name] = value.item() if isinstance(value, np.generic) else value
    for timesys in votable.iter_timesys():
        if timesys.ID == _TIMESYS_ID:
            table.meta.update(TIMESYS=timesys.timescale, TREFPOS=timesys.refposition)
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


def write_skyportal(table, path: str | Path) -> int:
    """Write a SkyPortal photometry table as plain CSV (atomically); return the number of rows.

    Parameters
    ----------
    table : astropy.table.Table
        From :func:`services.product_tables.skyportal_table`: SkyPortal's own column names (the
        flux unit follows from ``zp`` and ``magsys``, so no unit goes into the names).
    path : str or pathlib.Path
        Output ``.csv`` file.

    Returns
    -------
    int
        Rows written.
    """
    out = table.copy(copy_data=False)
    out.meta.clear()
    with atomic_path(Path(path)) as tmp:
        out.write(tmp, format="ascii.csv", overwrite=True)
    return len(table)
