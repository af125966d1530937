"""The `fake_archive` pytest fixture (a local HTTP server), imported into tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.http_server import FakeArchive

__all__ = ["fake_archive"]


@pytest.fixture
def fake_archive():
    """A running FakeArchive, closed after the test."""
    archive = FakeArchive()
    try:
        yield archive
    finally:
        archive.close()
