"""Adapters: everything that touches the world (database, files, surveys, CLI)."""
