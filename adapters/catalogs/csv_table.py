"""Read a CSV catalog into typed numpy columns a block of rows at a time, keeping file line numbers.

Memory is what matters here: a catalog of 10⁵-10⁶ rows read as a list of rows holds one Python
string per cell (~60 bytes each, eight cells a row), several times the columns it becomes, and
the strings that stay (the names) pin the allocator's arenas of all the others, so the process
keeps that peak for the rest of the run. Converting each block of rows to numpy arrays as it is
read keeps only the columns (8 bytes a number) and a block of strings at a time.

Each column takes the narrowest type all its cells fit, as astropy's readers guess types:
integers (``int64``), then numbers (``float64``, empty cells NaN), else text (an object array of
stripped strings). Columns named in ``text`` (the one that becomes the source name) stay text,
so that ``007`` stays ``007`` and a 19-digit identifier keeps all its digits.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Collection

import numpy as np

from virtualobserver.domain.errors import CatalogError

__all__ = ["read_csv_columns"]

#: Rows converted at a time: the strings of one block (~2 MB for 4096 rows of 8 fields) are all
#: that is held besides the columns.
BLOCK_ROWS = 4096


class _Retype(Exception):
    """Columns held numbers for whole blocks and then text: read again with them as text."""

    def __init__(self, columns: set[str]):
        super().__init__(sorted(columns))
        self.columns = columns


def read_csv_columns(path: Path, text: Collection[str] = ()) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read a CSV file with a header line into typed columns.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file (UTF-8).
    text : collection of str
        Columns kept as text whatever they hold.

    Returns
    -------
    tuple
        Columns by header name, and the file line number of each row (``int64``).

    Raises
    ------
    CatalogError
        If the file is empty, unreadable or a row has the wrong number of fields (with its line number).
    """
    text = set(text)
    while True:
        try:
            return _read(path, text)
        except _Retype as retype:  # rare: a text cell after a block of numbers (one more pass)
            text |= retype.columns


def _read(path: Path, text: set[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    # Row numbers in errors are file line numbers, which is what a user opens an editor at.
    # utf-8-sig: a byte-order mark (Excel writes one) would otherwise stick to the first column's name,
    # invisibly ("missing column name (have: name, ...)").
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CatalogError("empty catalog file", path=path) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CatalogError(f"unreadable header: {exc}", path=path) from None
        if len(set(header)) != len(header):
            raise CatalogError(f"repeated column names in header {header}", path=path, row=1)
        columns = _Columns(header, text)
        rows, lines = [], []
        try:
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise CatalogError(f"expected {len(header)} fields, found {len(row)}",
                                       path=path, row=reader.line_num)
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) == BLOCK_ROWS:
                    columns.add(rows, lines)
                    rows, lines = [], []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CatalogError(f"unreadable line: {exc}", path=path, row=reader.line_num) from None
        columns.add(rows, lines)
    return columns.finish()


class _Columns:
    """Typed columns, built from blocks of rows."""

    def __init__(self, header: list[str], text: set[str]):
        self.header = header
        self.kinds = {h: "text" if h in text else "int" for h in header}
        self.blocks: dict[str, list[np.ndarray]] = {h: [] for h in header}
        self.lines: list[np.ndarray] = []
        self.retype: set[str] = set()

    def add(self, rows: list[list[str]], lines: list[int]) -> None:
        self.lines.append(np.array(lines, dtype=np.int64))
        for i, name in enumerate(self.header):
            if name in self.retype:
                continue
            kind, values = _convert([row[i].strip() for row in rows], self.kinds[name])
            if kind == "text" and self.kinds[name] != "text" and self.blocks[name]:
                # The text of the blocks before is gone: read on to find all such columns, then again.
                self.retype.add(name)
                self.blocks[name] = []
                continue
            self.kinds[name] = kind
            self.blocks[name].append(values)

    def finish(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        if self.retype:
            raise _Retype(self.retype)
        dtypes = {"int": np.int64, "float": np.float64, "text": object}
        # A column that turned from integers to numbers: the blocks of integers become numbers as
        # float() of their text would have (both round the same integer to the nearest double).
        columns = {name: np.concatenate(blocks, dtype=dtypes[self.kinds[name]])
                   for name, blocks in self.blocks.items()}
        return columns, np.concatenate(self.lines)


def _convert(cells: list[str], kind: str) -> tuple[str, np.ndarray]:
    """Return the narrowest kind at or after ``kind`` that every cell fits, and the cells as that type."""
    if kind == "int":
        try:
            return "int", np.array([int(cell) for cell in cells], dtype=np.int64)
        except (ValueError, OverflowError):
            kind = "float"
    if kind == "float":
        try:
            return "float", np.array([float(cell) if cell else np.nan for cell in cells], dtype=np.float64)
        except ValueError:
            kind = "text"
    values = np.empty(len(cells), dtype=object)
    values[:] = cells
    return "text", values
