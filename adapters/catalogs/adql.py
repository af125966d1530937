"""ADQL for Gaia-like TAP services, built from checked values: numbers formatted, user text parsed against a whitelist."""

from __future__ import annotations

import math
import re
from typing import Sequence

from domain.errors import CatalogError

__all__ = ["cone_query", "select_query", "check_where", "check_columns", "format_number"]

#: Words a user's ``where`` clause may never contain, even where an identifier could stand.
#: Read-only ADQL words are here too: the grammar below has no place for them, and naming
#: them in the error is clearer than a generic syntax complaint.
_FORBIDDEN_WORDS = frozenset("""
    ALTER BEGIN CALL COMMIT CREATE DELETE DROP EXEC EXECUTE GRANT INSERT INTO MERGE RENAME REPLACE REVOKE
    ROLLBACK SET TRUNCATE UPDATE UPSERT VACUUM COPY
    SELECT FROM WHERE UNION INTERSECT EXCEPT JOIN ON USING GROUP ORDER BY HAVING TOP LIMIT OFFSET AS
    DISTINCT ALL CASE WHEN THEN ELSE END LIKE ILIKE IN EXISTS BETWEEN WITH
""".split())

_TOKEN = re.compile(r"""
      (?P<space>\s+)
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|<>|!=|=|<|>|\+|-|\*|/|\(|\))
""", re.VERBOSE)
_COMPARISONS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\Z")


def format_number(value: float, *, what: str) -> str:
    """Return ``value`` as ADQL numeric text (the shortest text that reads back to the same float).

    Parameters
    ----------
    value : float
        A finite number.
    what : str
        Its name, for the error message.

    Returns
    -------
    str
        E.g. ``"280.0"``, ``"-60.5"``, ``"1e-05"``.

    Raises
    ------
    CatalogError
        If the value is not a finite number.

    Examples
    --------
    >>> format_number(280, what="ra")
    '280.0'
    """
    if isinstance(value, bool):
        raise CatalogError(f"expected a number, got {value!r}", field=what)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CatalogError(f"expected a number, got {value!r}", field=what) from None
    if not math.isfinite(number):
        raise CatalogError(f"expected a finite number, got {value!r}", field=what)
    return repr(number)


def check_columns(columns: Sequence[str] | None) -> str:
    """Return the select list for ``columns`` (``*`` when empty), refusing anything but plain names.

    Parameters
    ----------
    columns : sequence of str, optional
        Column names such as ``source_id`` or ``g.ra``.

    Returns
    -------
    str
        Comma-separated names.

    Raises
    ------
    CatalogError
        If a name is not an identifier or is a reserved word.
    """
    if not columns:
        return "*"
    for column in columns:
        name = str(column)
        if not _IDENTIFIER.match(name) or name.upper() in _FORBIDDEN_WORDS | {"AND", "OR", "NOT", "IS", "NULL"}:
            raise CatalogError(f"not a column name: {name!r}", field="columns")
    return ", ".join(str(c) for c in columns)


def check_where(where: str) -> str:
    """Check a user's ``where`` clause against a small whitelist grammar and return it stripped.

    Allowed: column names, numbers, ``+ - * /``, comparisons (``= <> != < > <= >=``),
    ``AND``/``OR``/``NOT``, parentheses and ``IS [NOT] NULL``. Quotes, ``;``,
    comments and every other SQL word are refused, so the text cannot leave the
    condition it is placed in.

    Parameters
    ----------
    where : str
        E.g. ``"phot_g_mean_mag < 18 AND (parallax > 5 OR ruwe IS NULL)"``; empty is allowed.

    Returns
    -------
    str
        The clause without surrounding blanks.

    Raises
    ------
    CatalogError
        Naming the offending token and its position.

    Examples
    --------
    >>> check_where("phot_g_mean_mag < 18 AND parallax > 2*parallax_error")
    'phot_g_mean_mag < 18 AND parallax > 2*parallax_error'
    """
    text = (where or "").strip()
    if text:
        _Parser(_tokenize(text)).parse()
    return text


def _reject(token: str, position: int, why: str):
    raise CatalogError(f"{why}: {token!r} at character {position + 1}", field="where")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        if text.startswith(("--", "/*", "*/"), position):
            _reject(text[position:position + 2], position, "comments are not allowed")
        match = _TOKEN.match(text, position)
        if match is None:
            _reject(text[position], position, "character not allowed")
        kind = match.lastgroup
        value = match.group()
        if kind == "word":
            upper = value.upper()
            if upper in _FORBIDDEN_WORDS:
                _reject(value, position, "SQL keyword not allowed")
            if upper in ("AND", "OR", "NOT", "IS", "NULL"):
                kind, value = "keyword", upper
        if kind != "space":
            if kind == "number" and match.end() < len(text) and (text[match.end()].isalpha() or text[match.end()] == "_"):
                _reject(text[position:match.end() + 1], position, "malformed number")
            tokens.append((kind, value, position))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over: or := and (OR and)*; and := not (AND not)*; not := NOT not | test;
    test := sum [(cmp sum) | IS [NOT] NULL]; sum := product ((+|-) product)*;
    product := unary ((*|/) unary)*; unary := (+|-) unary | NUMBER | NAME | '(' or ')'."""

    def __init__(self, tokens: list[tuple[str, str, int]]):
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def accept(self, *values: str) -> bool:
        token = self.peek()
        if token is not None and token[0] in ("op", "keyword") and token[1] in values:
            self.index += 1
            return True
        return False

    def parse(self) -> None:
        self.disjunction()
        token = self.peek()
        if token is not None:
            _reject(token[1], token[2], "unexpected token")

    def disjunction(self) -> None:
        self.conjunction()
        while self.accept("OR"):
            self.conjunction()

    def conjunction(self) -> None:
        self.negation()
        while self.accept("AND"):
            self.negation()

    def negation(self) -> None:
        if self.accept("NOT"):
            self.negation()
        else:
            self.test()

    def test(self) -> None:
        self.sum()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARISONS:
            self.index += 1
            self.sum()
        elif self.accept("IS"):
            self.accept("NOT")
            if not self.accept("NULL"):
                self.fail("expected NULL after IS")

    def sum(self) -> None:
        self.product()
        while self.accept("+", "-"):
            self.product()

    def product(self) -> None:
        self.unary()
        while self.accept("*", "/"):
            self.unary()

    def unary(self) -> None:
        if self.accept("+", "-"):
            self.unary()
            return
        token = self.peek()
        if token is None:
            self.fail("unexpected end of the clause")
        kind, value, _ = token
        if kind in ("number", "word"):
            self.index += 1
        elif self.accept("("):
            self.disjunction()
            if not self.accept(")"):
                self.fail("expected ')'")
        else:
            self.fail("expected a column name, a number or '('")

    def fail(self, why: str):
        token = self.peek()
        if token is None:
            last = self.tokens[-1]
            _reject(last[1], last[2], f"{why} after")
        _reject(token[1], token[2], why)


def select_query(table: str, *, columns: Sequence[str] | None = None, where: str = "",
                 top: int | None = None) -> str:
    """Return ``SELECT [TOP n] columns FROM table [WHERE where]``.

    Parameters
    ----------
    table : str
        Qualified table name, e.g. ``gaiadr3.gaia_source``.
    columns : sequence of str, optional
        Columns (default all).
    where : str
        A condition checked by :func:`check_where`.
    top : int, optional
        Row limit; None or a value below 1 means no limit.

    Returns
    -------
    str
        The ADQL text.
    """
    clause = check_where(where)
    return (f"SELECT {_top(top)}{check_columns(columns)} FROM {_table(table)}"
            + (f" WHERE {clause}" if clause else ""))


def cone_query(table: str, ra: float, dec: float, radius_deg: float, *, columns: Sequence[str] | None = None,
               where: str = "", top: int | None = None, ra_column: str = "ra", dec_column: str = "dec") -> str:
    """Return the cone search astroquery's ``Gaia.cone_search`` sends, plus an optional condition.

    The layout (``DISTANCE(...) AS dist``, ``1 = CONTAINS(POINT, CIRCLE)``,
    ``ORDER BY dist ASC``) follows astroquery so the server plans it the same
    way; a user condition is ANDed inside parentheses.

    Parameters
    ----------
    table : str
        Qualified table name.
    ra, dec : float
        Centre (ICRS degrees); ra in [0, 360], dec in [-90, 90].
    radius_deg : float
        Radius in degrees, in (0, 180].
    columns : sequence of str, optional
        Columns (default all).
    where : str
        Extra condition checked by :func:`check_where`.
    top : int, optional
        Row limit; None or a value below 1 means no limit.
    ra_column, dec_column : str
        Position columns of the table.

    Returns
    -------
    str
        The ADQL text.

    Raises
    ------
    CatalogError
        If a number is out of range or the condition is refused.
    """
    ra_text, dec_text = format_number(ra, what="ra"), format_number(dec, what="dec")
    radius_text = format_number(radius_deg, what="radius_deg")
    if not 0.0 <= float(ra) <= 360.0:
        raise CatalogError(f"ra must be in [0, 360] degrees, got {ra_text}", field="ra")
    if not -90.0 <= float(dec) <= 90.0:
        raise CatalogError(f"dec must be in [-90, 90] degrees, got {dec_text}", field="dec")
    if not 0.0 < float(radius_deg) <= 180.0:
        raise CatalogError(f"radius must be in (0, 180] degrees, got {radius_text}", field="radius_deg")
    check_columns([ra_column, dec_column])
    clause = check_where(where)
    position = f"POINT('ICRS', {ra_column}, {dec_column})"
    query = (f"SELECT {_top(top)}{check_columns(columns)}, "
             f"DISTANCE({position}, POINT('ICRS', {ra_text}, {dec_text})) AS dist "
             f"FROM {_table(table)} "
             f"WHERE 1 = CONTAINS({position}, CIRCLE('ICRS', {ra_text}, {dec_text}, {radius_text}))")
    if clause:
        query += f" AND ({clause})"
    return query + " ORDER BY dist ASC"


def _top(top: int | None) -> str:
    if top is None:
        return ""
    if isinstance(top, bool) or not isinstance(top, int):
        raise CatalogError(f"expected a whole number, got {top!r}", field="top")
    return f"TOP {top} " if top > 0 else ""


def _table(table: str) -> str:
    if not _IDENTIFIER.match(str(table)):
        raise CatalogError(f"not a table name: {table!r}", field="table")
    return str(table)
