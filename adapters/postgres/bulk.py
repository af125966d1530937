"""Bulk rows in one statement per page, inside the session's transaction: as column arrays, or ``VALUES`` lists."""

from __future__ import annotations

import contextlib
import functools
import json
from operator import itemgetter
from typing import Iterator, Sequence

import psycopg2
from psycopg2.extras import Json
from psycopg2.extras import execute_values as _execute_values
from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError

from virtualobserver.adapters.postgres.orm import metadata

__all__ = [
    "execute",
    "execute_values",
    "array_literal",
    "JsonText",
    "insert_rows",
    "upsert_ids",
    "insert_new_ids",
    "on_conflict_update",
    "PAGE",
]

#: Rows per statement.
PAGE = 1000

_NONE = type(None)


class JsonText(str):
    """JSON text already encoded, written to a JSON column as it is (any other value is encoded first).

    A caller that must check a value before encoding it (for NaN, say) can encode it in the same pass.

    Examples
    --------
    >>> array_literal([JsonText("[1, 2.5]"), [1, 2.5], None], "JSONB", as_json=True)
    '{"[1, 2.5]","[1, 2.5]",NULL}'
    """

    __slots__ = ()


@contextlib.contextmanager
def _driver_cursor(session, sql: str, params: Sequence | None = None, *, wrap_errors: bool = False) -> Iterator:
    """Yield a psycopg2 cursor on the session's connection (so in its transaction), closed afterwards.

    A lost connection raises SQLAlchemy's ``OperationalError``; other driver errors are raised as
    they are, or (``wrap_errors``) as SQLAlchemy raises them for a statement it ran itself.
    """
    connection = session.connection()
    try:
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        # Straight from the driver, so SQLAlchemy has not seen it: drop the dead connection from the pool
        # and raise what SQLAlchemy raises for a lost server, which the unit of work turns into a retry.
        connection.invalidate(exc)
        raise OperationalError(sql[:200], None, exc) from exc
    except psycopg2.Error as exc:
        if not wrap_errors:
            raise
        raise DBAPIError.instance(sql, params, exc, psycopg2.Error) from exc


def _run(session, sql: str, params: Sequence, fetch: bool) -> list[tuple]:
    with _driver_cursor(session, sql) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def execute(session, sql: str, params: Sequence = (), *, fetch: bool = False) -> list[tuple]:
    """Run statements with psycopg2 ``%s`` parameters on the session's connection, in its transaction.

    SQLAlchemy's processing of a statement costs more than the round trip of a small one, and the
    bookkeeping of every batch sends several. Statements separated by ``;`` go in one round trip.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work (its transaction is used, so a rollback undoes the statement).
    sql : str
        Statement with psycopg2 ``%s`` placeholders (a literal ``%`` written ``%%``).
    params : sequence
        Values of the placeholders, adapted by psycopg2.
    fetch : bool
        Return the rows of the statement.

    Returns
    -------
    list of tuple
        The rows of the last statement (empty unless ``fetch``).

    Raises
    ------
    sqlalchemy.exc.OperationalError
        If the connection was lost (it is invalidated first).
    sqlalchemy.exc.DBAPIError
        For any other error of the driver or server (the subclass SQLAlchemy would raise).
    """
    with _driver_cursor(session, sql, params, wrap_errors=True) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def execute_values(session, sql: str, rows: Sequence[tuple], *, template: str | None = None,
                   fetch: bool = False) -> list[tuple]:
    """Run ``sql`` (with one ``VALUES %s``) for all ``rows`` on the session's connection, in its transaction.

    SQLAlchemy hands an ``executemany`` of an upsert to the driver, which sends one statement per
    row; this sends one per :data:`PAGE` rows.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work (its transaction is used, so a rollback undoes the rows).
    sql : str
        Statement with a single ``VALUES %s`` placeholder.
    rows : sequence of tuple
        Row values, adapted by psycopg2.
    template : str, optional
        Row template, e.g. ``"(%s, %s, %s::jsonb)"``.
    fetch : bool
        Return the rows of a ``RETURNING`` clause.

    Returns
    -------
    list of tuple
        Returned rows (empty unless ``fetch``).
    """
    if not rows:
        return []
    with _driver_cursor(session, sql) as cursor:
        return _execute_values(cursor, sql, list(rows), template=template, page_size=PAGE, fetch=fetch) or []


# -- column arrays ------------------------------------------------------------------------------------
# A page of rows goes as one array literal per column, unnested by the server: the driver quotes one
# string per column instead of adapting every value, and the server parses no statement of thousands
# of constants. Each element is written as the driver writes the value in a VALUES list (floats by
# repr, or by 17 significant digits, which name the same double; non-finite ones as PostgreSQL spells
# them; JSON by json.dumps), so the stored values are the same: a VALUES list makes each float a numeric
# constant cast to float8, which reads decimal text to the nearest double as an array element does,
# except that numeric has no negative zero (so -0.0 is written 0). A
# value of any other type makes the page go as a VALUES list instead, with the driver's own
# adaptation (and its errors).

def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float_text(value) -> str:
    if value is None:
        return "NULL"
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return "0" if value == 0 else repr(value)


def _floats(values: Sequence) -> str | None:
    kinds = set(map(type, values))
    if kinds == {float}:
        # Seventeen significant digits name the same double as repr's shortest text does, and one
        # formatting of the whole column costs two thirds of a repr per value.
        text = ("%.17g," * len(values) % tuple(values))[:-1]
        if "n" not in text and ("-0" not in text or ",-0," not in f",{text},"):  # as below
            return text
    elif kinds <= {float, int}:
        text = ",".join(map(repr, values))
        # Every value finite, and no negative zero (-0.0 is rare: look for it in full only if it may be there).
        if "n" not in text and ("-0.0" not in text or ",-0.0," not in f",{text},"):
            return text
    elif not kinds <= {float, int, _NONE}:
        return None
    return ",".join(map(_float_text, values))


def _ints(values: Sequence) -> str | None:
    kinds = set(map(type, values))
    if kinds == {int}:
        return ",".join(map(str, values))
    if not kinds <= {int, _NONE}:
        return None
    return ",".join("NULL" if v is None else str(v) for v in values)


def _texts(values: Sequence) -> str | None:
    kinds = set(map(type, values))
    if kinds == {str}:
        # Escape the joined text once; the separator is a character no value holds (checked).
        joined = "\x00".join(values)
        if joined.count("\x00") == len(values) - 1:
            return _quoted(joined).replace("\x00", '","')
    elif not kinds <= {str, _NONE}:
        return None
    return ",".join("NULL" if v is None else _quoted(v) for v in values)


def _bools(values: Sequence) -> str | None:
    if not set(map(type, values)) <= {bool, _NONE}:
        return None
    return ",".join("NULL" if v is None else ("t" if v else "f") for v in values)


def _json(value) -> str:
    return value if type(value) is JsonText else json.dumps(value)


def _jsons(values: Sequence) -> str:
    if _NONE not in set(map(type, values)):
        # Escape the joined texts once, as in _texts (JSON text escapes control characters: no NUL is expected).
        joined = "\x00".join(map(_json, values))
        if joined.count("\x00") == len(values) - 1:
            return _quoted(joined).replace("\x00", '","')
    return ",".join("NULL" if v is None else _quoted(_json(v)) for v in values)


_ELEMENTS = {
    "BIGINT": _ints, "INTEGER": _ints, "SMALLINT": _ints,
    "FLOAT": _floats, "DOUBLE PRECISION": _floats,
    "TEXT": _texts, "BOOLEAN": _bools,
}


def array_literal(values: Sequence, sql_type: str, *, as_json: bool = False) -> str | None:
    """Return the PostgreSQL array literal (``{...}``) of ``values`` for an array of ``sql_type``.

    Parameters
    ----------
    values : sequence
        Python values: int, float, str, bool or None as fits ``sql_type`` (float columns take ints too).
    sql_type : str
        Element type as PostgreSQL spells it: ``BIGINT``, ``INTEGER``, ``SMALLINT``, ``FLOAT``,
        ``DOUBLE PRECISION``, ``TEXT``, ``BOOLEAN``, or any type when ``as_json``.
    as_json : bool
        Write each value (other than None) as its JSON text (a :class:`JsonText` as it is), for a
        ``JSON`` or ``JSONB`` array.

    Returns
    -------
    str or None
        The literal, or None if a value's type does not fit (send such values through the driver's
        own adaptation instead).

    Examples
    --------
    >>> array_literal([1.5, None, float("nan")], "FLOAT")
    '{1.5,NULL,NaN}'
    >>> array_literal(['a "b"', "c"], "TEXT")
    '{"a \\\\"b\\\\"","c"}'
    """
    if as_json:
        body = _jsons(values)
    else:
        elements = _ELEMENTS.get(sql_type.upper())
        body = None if elements is None else elements(values)
    return None if body is None else "{" + body + "}"


@functools.cache
def _sql_types(table: Table) -> dict[str, str]:
    dialect = postgresql.dialect()
    return {column.name: column.type.compile(dialect=dialect) for column in table.columns}


def _json_param(value):
    # Encoded text goes as a string literal, which is what the driver makes of Json(value) too.
    return str(value) if type(value) is JsonText else Json(value)


def _as_tuples(columns: Sequence[str], rows: Sequence) -> list[tuple]:
    if rows and isinstance(rows[0], dict):
        return [tuple(row[c] for c in columns) for row in rows]
    return rows if isinstance(rows, list) else list(rows)


def insert_rows(session, table: str | Table, columns: Sequence[str], rows: Sequence, *, on_conflict: str,
                returning: Sequence[str] = (), json_columns: Sequence[str] = ()) -> list[tuple]:
    """Insert rows in one statement per page, in their order, returning ``returning`` of each row written.

    SQLAlchemy's insert of many rows with ``RETURNING`` processes every parameter of every row in
    Python. Here a page goes as one array per column (``unnest ... WITH ORDINALITY ... ORDER BY``,
    so rows are inserted, and serial ids drawn, in the given order), or as a ``VALUES`` list through
    ``execute_values`` if a value does not fit an array of its column's type or the table is unknown.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work (its transaction is used).
    table : str or sqlalchemy.Table
        Table (by name, of the mapped metadata).
    columns : sequence of str
        Columns written, in order.
    rows : sequence of dict or sequence of tuple
        Row dicts holding every column, or tuples of the values in ``columns`` order; values of types
        the driver adapts (JSON columns as plain dicts and lists, or their :class:`JsonText`).
    on_conflict : str
        The ``ON CONFLICT ...`` clause.
    returning : sequence of str
        Columns returned for each row inserted (or updated by the conflict clause).
    json_columns : sequence of str
        Columns whose values are sent as JSON.

    Returns
    -------
    list of tuple
        The returned rows (in no guaranteed order).
    """
    if not rows:
        return []
    if isinstance(table, str):
        name, table = table, metadata.tables.get(table)
    else:
        name = table.name
    types = _sql_types(table) if table is not None else {}
    # The writer of each column's array elements (see array_literal), or None if a column has none.
    writers = [(_jsons if c in json_columns else _ELEMENTS.get(types[c].upper())) if c in types else None
               for c in columns]
    tail = f" {on_conflict}" + (f" RETURNING {', '.join(returning)}" if returning else "")
    values = _as_tuples(columns, rows)
    out: list[tuple] = []
    for start in range(0, len(values), PAGE):
        page = values[start:start + PAGE]
        bodies = [write(column) for write, column in zip(writers, zip(*page))] if None not in writers else [None]
        if None not in bodies:
            arrays = ["{" + body + "}" for body in bodies]
            aliases = ", ".join(f"c{i}" for i in range(len(columns)))
            sql = (f"INSERT INTO {name} ({', '.join(columns)}) SELECT {aliases} "
                   f"FROM unnest({', '.join(f'%s::{types[c]}[]' for c in columns)}) "
                   f"WITH ORDINALITY AS page ({aliases}, ordinal) ORDER BY ordinal{tail}")
            out.extend(_run(session, sql, arrays, bool(returning)))
            continue
        if json_columns:
            page = [tuple(_json_param(v) if c in json_columns and v is not None else v for c, v in zip(columns, row))
                    for row in page]
        out.extend(execute_values(session, f"INSERT INTO {name} ({', '.join(columns)}) VALUES %s{tail}", page,
                                  fetch=bool(returning)))
    return out


def upsert_ids(session, table, columns: Sequence[str], rows: Sequence, *, key: Sequence[str],
               on_conflict: str, json_columns: Sequence[str] = ()) -> dict[tuple, int]:
    """Insert rows (see :func:`insert_rows`); return the id of each row written, by its ``key`` values.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    table : sqlalchemy.Table
        Table written (it has an ``id`` column).
    columns, rows, on_conflict, json_columns
        As for :func:`insert_rows`.
    key : sequence of str
        Columns that identify a row.

    Returns
    -------
    dict of tuple to int
        Key values -> id, for the rows inserted (or updated by the conflict clause).
    """
    returned = insert_rows(session, table, columns, rows, on_conflict=on_conflict,
                           returning=("id", *key), json_columns=json_columns)
    return {tuple(row[1:]): row[0] for row in returned}


def insert_new_ids(session, table, columns: Sequence[str], rows: Sequence, *, key: Sequence[str],
                   json_columns: Sequence[str] = ()) -> tuple[dict[tuple, int], set[tuple]]:
    """Insert the rows whose ``key`` is not stored yet, leaving stored ones as they are; return every id.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    table : sqlalchemy.Table
        Table written; ``key`` is one of its unique constraints.
    columns, rows, json_columns
        As for :func:`insert_rows` (at most one row per key).
    key : sequence of str
        Columns of the unique constraint that identifies a row.

    Returns
    -------
    tuple
        Key values -> id for every row given, and the keys that were new.
    """
    values = _as_tuples(columns, rows)
    ids = upsert_ids(session, table, columns, values, key=key,
                     on_conflict=f"ON CONFLICT ({', '.join(key)}) DO NOTHING", json_columns=json_columns)
    new = set(ids)
    where = [columns.index(c) for c in key]
    key_of = itemgetter(*where) if len(where) > 1 else lambda row: (row[where[0]],)
    stored = [k for k in map(key_of, values) if k not in ids]
    if stored:  # already there (a batch retried after a crash): their ids
        key_columns = [table.c[c] for c in key]
        ids.update({tuple(row[1:]): row[0] for row in
                    session.execute(select(table.c.id, *key_columns).where(tuple_(*key_columns).in_(stored)))})
    return ids, new


def on_conflict_update(constraint: str, columns: Sequence[str]) -> str:
    """Return ``ON CONFLICT ON CONSTRAINT constraint DO UPDATE SET c = EXCLUDED.c, ...`` for :func:`upsert_ids`."""
    return f"ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
