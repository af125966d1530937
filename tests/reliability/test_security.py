"""Security: hostile source names, credentials kept out of everything written, the embedded server, permissions."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from tests.e2e.helpers import REPO, vo_command
from tests.http_server import Reply
from tests.reliability.harness import TALLY, doctor_check, run_vo, small_project

HOSTILE = [
    "../../escape", "/etc/passwd", "a/b/../../c", "..", ".", "...", "-rf", "~root", "$(touch pwned)", "`id`",
    "name\\with\\backslashes", "C:\\Windows\\x", "CON", "x" * 1000, "DEMO\u2010000001", "\uff24\uff25\uff2d\uff2f",
    "\u0410\u0412\u0421", "e\u0301", "\U0001F4A5 boom", "Robert'); DROP TABLE sources;--", "' OR '1'='1",
    "%s %(name)s {0}", "a;b|c&d>e", "\u202eevil\u202c", ".hidden", "trailing space ", "quote\"d",
]


def _hostile_project(folder: Path) -> Path:
    config = small_project(folder, rows=len(HOSTILE), batch_size=10)
    rows = "".join(f'"{name.replace(chr(34), chr(34) * 2)}",{10 + i},{-20 + i},{16 + i % 3}\n'
                   for i, name in enumerate(HOSTILE))
    (folder / "catalog.csv").write_text("name,ra,dec,mag\n" + rows, encoding="utf-8")
    return config


def test_hostile_source_names_stay_inside_the_data_folder_and_reach_sql_as_values(tmp_path, module_database):
    config, url = _hostile_project(tmp_path / "project"), module_database()
    data = tmp_path / "inside" / "data"
    around = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = sorted(connection.execute(text("SELECT name FROM sources")).scalars())
        tables = connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
    engine.dispose()
    # Every name stored as it was written (the catalog strips surrounding spaces), every table still there.
    assert stored == sorted(name.strip() for name in HOSTILE) and tables >= 10
    # Nothing was written outside the data folder, and nothing inside it leaves it.
    new = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in new if p not in around and p.parts[0] != "inside"] == []
    for path in data.rglob("*"):
        assert path.resolve().is_relative_to(data.resolve()) and not path.is_symlink(), path
        assert all(part.isascii() and not part.startswith("..") for part in path.relative_to(data).parts), path
    assert doctor_check(config, data, url).healthy
    exported = tmp_path / "detections.csv"
    assert run_vo("export", str(config), "detections", str(exported), data=data, url=url).returncode == 0
    TALLY["security: hostile source names run end to end"] += len(HOSTILE)


def _sql_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "text", "execute", "exec_driver_sql"):
            yield node


def _composed(node: ast.AST) -> bool:
    # psycopg2.sql.SQL("... {}").format(sql.Identifier(name)): quoting done by the driver, not by us.
    return isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "SQL"


def test_sql_is_never_built_from_strings_at_run_time():
    """Every SQL statement of the program is a constant or a composed identifier, so values travel as parameters."""
    offenders = []
    for path in sorted((REPO / "adapters").rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic revisions are constant DDL written by us, run by `vo db upgrade`
        for call in _sql_calls(ast.parse(path.read_text())):
            for arg in call.args[:1]:
                if isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                        isinstance(arg, ast.Call) and getattr(arg.func, "attr", "") == "format"
                        and not _composed(arg.func.value)):
                    offenders.append(f"{path.relative_to(REPO)}:{call.lineno}")
    assert offenders == []


# -- Credentials ------------------------------------------------------------------------------------------------

USER, PASSWORD = "mallory-\u00e9@example.org", "Marker-P4ss-7f3c9d"


def _irsa(archive, good_password: str) -> None:
    from tests.e2e.test_real_surveys import ztf_answer
    from tests.integration.test_ztf_client import LC_PATH, LOGIN_PATH

    def login(request):
        form = {k: v[0] for k, v in request.form.items()}
        if form.get("josso_username") == USER and form.get("josso_password") == good_password:
            return Reply(200, b"<html>welcome</html>", {"Content-Type": "text/html",
                                                        "Set-Cookie": "JOSSO_SESSIONID=s3ss10n; Path=/"})
        return Reply(200, b"<html><title>login failed</title></html>", {"Content-Type": "text/html"})

    def data(request):
        if "JOSSO_SESSIONID=s3ss10n" not in request.headers.get("Cookie", ""):
            return Reply(401, b"login required", {"Content-Type": "text/plain"})
        return ztf_answer(request)

    archive.route(LOGIN_PATH, login)
    archive.route(LC_PATH, data)


def test_credentials_never_reach_logs_configs_exports_or_the_database(tmp_path, fake_archive):
    from tests.e2e.test_real_surveys import write_config

    download = (f"  ztf:\n    download: {{base_url: '{fake_archive.url}', collection: ztf, retries: 0,"
                " rate_limit_per_s: 0}\n")
    config = write_config(tmp_path / "p", "ztf", [("A", 10.0, 20.0), ("B", 11.0, 21.0)], download)
    data = tmp_path / "data"  # the embedded server: the database's own files are under it, and grepped too
    secrets = {"VO_IRSA_USER": USER, "VO_IRSA_PASSWORD": PASSWORD}
    written = []
    _irsa(fake_archive, "another password")  # first the login is refused: failures are recorded, with messages
    refused = run_vo("run", str(config), "--json", data=data, url=None, **secrets)
    assert refused.returncode == 4 and json.loads(refused.stdout)["status"]["failed"] == 2, refused.stderr
    written += [refused.stdout, refused.stderr]
    _irsa(fake_archive, PASSWORD)
    for args in (("--debug", "run", str(config), "--json"),
                 ("export", str(config), "detections", str(data / "export.csv"))):
        done = run_vo(*args, data=data, url=None, **secrets)
        assert done.returncode == 0, (args, done.stderr)
        written += [done.stdout, done.stderr]
    assert json.loads(written[2])["status"]["downloaded"] == 2  # the login worked
    blobs = [w.encode() for w in written] + [p.read_bytes() for p in [*data.rglob("*"), *config.parent.rglob("*")]
                                              if p.is_file() and not p.is_socket()]
    for secret in (PASSWORD, USER):
        for variant in {secret.encode(), secret.encode("utf-16-le"), secret.replace("@", "%40").encode()}:
            assert not any(variant in blob for blob in blobs), f"{secret!r} was written somewhere"
    TALLY["security: files and outputs grepped for credentials"] += len(blobs)


# -- The embedded server and permissions ----------------------------------------------------------------------

def test_the_embedded_server_listens_on_a_private_unix_socket_only(tmp_path):
    server = EmbeddedPostgres(tmp_path / "data")
    try:
        engine = create_engine(server.start())
        with engine.connect() as connection:
            listen = connection.execute(text("SHOW listen_addresses")).scalar()
            rules = connection.execute(text("SELECT type FROM pg_hba_file_rules")).scalars().all()
        engine.dispose()
        assert listen == ""  # no TCP at all: only the socket below
        assert set(rules) <= {"local", "host"}  # host lines cannot match without a TCP listener
        socket_dir = os.stat(server.host)
        assert stat.S_IMODE(socket_dir.st_mode) == 0o700 and socket_dir.st_uid == os.geteuid()
        assert stat.S_IMODE(os.stat(server.pgdata).st_mode) == 0o700
    finally:
        server.stop()
    TALLY["security: embedded server checks"] += 1


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_nothing_created_is_world_writable_and_no_folder_is_loosened(tmp_path, umask):
    parent = tmp_path / "home"
    parent.mkdir(mode=0o750)
    os.chmod(parent, 0o750)
    config, data = small_project(tmp_path / "project"), parent / "vo-data"
    env = {k: v for k, v in os.environ.items() if k not in ("VO_DATABASE_URL", "VO_FAULT")}
    env["VO_DATA"] = str(data)
    done = subprocess.run(vo_command("run", str(config)), env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.umask(umask))  # embedded server: as a user runs it
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(parent).st_mode) == 0o750 and stat.S_IMODE(os.stat(tmp_path).st_mode) == \
        stat.S_IMODE(os.stat(tmp_path).st_mode)
    checked = 0
    for path in [data, *data.rglob("*")]:
        st = os.lstat(path)
        if stat.S_ISSOCK(st.st_mode):
            continue  # the server's socket; its folder (0700) is the access control
        mode = stat.S_IMODE(st.st_mode)
        assert not mode & 0o002, f"{path} is world-writable ({mode:o})"
        assert not mode & umask & 0o077 or "postgres" in path.relative_to(data).parts[:1], \
            f"{path} ignores the umask {umask:o} ({mode:o})"
        checked += 1
    TALLY["security: created files checked for permissions"] += checked
