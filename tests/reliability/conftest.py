"""Fixtures of the reliability suite: module-wide databases, the reference run, hypothesis profiles, figures."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import make_url

from tests.conftest import _admin
from tests.reliability.harness import FULL, run_vo, small_project, snapshot

# Hypothesis: a small default profile keeps `make test` fast; HYPOTHESIS_PROFILE=full runs the documented counts.
settings.register_profile("default", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("full", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "full" if FULL else "default"))


def _databases(postgres_url):
    names = []

    def create() -> str:
        name = f"vo_rel_{uuid.uuid4().hex[:12]}"
        _admin(postgres_url, f'CREATE DATABASE "{name}"')
        names.append(name)
        return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    yield create
    for name in names:
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def module_database(postgres_url):
    """Factory of empty databases on the session's server, dropped when the module ends."""
    yield from _databases(postgres_url)


@pytest.fixture(scope="session")
def reference_database(postgres_url):
    """Factory of databases kept for the whole session (the reference run's)."""
    yield from _databases(postgres_url)


@pytest.fixture(scope="session")
def reference(tmp_path_factory, reference_database):
    """An uninterrupted run of the small project (made once per session): config, data folder, URL, snapshot.

    Tests read it and never change it (they copy it, or run the same project elsewhere).
    """
    folder = tmp_path_factory.mktemp("reference")
    config = small_project(folder / "project")
    url, data = reference_database(), folder / "data"
    log = folder / "faults.log"
    done = run_vo("run", str(config), "--download-threads", "2", data=data, url=url, VO_FAULT_LOG=str(log))
    assert done.returncode == 0, done.stderr
    shot = snapshot(url, data)
    assert shot["counts"]["detections"] > 0 and shot["counts"]["injections"] > 0
    return {"config": config, "data": data, "url": url, "snapshot": shot, "log": log}
