"""`vo tui` in a real terminal (tmux): keys in, screen out, on a real PostgreSQL and the demo survey."""

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.e2e.helpers import REPO, vo_env, write_project

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux session on a private server (never the user's), 80x24."""

    def __init__(self, command: list[str], env: dict):
        self.socket = f"vo-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items() if k.startswith(("VO_", "PATH", "HOME")))
        line = f"cd {_quote(str(REPO))} && env {exports} TERM=xterm-256color " + " ".join(map(_quote, command))
        self.tmux("new-session", "-d", "-s", "vo", "-x", "80", "-y", "24", line + "; echo EXITED $?; sleep 30")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=20).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "vo")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "vo", *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@pytest.mark.timeout(180)
def test_vo_tui_runs_the_demo_project_by_keyboard(tmp_path, empty_database_url):
    config = write_project(tmp_path / "p", rows=20, batch_size=10, num_points=80)
    env = vo_env(tmp_path / "data", empty_database_url)
    env.setdefault("HOME", os.environ.get("HOME", str(tmp_path)))
    term = Tmux([sys.executable, "-m", "adapters.cli.main", "tui", str(config)], env)
    try:
        first = term.wait_for("Run/resume")
        assert "3 Run" in first and "e2e" in first
        term.keys("r")
        screen = term.wait_for("run finished")
        assert "download (demo)" in screen and "100%" in screen
        term.keys("5")
        screen = term.wait_for("detections ·")
        assert "by |S/N|" in screen
        term.keys("2")
        assert "20 rows" in term.wait_for("selected by the project")
        term.keys("q")
        assert "EXITED 0" in term.wait_for("EXITED")
    finally:
        term.close()
