"""ADQL for Gaia-like TAP services, built from checked values: numbers formatted, names checked, a user's condition
kept one condition (the archive judges its ADQL)."""

from __future__ import annotations

import math
import re
from typing import Sequence

from virtualobserver.domain.errors import CatalogError

__all__ = ["cone_query", "select_query", "check_where", "check_columns", "format_number", "MAX_WHERE_CHARS"]

#: Longest ``where`` clause accepted: generous for hand-written ADQL (the five-line conditions of the
#: Gaia papers are under 1,000 characters), far below anything that could strain a request or a log.
MAX_WHERE_CHARS = 20_000
#: Words a column list may not be (a name that is a keyword would change the query's shape).
_KEYWORDS = frozenset("""
    ALTER BEGIN CALL COMMIT CREATE DELETE DROP EXEC EXECUTE GRANT INSERT INTO MERGE RENAME REPLACE REVOKE
    ROLLBACK SET TRUNCATE UPDATE UPSERT VACUUM COPY
    SELECT FROM WHERE UNION INTERSECT EXCEPT JOIN ON USING GROUP ORDER BY HAVING TOP LIMIT OFFSET AS
    DISTINCT ALL CASE WHEN THEN ELSE END LIKE ILIKE IN EXISTS BETWEEN WITH AND OR NOT IS NULL
""".split())
#: Words that end a condition and start another part of a query (a set operation, a sort, a grouping,
#: a row window). Outside parentheses they would make the condition change the query it is placed in
#: (the cone's TOP and ORDER BY); inside a sub-query they are ordinary ADQL.
_CLAUSE_WORDS = frozenset({"UNION", "INTERSECT", "EXCEPT", "ORDER", "GROUP", "HAVING", "OFFSET", "LIMIT", "FROM",
                           "WHERE", "SELECT"})
_UNTERMINATED = {"'": "unterminated string", '"': "unterminated quoted name"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
        if not _IDENTIFIER.match(name) or name.upper() in _KEYWORDS:
            raise CatalogError(f"not a column name: {name!r}", field="columns")
    return ", ".join(str(c) for c in columns)


def check_where(where: str) -> str:
    """Check that a user's ``where`` clause is one read-only ADQL condition and return it stripped.

    The archive is remote and read-only, so the ADQL itself is the archive's to judge (functions,
    ``BETWEEN``, ``IN (...)``, ``LIKE``, string literals, sub-queries are all passed on). What is
    refused is what could make the text more than a condition here: a statement separator (``;``),
    a comment (``--``, ``/* */``) that could hide the rest of the query, an unterminated string or
    quoted name, parentheses that close one the clause did not open (leaving the parentheses the
    cone puts around it), a word such as ``UNION`` or ``ORDER`` outside parentheses (which would
    rewrite the query's TOP or sort), control characters, and a clause over :data:`MAX_WHERE_CHARS`.

    Parameters
    ----------
    where : str
        E.g. ``"phot_variable_flag = 'VARIABLE' AND ABS(b) > 30"``; empty is allowed.

    Returns
    -------
    str
        The clause without surrounding blanks.

    Raises
    ------
    CatalogError
        Naming the offending text and its position (1-based character).

    Examples
    --------
    >>> check_where("phot_g_mean_mag BETWEEN 12 AND 18 AND source_id IN (1, 2)")
    'phot_g_mean_mag BETWEEN 12 AND 18 AND source_id IN (1, 2)'
    """
    text = (where or "").strip()
    if len(text) > MAX_WHERE_CHARS:
        raise CatalogError(f"the clause is {len(text):,} characters long, more than the {MAX_WHERE_CHARS:,} "
                           "allowed: select in steps, or upload a table of ids", field="where")
    depth, opened, position = 0, [], 0
    while position < len(text):
        char = text[position]
        if char in "'\"":
            # ADQL doubles a quote inside a literal ('it''s'); anything between the quotes is data.
            end = position + 1
            while True:
                end = text.find(char, end)
                if end < 0:
                    _reject(text[position:position + 20], position, _UNTERMINATED[char])
                if text.startswith(char * 2, end):
                    end += 2
                    continue
                break
            _check_printable(text, position, end)
            position = end + 1
            continue
        if not char.isprintable() and char not in " \t\n\r":
            _reject(char, position, "control character not allowed")
        if char == ";":
            _reject(char, position, "a statement separator is not allowed (one condition only)")
        if text.startswith(("--", "/*", "*/"), position):
            _reject(text[position:position + 2], position, "comments are not allowed")
        if char == "(":
            depth += 1
            opened.append(position)
        elif char == ")":
            if depth == 0:
                _reject(char, position, "')' closes a parenthesis the clause did not open")
            depth -= 1
            opened.pop()
        elif char.isascii() and (char.isalpha() or char == "_"):
            word = _WORD.match(text, position).group()
            if depth == 0 and word.upper() in _CLAUSE_WORDS:
                _reject(word, position, "outside parentheses this word would end the condition")
            position += len(word)
            continue
        position += 1
    if opened:
        _reject("(", opened[-1], "parenthesis not closed")
    return text


def _check_printable(text: str, start: int, end: int) -> None:
    for offset, char in enumerate(text[start:end]):
        if not char.isprintable() and char not in " \t":
            _reject(char, start + offset, "control character not allowed")


def _reject(token: str, position: int, why: str):
    raise CatalogError(f"{why}: {token!r} at character {position + 1}", field="where")


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
