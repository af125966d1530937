"""Bulk rows in one statement per page through psycopg2's ``execute_values``, inside the session's transaction."""

from __future__ import annotations

from typing import Sequence

import psycopg2
from psycopg2.extras import Json
from sqlalchemy import select, tuple_
from sqlalchemy.exc import OperationalError
from psycopg2.extras import execute_values as _execute_values

__all__ = ["execute_values", "insert_rows", "upsert_ids", "insert_new_ids", "on_conflict_update", "PAGE"]

#: Rows per statement.
PAGE = 1000


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
    connection = session.connection()
    try:
        cursor = connection.connection.cursor()
        try:
            return _execute_values(cursor, sql, list(rows), template=template, page_size=PAGE, fetch=fetch) or []
        finally:
            cursor.close()
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        # Straight from the driver, so SQLAlchemy has not seen it: drop the dead connection from the pool
        # and raise what SQLAlchemy raises for a lost server, which the unit of work turns into a retry.
        connection.invalidate(exc)
        raise OperationalError(sql[:200], None, exc) from exc


def insert_rows(session, table: str, columns: Sequence[str], rows: Sequence[dict], *, on_conflict: str,
                returning: Sequence[str] = (), json_columns: Sequence[str] = ()) -> list[tuple]:
    """Insert row dicts in one statement per page, returning ``returning`` of each row written.

    SQLAlchemy's insert of many rows with ``RETURNING`` processes every parameter of every row in
    Python; the driver's ``execute_values`` adapts them in C, several times faster for a batch.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work (its transaction is used).
    table : str
        Table name.
    columns : sequence of str
        Columns written, in order; each row dict holds them all.
    rows : sequence of dict
        Values, of types the driver adapts (JSON columns as plain dicts and lists).
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
    values = [tuple(Json(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns)
              for row in rows]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s {on_conflict}"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return execute_values(session, sql, values, fetch=bool(returning))


def upsert_ids(session, table, columns: Sequence[str], rows: Sequence[dict], *, key: Sequence[str],
               on_conflict: str, json_columns: Sequence[str] = ()) -> dict[tuple, int]:
    """Insert row dicts (see :func:`insert_rows`); return the id of each row written, by its ``key`` values.

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
    returned = insert_rows(session, table.name, columns, rows, on_conflict=on_conflict,
                           returning=("id", *key), json_columns=json_columns)
    return {tuple(row[1:]): row[0] for row in returned}


def insert_new_ids(session, table, columns: Sequence[str], rows: Sequence[dict], *, key: Sequence[str],
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
    ids = upsert_ids(session, table, columns, rows, key=key,
                     on_conflict=f"ON CONFLICT ({', '.join(key)}) DO NOTHING", json_columns=json_columns)
    new = set(ids)
    stored = [k for k in (tuple(row[c] for c in key) for row in rows) if k not in ids]
    if stored:  # already there (a batch retried after a crash): their ids
        key_columns = [table.c[c] for c in key]
        ids.update({tuple(row[1:]): row[0] for row in
                    session.execute(select(table.c.id, *key_columns).where(tuple_(*key_columns).in_(stored)))})
    return ids, new


def on_conflict_update(constraint: str, columns: Sequence[str]) -> str:
    """Return ``ON CONFLICT ON CONSTRAINT constraint DO UPDATE SET c = EXCLUDED.c, ...`` for :func:`upsert_ids`."""
    return f"ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
