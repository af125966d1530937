"""Alembic migration scripts of the metadata database (run through adapters.postgres.migrate)."""
