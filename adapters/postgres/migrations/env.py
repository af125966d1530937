"""Alembic environment: runs migrations on the connection handed over by adapters.postgres.migrate."""

from alembic import context
from sqlalchemy import create_engine, pool

from virtualobserver.adapters.postgres.orm import metadata

config = context.config
# Autogenerate compares against the ORM tables (``alembic revision --autogenerate``).
target_metadata = metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or open one from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The URL goes through attributes rather than the ini options, whose interpolation mangles '%'.
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
