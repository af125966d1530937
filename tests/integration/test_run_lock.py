"""PostgresRunLock: one run per project at a time, released when its holder ends (even killed)."""

import subprocess
import sys
import textwrap

import pytest

from virtualobserver.adapters.postgres.engine import make_engine
from virtualobserver.adapters.postgres.lock import PostgresRunLock
from virtualobserver.domain.errors import ProjectBusyError


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
        from virtualobserver.adapters.postgres.engine import make_engine
        from virtualobserver.adapters.postgres.lock import PostgresRunLock
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


@pytest.mark.parametrize("wait", [True, False])
def test_a_server_gone_while_taking_the_lock_is_a_lost_connection(tmp_path, wait):
    # The batch runner retries a batch after DatabaseConnectionLost; a bare driver error ended the run
    # (a server restarted while a batch took its lease).
    from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
    from virtualobserver.domain.errors import DatabaseConnectionLost

    server = EmbeddedPostgres(tmp_path / "server")
    server.start()
    engine = make_engine(server.url())
    try:
        with PostgresRunLock(engine).hold("demo", wait=wait):
            pass  # a pooled connection now exists, and goes stale with the server
        server.stop()
        with pytest.raises(DatabaseConnectionLost):
            with PostgresRunLock(engine).hold("demo:batch:a:b", wait=wait):
                pass
        server.start()
        with PostgresRunLock(engine).hold("demo:batch:a:b", wait=wait):
            pass  # the retry gets a working connection
    finally:
        engine.dispose()
        server.stop()
