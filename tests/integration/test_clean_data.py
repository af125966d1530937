"""``make clean-data``: the data folder goes, its embedded server stopped first; never under a live user."""

import subprocess
import sys
from pathlib import Path

from virtualobserver.adapters.cli.clean_data import main
from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres


def test_clean_data_refuses_while_the_server_is_used_and_removes_everything_after(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "vo-data"
    monkeypatch.setenv("VO_DATA", str(folder))
    (folder / "projects" / "demo").mkdir(parents=True)
    (folder / "projects" / "demo" / "lc.h5").write_bytes(b"x" * 1000)
    server = EmbeddedPostgres(folder)
    server.start()
    try:
        pid = server.postmaster_pid
        assert main() == 2  # this process holds a handle: a run in progress must not lose its database
        assert "in use by process" in capsys.readouterr().err
        assert (folder / "projects" / "demo" / "lc.h5").exists() and server.postmaster_pid == pid
    finally:
        server.stop()
    # A server left running by a process that died (its handle dead) is stopped, then the folder removed.
    leftover = subprocess.run([sys.executable, "-c", "import os, sys; from virtualobserver.adapters.postgres.embedded import "
                               f"EmbeddedPostgres; EmbeddedPostgres({str(folder)!r}).start(); os._exit(0)"],
                              capture_output=True, text=True, timeout=120)
    assert leftover.returncode == 0, leftover.stderr
    orphan = EmbeddedPostgres(folder).postmaster_pid
    assert orphan is not None
    assert main() == 0
    assert not Path(f"/proc/{orphan}").exists() or b"postgres" not in Path(f"/proc/{orphan}/cmdline").read_bytes()
    assert not folder.exists() and "removed" in capsys.readouterr().out
    assert main() == 0 and "nothing to clean" in capsys.readouterr().out


def test_make_clean_data_removes_the_folder(tmp_path):
    # The Makefile target itself, with this interpreter's environment as the venv (-o: never re-installed).
    import os
    import shutil

    if shutil.which("make") is None:
        import pytest

        pytest.skip("make is not installed")
    repo = Path(__file__).resolve().parents[2]
    folder = tmp_path / "vo-data"
    (folder / "raw" / "demo").mkdir(parents=True)
    (folder / "raw" / "demo" / "a.h5").write_bytes(b"x" * 2_000_000)
    env = {**os.environ, "VO_DATA": str(folder), "PYTHONPATH": str(repo)}
    done = subprocess.run(["make", "--no-print-directory", "-o", f"{sys.prefix}/.installed", "clean-data",
                           f"VENV={sys.prefix}"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not folder.exists() and f"removed {folder} (2.0 MB)" in done.stdout
