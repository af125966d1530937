"""Bulk rows in one statement per page through psycopg2's ``execute_values``, inside the session's transaction."""

from __future__ import annotations

from typing import Sequence

from psycopg2.extras import execute_values as _execute_values

__all__ = ["execute_values", "PAGE"]

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
    cursor = session.connection().connection.cursor()
    try:
        return _execute_values(cursor, sql, list(rows), template=template, page_size=PAGE, fetch=fetch) or []
    finally:
        cursor.close()
