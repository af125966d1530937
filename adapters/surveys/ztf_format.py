"""Readers of IRSA ZTF lightcurve answers (IPAC table, CSV, VOTable) into typed numpy columns.

The format is recognised from the content, not from a file name or a
Content-Type, because users save answers under any name. Readers are strict:
a cut row, a blank field where the table declares a null string, a row count
different from ``\\RowsRetrieved`` or an HTML page are errors that name the
origin (file or URL) and what is wrong; astropy's readers would instead mask
the missing values of a truncated table and carry on.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import numpy as np

from virtualobserver.domain.errors import DataError

__all__ = ["FORMATS", "ZTF_DTYPES", "detect_format", "parse_answer", "read_answer", "empty_columns"]

#: Answer formats and the file extension each is cached under.
FORMATS = {"ipac_table": "tbl", "csv": "csv", "votable": "xml"}

#: Column types of the IRSA answer (24 columns, in IRSA's order). Integer columns that
#: contain nulls become float64 with NaN, since numpy integers have no missing value.
ZTF_DTYPES: dict[str, str] = {
    "oid": "int64", "expid": "int64", "hjd": "float64", "mjd": "float64", "mag": "float64",
    "magerr": "float64", "catflags": "int64", "filtercode": "str", "ra": "float64", "dec": "float64",
    "chi": "float64", "sharp": "float64", "filefracday": "int64", "field": "int64", "ccdid": "int64",
    "qid": "int64", "limitmag": "float64", "magzp": "float64", "magzprms": "float64", "clrcoeff": "float64",
    "clrcounc": "float64", "exptime": "float64", "airmass": "float64", "programid": "int64",
}

_IPAC_KINDS = {"int": "int64", "i": "int64", "long": "int64", "l": "int64", "double": "float64",
               "d": "float64", "float": "float64", "f": "float64", "real": "float64", "r": "float64",
               "char": "str", "c": "str", "date": "str"}
_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<title)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CSV_NULLS = ("", "null", "NaN", "nan")


def empty_columns(names=tuple(ZTF_DTYPES)) -> dict[str, np.ndarray]:
    """Return zero-length columns with the answer's types.

    Parameters
    ----------
    names : iterable of str
        Column names (default: all 24 columns of an IRSA answer).

    Returns
    -------
    dict of str to numpy.ndarray
        One empty array per name.
    """
    return {name: np.zeros(0, dtype=_numpy_dtype(ZTF_DTYPES.get(name, "float64"))) for name in names}


def detect_format(data: bytes, *, origin: str = "answer") -> str:
    """Recognise the format of an answer from its first bytes.

    Parameters
    ----------
    data : bytes
        Whole answer or its beginning.
    origin : str
        File or URL, for messages.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    DataError
        If the answer is empty, an HTML page, or none of the three formats.

    Examples
    --------
    >>> detect_format(b"\\\\fixlen = T\\n|oid|\\n")
    'ipac_table'
    >>> detect_format(b"oid,mjd\\n")
    'csv'
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise DataError(f"{origin}: empty answer (not even a table header)")
    if _HTML.match(head):
        raise DataError(f"{origin}: an HTML page, not a table{_html_title(data)}")
    if head.startswith(b"<"):
        if b"VOTABLE" in head.upper():
            return "votable"
        raise DataError(f"{origin}: XML that is not a VOTable: starts with {_excerpt(head)}")
    if head[:1] in (b"\\", b"|"):
        return "ipac_table"
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    names = [n.strip() for n in first.split(",")]
    if len(names) > 1 and all(_NAME.match(n) for n in names):
        return "csv"
    raise DataError(f"{origin}: not an IPAC table, CSV or VOTable: starts with {_excerpt(head)}")


def parse_answer(data: bytes, *, origin: str = "answer") -> tuple[str, dict[str, np.ndarray]]:
    """Parse an answer of the IRSA lightcurve service, whatever its format.

    Parameters
    ----------
    data : bytes
        The whole answer.
    origin : str
        File or URL, for messages.

    Returns
    -------
    tuple
        ``(format, columns)``: the detected format and the columns by name.
        Known ZTF columns get the types of :data:`ZTF_DTYPES`; a header-only
        answer gives zero-length columns.

    Raises
    ------
    DataError
        If the answer is empty, HTML, truncated or malformed.
    """
    fmt = detect_format(data, origin=origin)
    if fmt == "votable":
        return fmt, _parse_votable(data, origin)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{origin}: not text (byte {exc.start} is not UTF-8)") from None
    parse = _parse_ipac if fmt == "ipac_table" else _parse_csv
    return fmt, parse(text, origin)


def read_answer(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read an answer saved in a file.

    Parameters
    ----------
    path : str or pathlib.Path
        IPAC table, CSV or VOTable file.

    Returns
    -------
    tuple
        ``(format, columns)`` as :func:`parse_answer`.

    Raises
    ------
    DataError
        If the file cannot be read or parsed.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_answer(data, origin=str(path))


# -- IPAC -------------------------------------------------------------------------------------
def _parse_ipac(text: str, origin: str) -> dict[str, np.ndarray]:
    lines = text.splitlines()
    keywords: dict[str, str] = {}
    header: list[str] = []
    start = len(lines)
    for number, line in enumerate(lines):
        if line.startswith("\\"):
            if header:
                raise DataError(f"{origin}: line {number + 1}: keyword after the column header")
            key, sep, value = line[1:].partition("=")
            if sep and not key.startswith(" "):
                keywords[key.strip()] = value.strip().strip("'\"")
        elif line.startswith("|"):
            header.append(line.rstrip())
        elif line.strip():
            start = number
            break
    if not header:
        raise DataError(f"{origin}: IPAC table without a column header ('|name|' line)")
    pipes = [i for i, ch in enumerate(header[0]) if ch == "|"]
    if len(pipes) < 2 or header[0][-1] != "|":
        raise DataError(f"{origin}: malformed IPAC column header {header[0][:80]!r}")
    spans = list(zip(pipes[:-1], pipes[1:]))
    rows = header + [""] * (4 - len(header))
    names = [header[0][a + 1:b].strip() for a, b in spans]
    kinds = [rows[1][a + 1:b].strip().lower() for a, b in spans]
    nulls = [rows[3][a + 1:b].strip() if len(header) > 3 else "" for a, b in spans]
    if not all(names) or len(set(names)) != len(names):
        raise DataError(f"{origin}: IPAC header has blank or repeated column names {names}")
    data_lines = [(n + 1, line) for n, line in enumerate(lines[start:], start) if line.strip()]
    cells: list[list[str]] = [[] for _ in names]
    for number, line in data_lines:
        if line.startswith(("\\", "|")):
            raise DataError(f"{origin}: line {number}: header line among the data rows")
        if len(line.rstrip()) > pipes[-1] + 1:
            raise DataError(f"{origin}: line {number}: longer than the column header (not a fixed-width row)")
        for index, (a, b) in enumerate(spans):
            value = line[a:b].strip()
            # A blank where the table declares a null string means the row was cut short.
            if not value and nulls[index]:
                raise DataError(f"{origin}: line {number}: column {names[index]!r} is blank "
                                f"(truncated row?)")
            cells[index].append(value)
    expected = keywords.get("RowsRetrieved")
    if expected is not None and expected.isdigit() and int(expected) != len(data_lines):
        raise DataError(f"{origin}: {len(data_lines)} rows, but the header says RowsRetrieved={expected} "
                        f"(truncated answer?)")
    columns = {}
    for name, kind, null, values in zip(names, kinds, nulls, cells):
        dtype = ZTF_DTYPES.get(name) or _IPAC_KINDS.get(kind, "str")
        columns[name] = _convert(values, dtype, {null} if null else {""}, name=name, origin=origin)
    return columns


# -- CSV --------------------------------------------------------------------------------------
def _parse_csv(text: str, origin: str) -> dict[str, np.ndarray]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = [n.strip() for n in next(reader)]
        rows = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                raise DataError(f"{origin}: line {reader.line_num}: {len(row)} fields, expected "
                                f"{len(names)} (truncated row?)")
            rows.append(row)
    except csv.Error as exc:
        raise DataError(f"{origin}: line {reader.line_num}: malformed CSV ({exc})") from None
    if len(set(names)) != len(names):
        raise DataError(f"{origin}: CSV header repeats a column name: {names}")
    cells = list(zip(*rows)) if rows else [()] * len(names)
    columns = {}
    for name, values in zip(names, cells):
        values = [v.strip() for v in values]
        dtype = ZTF_DTYPES.get(name) or _infer(values)
        columns[name] = _convert(values, dtype, set(_CSV_NULLS), name=name, origin=origin)
    return columns


def _infer(values: list[str]) -> str:
    present = [v for v in values if v not in _CSV_NULLS]
    for dtype, cast in (("int64", int), ("float64", float)):
        try:
            for v in present:
                cast(v)
        except ValueError:
            continue
        return dtype
    return "str"


# -- VOTable ----------------------------------------------------------------------------------
def _parse_votable(data: bytes, origin: str) -> dict[str, np.ndarray]:
    from astropy.io import votable

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = votable.parse(io.BytesIO(data), verify="ignore")
    except Exception as exc:  # noqa: BLE001 - expat and astropy raise many types for broken XML
        raise DataError(f"{origin}: malformed VOTable ({type(exc).__name__}: {exc})") from None
    for info in _infos(document):
        if info.name == "QUERY_STATUS" and str(info.value).upper() == "ERROR":
            message = (info.content or "").strip() or "no reason given"
            raise DataError(f"{origin}: the service reported an error: {message[:300]}")
    tables = list(document.iter_tables())
    if not tables:
        return {}
    table = tables[0]
    columns = {}
    for field in table.fields:
        name = field.name or field.ID
        values = table.array[field.ID] if field.ID in table.array.dtype.names else table.array[name]
        dtype = ZTF_DTYPES.get(name)
        columns[name] = _from_masked(values, dtype, name=name, origin=origin)
    return columns


def _from_masked(values, dtype: str | None, *, name: str, origin: str) -> np.ndarray:
    mask = np.ma.getmaskarray(values)
    raw = np.ma.getdata(values)
    if dtype is None:
        dtype = "str" if raw.dtype.kind in "USO" else ("int64" if raw.dtype.kind in "iub" else "float64")
    if dtype == "str":
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in raw.tolist()]
        text = ["" if m else v.strip() for v, m in zip(text, mask.tolist())]
        return np.array(text, dtype=str) if text else np.zeros(0, dtype="U2")
    try:
        numbers = raw.astype("float64")
    except (TypeError, ValueError):
        raise DataError(f"{origin}: column {name!r} is not numeric") from None
    if dtype == "int64" and not mask.any() and np.all(np.isfinite(numbers)):
        return raw.astype("int64")
    numbers[mask] = np.nan
    return numbers


def _infos(document):
    # QUERY_STATUS may sit on the document or on any (nested) resource.
    yield from document.infos
    pending = list(document.resources)
    while pending:
        resource = pending.pop()
        yield from resource.infos
        pending.extend(resource.resources)


# -- shared -----------------------------------------------------------------------------------
def _convert(values: list[str], dtype: str, nulls: set[str], *, name: str, origin: str) -> np.ndarray:
    if dtype == "str":
        out = np.array(["" if v in nulls else v for v in values], dtype=str)
        return out if out.size else np.zeros(0, dtype="U2")
    missing = np.array([v in nulls for v in values], dtype=bool)
    cast = int if dtype == "int64" and not missing.any() else float
    try:
        numbers = [cast(v) if not m else np.nan for v, m in zip(values, missing)]
    except ValueError:
        row = next(i for i, (v, m) in enumerate(zip(values, missing)) if not m and not _castable(v, cast))
        raise DataError(f"{origin}: data row {row + 1}: column {name!r} value {values[row][:40]!r} "
                        f"is not a number") from None
    return np.array(numbers, dtype="int64" if cast is int else "float64")


def _castable(value: str, cast) -> bool:
    try:
        cast(value)
    except ValueError:
        return False
    return True


def _numpy_dtype(dtype: str) -> np.dtype:
    return np.dtype("U2") if dtype == "str" else np.dtype(dtype)


def _excerpt(data: bytes) -> str:
    return repr(data[:80].decode("utf-8", "replace"))


def _html_title(data: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", data[:8192], re.IGNORECASE | re.DOTALL)
    if not match:
        return ""
    title = " ".join(match.group(1).decode("utf-8", "replace").split())
    return f" (title {title[:120]!r})"
