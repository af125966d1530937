"""Target catalogs: standard columns, column mapping and row selection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from virtualobserver.domain.catalog_columns import suggest_mapping
from virtualobserver.domain.errors import CatalogError
from virtualobserver.domain.selection import evaluate_selection
from virtualobserver.domain.source import Source

__all__ = ["Catalog", "CatalogSpec", "STANDARD_COLUMNS", "REQUIRED_COLUMNS"]

#: Standard column names and whether they are required.
STANDARD_COLUMNS = ("name", "ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax")
REQUIRED_COLUMNS = ("name", "ra", "dec")
#: Longest source name: database indexes hold at most ~2.7 kB per key, and no catalog needs more.
MAX_NAME_LENGTH = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CatalogSpec:
    """Where a catalog is and how to read it.

    Parameters
    ----------
    path : str
        File path (absolute, or resolved against the configuration file).
    format : str
        ``"auto"`` (from the extension), ``"csv"``, ``"ecsv"``, ``"fits"``,
        ``"votable"`` or ``"hdf5"``.
    columns : mapping
        Standard name -> name in the file, for columns named differently
        (e.g. ``{"name": "source_id", "mag": "phot_g_mean_mag"}``).
    selection : str
        Selection expression over standard or file column names.
    epoch : float, optional
        Julian year of the catalog positions (Gaia DR3: 2016.0).
    """

    path: str
    format: str = "auto"
    columns: Mapping[str, str] = field(default_factory=dict)
    selection: str = ""
    epoch: float | None = None


class Catalog:
    """A table of targets with standard columns.

    Invariants: ``name``, ``ra`` and ``dec`` exist; names are unique and
    non-empty; ra is in [0, 360) and dec in [-90, 90]. Other file columns are
    kept under their own names so selections can use them.

    Parameters
    ----------
    columns : mapping of str to array_like
        Columns by standard name (plus any extra columns).
    name : str
        Catalog name for messages (usually the file path).
    row_numbers : sequence of int, optional
        Row (line) number in the file of each row, for error messages;
        by default rows are numbered from 1.
    epoch : float, optional
        Julian year of the positions, given to every source.
    """

    def __init__(self, columns: Mapping[str, Sequence], name: str = "catalog",
                 row_numbers: Sequence[int] | None = None, epoch: float | None = None):
        self.name = name
        self.epoch = epoch
        self.columns = {k: np.asarray(v) for k, v in columns.items()}
        n = len(next(iter(self.columns.values()), []))
        self.row_numbers = np.asarray(row_numbers) if row_numbers is not None else np.arange(1, n + 1)
        for required in REQUIRED_COLUMNS:
            if required not in self.columns:
                raise CatalogError(f"missing required column (have: {', '.join(self.columns)}); "
                                   + _how_to_map(required, list(self.columns)), path=name, field=required)
        for column, values in self.columns.items():
            if values.dtype.kind == "S" or column == "name":
                self.columns[column] = self._decoded(column)
        self.columns["name"] = np.array([n.strip() for n in self.columns["name"]], dtype=object)
        for column in STANDARD_COLUMNS[1:]:
            if column in self.columns:
                self.columns[column] = self._as_float(column)
        self._validate()

    @classmethod
    def from_table(cls, table, columns: Mapping[str, str] | None = None, *, name: str = "table",
                   epoch: float | None = None, selection: str = "") -> "Catalog":
        """Return the catalog of an astropy ``Table`` or ``QTable`` (an astroquery result is one).

        Columns with units are converted to the catalog's (ra, dec in deg; pmra, pmdec in mas/yr;
        parallax in mas), so a table in radians or arcsec/yr reads right; masked values become NaN
        in number columns.

        Parameters
        ----------
        table : astropy.table.Table
            The targets, e.g. ``Gaia.launch_job(adql).get_results()``.
        columns : mapping, optional
            Standard name -> column of the table (e.g. ``{"name": "source_id", "mag": "phot_g_mean_mag"}``).
        name : str
            Catalog name for messages.
        epoch : float, optional
            Julian year of the positions (Gaia DR3: 2016.0).
        selection : str
            Selection expression over standard or table column names.

        Returns
        -------
        Catalog
            The validated (and selected) catalog.

        Raises
        ------
        CatalogError
            If a mapped column is missing, a unit does not convert, or a row is malformed.

        Examples
        --------
        >>> from astropy.table import Table
        >>> t = Table({"source_id": [1, 2], "ra": [10.0, 11.0], "dec": [-5.0, 5.0]})
        >>> len(Catalog.from_table(t, {"name": "source_id"}, selection="dec > 0"))
        1
        """
        values = {column: _table_column(table[column], column, name) for column in table.colnames}
        mapped = dict(values)
        for standard, column in (columns or {}).items():
            if column not in values:
                raise CatalogError(f"mapped column {column!r} not in the table (have: {', '.join(values)})",
                                   path=name, field=standard)
            mapped[standard] = _table_column(table[column], standard, name)
        catalog = cls(mapped, name=name, epoch=epoch)
        return catalog.select(selection) if selection else catalog

    def __len__(self) -> int:
        return int(self.columns["name"].size)

    def _decoded(self, column: str) -> np.ndarray:
        # FITS and HDF5 store text as bytes: str(b'SN2018hmx') is "b'SN2018hmx'", a name no one would
        # type, which hides an empty name or a control character from the checks behind this.
        values = self.columns[column]
        out = np.empty(values.size, dtype=object)
        for i, value in enumerate(values.tolist()):
            if isinstance(value, (bytes, bytearray, np.bytes_)):
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    raise CatalogError(f"{bytes(value)[:40]!r} is not UTF-8 text", path=self.name,
                                       row=int(self.row_numbers[i]), field=column) from None
            out[i] = value if isinstance(value, str) or column != "name" else str(value)
        return out

    def _as_float(self, column: str) -> np.ndarray:
        values = self.columns[column]
        if values.dtype.kind in "biuf":  # already numbers (typed readers): no loop over the rows
            return values.astype(float, copy=False)
        out = np.empty(values.size, dtype=float)
        for i, value in enumerate(values):
            try:
                out[i] = np.nan if value is None or (isinstance(value, str) and not value.strip()) else float(value)
            except (TypeError, ValueError):
                raise CatalogError(f"{str(value)!r} is not a number", path=self.name,
                                   row=int(self.row_numbers[i]), field=column) from None
        return out

    def _validate(self) -> None:
        names, ra, dec = self.columns["name"], self.columns["ra"], self.columns["dec"]
        # NUL cannot be stored (PostgreSQL text) and control characters garble every listing and log.
        control = np.fromiter((_CONTROL.search(n) is not None for n in names), dtype=bool, count=names.size)
        checks = (
            (names == "", "name", "empty name"),
            (control, "name", "name contains a control character (NUL, tab, newline, ...)"),
            (np.fromiter((len(n) > MAX_NAME_LENGTH for n in names), dtype=bool, count=names.size), "name",
             f"name longer than {MAX_NAME_LENGTH} characters"),
            (~np.isfinite(ra) | (ra < 0) | (ra >= 360), "ra", "ra must be in [0, 360) degrees"),
            (~np.isfinite(dec) | (dec < -90) | (dec > 90), "dec", "dec must be in [-90, 90] degrees"),
        )
        for bad, column, message in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                value = self.columns[column][i]
                value = value.item() if isinstance(value, np.generic) else value  # 400.0, not np.float64(400.0)
                raise CatalogError(f"{message}, got {value!r}",
                                   path=self.name, row=int(self.row_numbers[i]), field=column)
        # A set of the names, not np.unique of them as fixed-width text: one long name would make
        # that copy (4 bytes a character, every row as wide as the longest) gigabytes.
        if len(set(names.tolist())) != names.size:
            seen: dict[str, int] = {}
            for i, name in enumerate(names.tolist()):
                if name in seen:
                    raise CatalogError(f"duplicate name {name!r} (also row {self.row_numbers[seen[name]]})",
                                       path=self.name, row=int(self.row_numbers[i]), field="name")
                seen[name] = i

    def select(self, expression: str) -> "Catalog":
        """Return the rows for which ``expression`` is true.

        Parameters
        ----------
        expression : str
            Selection such as ``"mag < 18 and dec > -30"``; empty selects all.

        Returns
        -------
        Catalog
            A new catalog with the selected rows.
        """
        mask = evaluate_selection(expression, self.columns, len(self))
        # Every row selected (no selection): share the columns instead of copying the whole catalog.
        keep = slice(None) if mask.all() else mask
        return self._view(self.row_numbers[keep], {k: v[keep] for k, v in self.columns.items()})

    def with_columns(self, names: Sequence[str]) -> "Catalog":
        """Return the same rows with only the columns named (those present), sharing their arrays.

        A run needs only the standard columns once the selection is made; a wide catalog (a Gaia
        file has dozens of columns) would otherwise stay whole in memory for the whole run.

        Parameters
        ----------
        names : sequence of str
            Columns to keep.

        Returns
        -------
        Catalog
            A new catalog over the same arrays.
        """
        return self._view(self.row_numbers, {k: v for k, v in self.columns.items() if k in names})

    def _view(self, row_numbers: np.ndarray, columns: dict[str, np.ndarray]) -> "Catalog":
        # Rows and columns of this validated catalog: nothing to convert or check again.
        view = Catalog.__new__(Catalog)
        view.name, view.epoch, view.row_numbers, view.columns = self.name, self.epoch, row_numbers, columns
        return view

    def sources(self, project: str | None = None, start: int = 0, stop: int | None = None) -> list[Source]:
        """Return one :class:`Source` per row of ``start:stop``.

        Making sources a slice at a time keeps memory flat for a large catalog:
        only the columns stay in memory, not an object per row.

        Parameters
        ----------
        project : str, optional
            Project name to attach.
        start, stop : int, optional
            Row range (default: every row).

        Returns
        -------
        list of Source
            Sources in catalog order.
        """
        c = self.columns
        optional = {k: c.get(k) for k in STANDARD_COLUMNS[3:]}
        return [
            Source(c["name"][i], c["ra"][i], c["dec"][i],
                   **{k: (v[i] if v is not None else None) for k, v in optional.items()},
                   project=project, epoch=self.epoch)
            for i in range(*slice(start, stop).indices(len(self)))
        ]

    def batches(self, size: int, project: str | None = None, limit: int | None = None):
        """Yield lists of at most ``size`` sources, in catalog order, made one batch at a time.

        Parameters
        ----------
        size : int
            Sources per batch.
        project : str, optional
            Project name to attach.
        limit : int, optional
            Stop after the first ``limit`` rows.

        Yields
        ------
        list of Source
            One batch.
        """
        end = len(self) if limit is None else min(limit, len(self))
        for start in range(0, end, size):
            yield self.sources(project, start, min(start + size, end))


def _how_to_map(role: str, names: list[str]) -> str:
    """Name the configuration key that maps a file's column to ``role``, with the columns it likely means."""
    suggested = suggest_mapping(names)
    if role in suggested:
        mapping = ", ".join(f"{k}: {v}" for k, v in suggested.items())
        return (f"set catalog.columns.{role} to the file's column, e.g. catalog.columns: {{{mapping}}} "
                "(or let `vo init CATALOG` write the configuration)")
    return (f"set catalog.columns.{role} to the file's column of the {_ROLE_WORDS[role]} "
            "(or let `vo init CATALOG` find it)")


_ROLE_WORDS = {"name": "source names", "ra": "right ascensions (degrees)", "dec": "declinations (degrees)"}


#: Units of the standard columns; a table column with another unit is converted to these.
_STANDARD_UNITS = {"ra": "deg", "dec": "deg", "pmra": "mas / yr", "pmdec": "mas / yr", "parallax": "mas"}


def _table_column(column, standard: str, name: str) -> np.ndarray:
    unit = getattr(column, "unit", None)
    wanted = _STANDARD_UNITS.get(standard)
    if unit is not None and wanted is not None and str(unit) != wanted:
        try:
            factor = unit.to(wanted)
        except Exception as exc:  # astropy's UnitConversionError, or a unit it could not parse
            raise CatalogError(f"unit {unit} does not convert to {wanted} ({exc})", path=name,
                               field=standard) from None
        column = np.asarray(column, dtype=float) * factor
    mask = getattr(column, "mask", None)
    data = np.ma.getdata(getattr(column, "value", column))  # a Quantity's numbers, a masked column's data
    if mask is not None and np.any(mask):
        data = np.array(data, dtype=float if data.dtype.kind in "biuf" else object)  # room for the NaN/None
        data[np.asarray(mask)] = np.nan if data.dtype.kind == "f" else None
    return data
