"""Alembic migrations on a real PostgreSQL: tables, idempotence, concurrency, agreement with the ORM."""

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from virtualobserver.adapters.postgres import migrate
from virtualobserver.adapters.postgres.orm import metadata

TABLES = {
    "projects", "sources", "raw_data", "lightcurves", "detections", "steps", "failures",
    "injections", "source_summaries", "histogram_parts", "archive_pace",
}


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_tables(empty_database_url):
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == TABLES | {"alembic_version"}
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_the_scripts_head_read_without_alembic_is_alembics():
    assert migrate.script_head() == migrate.head_revision() is not None


def test_a_database_at_the_head_is_left_alone_without_loading_alembic(database_url):
    # `vo status` and every command on a current database skip Alembic (most of a second to import).
    import subprocess
    import sys

    probe = ("import sys; from virtualobserver.adapters.postgres import migrate; migrate.upgrade(sys.argv[1]); "
             "print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe, database_url], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_upgrade_is_idempotent(database_url):
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert _tables(database_url) == TABLES | {"alembic_version"}


def test_concurrent_upgrades_do_not_collide(empty_database_url):
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(migrate.upgrade, [empty_database_url] * 4))
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_migration_matches_orm_tables(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_real_survey_columns_arrive_with_0003_and_leave_with_its_downgrade(empty_database_url):
    from alembic import command

    def columns(table):
        engine = create_engine(empty_database_url)
        try:
            return {c["name"] for c in inspect(engine).get_columns(table)}
        finally:
            engine.dispose()

    command.upgrade(migrate.alembic_config(empty_database_url), "0003")
    assert "epoch" in columns("sources") and "time_scale" in columns("lightcurves")
    command.downgrade(migrate.alembic_config(empty_database_url), "0002")
    assert "epoch" not in columns("sources") and "time_scale" not in columns("lightcurves")
