"""Shared fixtures: the shared real-data folder, a real PostgreSQL server and fresh databases."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from virtualobserver.adapters.postgres import migrate
from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from virtualobserver.adapters.postgres.engine import make_engine, make_session_factory
from virtualobserver.adapters.postgres.orm import clear_mappers, start_mappers
from tests.http_fixtures import fake_archive  # noqa: F401  (a fixture for every test module)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# `vo run` uses every core by default (a local Dask cluster); the tests' `vo run`s and the processes they
# start (which inherit the environment) run their batches in one process, as the fault points, kills and
# counts of most tests assume. Tests of the default (test_workers_auto.py) and of clusters say otherwise.
os.environ.setdefault("VO_WORKERS", "1")


@pytest.fixture
def shared_data() -> Path:
    """The real survey files beside the repository (skips where absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """URL of a server's maintenance database: ``VO_DATABASE_URL`` if set, else an embedded server."""
    url = os.environ.get("VO_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    try:
        yield server.start()
    finally:
        server.stop()


def _admin(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE refuse to run inside a transaction block.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def new_database(postgres_url):
    """Factory of new, uniquely named databases (URLs), empty or copies of ``template``, all dropped after the test."""
    names = []

    def create(template: str | None = None) -> str:
        name = f"vo_test_{uuid.uuid4().hex[:12]}"
        _admin(postgres_url, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        names.append(name)
        return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    try:
        yield create
    finally:
        for name in names:
            _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(new_database):
    """URL of a new, uniquely named, empty database, dropped after the test."""
    return new_database()


@pytest.fixture
def database_url(new_database):
    """URL of a new database migrated to the newest schema.

    With ``VO_TEST_TEMPLATE_DATABASE`` set (the name of a database of the same server that is already
    migrated to the newest schema, as ``make test-mutation-persistence`` makes), a copy of it: the same
    schema in a fraction of the time the migrations take, which every mutant's tests pay again.
    """
    template = os.environ.get("VO_TEST_TEMPLATE_DATABASE")
    if template:
        return new_database(template)
    url = new_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def mappers():
    """Map the domain classes for the test and unmap them afterwards."""
    start_mappers()
    yield
    clear_mappers()


@pytest.fixture
def session_factory(database_url, mappers):
    """Session factory on the migrated test database."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def module_session_factory(postgres_url):
    """Session factory on a migrated database shared by one test module's tests; dropped after the module.

    For modules whose (module-scoped) fixtures build a project once on the real PostgreSQL; the domain
    classes stay mapped for the module.
    """
    name = f"vo_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    engine = None
    try:
        migrate.upgrade(url)
        start_mappers()
        engine = make_engine(url)
        yield make_session_factory(engine)
    finally:
        if engine is not None:
            engine.dispose()
        clear_mappers()
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The reliability suite's figures (tests/reliability/harness.py TALLY), printed at the end of the run. Under
# pytest-xdist each worker counts its own: they are sent to the controller when the worker ends.
def pytest_sessionfinish(session):
    """On an xdist worker, hand the worker's reliability figures to the controller."""
    if hasattr(session.config, "workeroutput"):
        from tests.reliability.harness import TALLY

        session.config.workeroutput["vo_tally"] = dict(TALLY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller, add a finished worker's reliability figures."""
    from tests.reliability.harness import TALLY

    TALLY.update(getattr(node, "workeroutput", {}).get("vo_tally", {}))


def pytest_terminal_summary(terminalreporter):
    """Print the reliability suite's figures (what tests/reliability/README.md reports)."""
    from tests.reliability.harness import TALLY

    if TALLY:
        terminalreporter.write_sep("-", "reliability figures (each with nothing lost)")
        for name, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{name}: {count}")
