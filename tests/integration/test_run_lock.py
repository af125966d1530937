"""PostgresRunLock: one run per project at a time, released when its holder ends (even killed)."""

import subprocess
import sys
import textwrap

import pytest

from adapters.postgres.engine import make_engine
from adapters.postgres.lock import PostgresRunLock
from domain.errors import ProjectBusyError


def test_second_holder_is_refused_until_release(database_url):
    first, second = make_engine(database_url), make_engine(database_url)
    try:
        with PostgresRunLock(first).hold("demo"):
            with pytest.raises(ProjectBusyError, match="project 'demo' is being run by another process"):
                with PostgresRunLock(second).hold("demo"):
                    pass
            with PostgresRunLock(second).hold("other project"):
                pass  # other projects are independent
        with PostgresRunLock(second).hold("demo"):
            pass
    finally:
        first.dispose()
        second.dispose()


def test_lock_of_a_killed_process_is_released(database_url):
    code = textwrap.dedent(f"""
        import os, signal
        from adapters.postgres.engine import make_engine
        from adapters.postgres.lock import PostgresRunLock
        with PostgresRunLock(make_engine({database_url!r})).hold("demo"):
            print("held", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "held" and done.returncode == -9
    engine = make_engine(database_url)
    try:
        with PostgresRunLock(engine).hold("demo"):  # the server dropped the dead session's lock
            pass
    finally:
        engine.dispose()
