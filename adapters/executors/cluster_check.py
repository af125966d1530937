"""Before a distributed run: every worker reaches the client's database and data folder (``vo doctor --cluster``).

A worker on another machine connects to the database URL and opens the data folder path the client
gives it. Either may name something else there: ``localhost`` is another server on each node, a path
under a node-local disk is another folder. Such a worker would register, write and commit into a
place the client never reads, so a run whose workers disagree is stopped before any batch runs.

- **database**: each worker reads the server's identity (database name and OID, the server's start
  time to the microsecond and, where the role may read it, ``pg_control_system()``'s system
  identifier) and it must equal the client's; nothing is written to the database.
- **data folder**: the client writes a token file (random name and content) in
  ``<data>/cluster-check/``; each worker must read it there, and writes a reply file beside it that
  the client must then see (so the folder is shared both ways, not only readable). Both are removed.

The check is also where the session-level advisory locks are tested: the batch leases, the project
lock and the archive slots are held by a connection's server session, which a transaction-mode pooler
(PgBouncer ``pool_mode = transaction``) hands to other clients between transactions.
:func:`sessions_pinned` shows whether two client connections share one server session.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from virtualobserver.domain.errors import ClusterMismatchError

__all__ = ["ClusterCheck", "WorkerView", "database_identity", "probe_worker", "sessions_pinned", "CHECK_FOLDER",
           "SESSION_REQUIREMENT"]

#: Folder of the data folder where the tokens and replies are written (and removed).
CHECK_FOLDER = "cluster-check"

#: What the leases need of the connection to PostgreSQL (printed by ``vo doctor --cluster``; README "Running on a cluster").
SESSION_REQUIREMENT = ("the batch leases, the project lock and the archive slots are session-level advisory locks: "
                       "connect every process directly to PostgreSQL, or through a pooler in session mode "
                       "(PgBouncer pool_mode = session), never transaction or statement mode")


@dataclass(frozen=True)
class WorkerView:
    """What one worker sees (picklable: it travels back from the worker).

    Attributes
    ----------
    host, pid : str, int
        Where the worker runs.
    database : tuple or None
        Its :func:`database_identity`; None when it could not connect (``error`` says why).
    token_found : bool
        Whether it read the client's token in its data folder.
    reply : str or None
        Name of the reply file it wrote beside the token (None if it could not write).
    error : str
        Why something failed ('' when nothing did).
    """

    host: str
    pid: int
    database: tuple | None
    token_found: bool
    reply: str | None
    error: str = ""


def database_identity(url: str) -> tuple:
    """Return what identifies the database ``url`` reaches: the same tuple from every client of one database.

    Parameters
    ----------
    url : str
        SQLAlchemy URL.

    Returns
    -------
    tuple
        ``(database name, database OID, server start time (ISO, microseconds), system identifier or None)``.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)  # one connection, closed after: nothing kept in a worker
    try:
        with engine.connect() as connection:
            name, oid, started = connection.execute(text(
                "SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database()), "
                "pg_postmaster_start_time()")).one()
            system = None
            try:  # not every role may read it; the rest of the tuple identifies the database alone
                with connection.begin_nested():
                    system = connection.execute(text("SELECT system_identifier FROM pg_control_system()")).scalar()
            except DBAPIError:
                system = None
        return str(name), int(oid), started.isoformat(), None if system is None else int(system)
    finally:
        engine.dispose()


def probe_worker(database_url: str, data_dir: str, token: str) -> WorkerView:
    """In a worker: read the database identity and the client's token, and write a reply beside the token.

    Parameters
    ----------
    database_url : str
        The URL the worker's batches will use.
    data_dir : str
        The data folder path the worker's batches will use.
    token : str
        Name and content of the client's token file in ``<data_dir>/cluster-check``.

    Returns
    -------
    WorkerView
        What the worker saw.
    """
    errors = []
    try:
        identity = database_identity(database_url)
    except Exception as exc:  # noqa: BLE001 - reported to the client, which stops the run with it
        identity = None
        errors.append("cannot reach the database: " + " ".join(str(exc).split())[:300])
    folder = Path(data_dir) / CHECK_FOLDER
    try:
        found = (folder / token).read_text() == token
    except OSError:
        found = False
    reply = None
    if found:
        name = f"{token}.{socket.gethostname()}.{os.getpid()}.reply"
        try:
            (folder / name).write_text(token)
            reply = name
        except OSError as exc:
            errors.append(f"cannot write in the data folder: {exc}")
    return WorkerView(socket.gethostname(), os.getpid(), identity, found, reply, "; ".join(errors))


class ClusterCheck:
    """Check that every worker of a Dask client reaches the client's database and data folder.

    Parameters
    ----------
    database_url : callable
        Returns the client's database URL (the workers' too).
    data_dir : callable
        Returns the client's data folder (the workers' too).
    """

    def __init__(self, database_url: Callable[[], str], data_dir: Callable[[], Path]):
        self._database_url = database_url
        self._data_dir = data_dir

    def views(self, client, workers: list[str] | None = None) -> tuple[tuple, dict[str, WorkerView], dict[str, bool]]:
        """Probe the workers; return the client's identity, each worker's view and whether its reply arrived.

        Parameters
        ----------
        client : distributed.Client
            Connected to the cluster.
        workers : list of str, optional
            Addresses of the workers to probe (default: every worker).

        Returns
        -------
        tuple
            ``(client database identity, {worker address: WorkerView}, {worker address: reply seen})``.
        """
        url, data = self._database_url(), Path(self._data_dir())
        expected = database_identity(url)
        folder = data / CHECK_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        path = folder / token
        path.write_text(token)
        try:
            views = (client.run(probe_worker, url, str(data), token) if workers is None else
                     client.run(probe_worker, url, str(data), token, workers=list(workers)))
            seen = {address: bool(view.reply) and (folder / view.reply).is_file() for address, view in views.items()}
        finally:
            for leftover in folder.glob(token + "*"):
                leftover.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        return expected, views, seen

    def problems(self, client, workers: list[str] | None = None) -> list[str]:
        """Return one line per worker that reaches another database or data folder (empty: all agree).

        Parameters
        ----------
        client : distributed.Client
            Connected to the cluster.
        workers : list of str, optional
            Addresses of the workers to check (default: every worker).

        Returns
        -------
        list of str
            The problems, each naming the worker and what it sees.
        """
        return self.problems_in(*self.views(client, workers))

    def problems_in(self, expected: tuple, views: dict, seen: dict) -> list[str]:
        """Return the problem lines of what :meth:`views` returned (see :meth:`problems`).

        Parameters
        ----------
        expected, views, seen
            As :meth:`views` returns them.

        Returns
        -------
        list of str
            One line per disagreement.
        """
        data = Path(self._data_dir())
        lines = []
        for address, view in sorted(views.items()):
            where = f"worker {address} (host {view.host}, pid {view.pid})"
            if view.database is None:
                lines.append(f"{where}: {view.error}")
            elif not _same_database(view.database, expected):
                lines.append(f"{where} reaches another database ({_describe(view.database)}) than this client "
                             f"({_describe(expected)}): give every worker the client's VO_DATABASE_URL")
            if not view.token_found:
                lines.append(f"{where} sees another data folder at {data}: the token file this client wrote "
                             f"there is missing; every worker must see the client's data folder (VO_DATA) "
                             f"at the same path")
            elif not seen.get(address):
                lines.append(f"{where} wrote in {data} but this client does not see its file "
                             f"({view.error or 'another folder, or a cache not yet coherent'})")
        return lines

    def __call__(self, client, workers: list[str] | None = None) -> None:
        """Raise :class:`ClusterMismatchError` (one line) if any worker disagrees; the run then stops.

        Parameters
        ----------
        client : distributed.Client
            Connected to the cluster.
        workers : list of str, optional
            Addresses of the workers to check (default: every worker).
        """
        lines = self.problems(client, workers)
        if lines:
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            raise ClusterMismatchError(f"run stopped before these workers ran a batch: {lines[0]}{more}")


def _same_database(seen: tuple, expected: tuple) -> bool:
    # The system identifier, when both could read it, must match too; the rest always.
    if seen[:3] != expected[:3]:
        return False
    return seen[3] is None or expected[3] is None or seen[3] == expected[3]


def _describe(identity: tuple) -> str:
    return f"database {identity[0]} of the server started {identity[2]}"


def sessions_pinned(url: str) -> bool:
    """Return whether each client connection keeps its own server session (no transaction-mode pooler between).

    Two connections are opened and each asks for its server process between transactions: a direct
    connection (or a session-mode pooler) keeps one per connection, two different ones; a
    transaction-mode pooler hands the idle server session of the first to the second (or moves the
    first to another between its transactions).

    Parameters
    ----------
    url : str
        SQLAlchemy URL.

    Returns
    -------
    bool
        True when session-level advisory locks hold (see :data:`SESSION_REQUIREMENT`).
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    pid = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as first, engine.connect() as second:
            a1 = first.execute(pid).scalar()
            b = second.execute(pid).scalar()
            a2 = first.execute(pid).scalar()
        return a1 == a2 and a1 != b
    finally:
        engine.dispose()
