"""`vo tui` in a real terminal (tmux): keys in, screen out, on a real PostgreSQL and the demo survey."""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from tests.e2e.helpers import REPO, vo_env, vo_json, write_project

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux session on a private server (never the user's), 80x24 unless told otherwise."""

    def __init__(self, command: list[str], env: dict, size: tuple[int, int] = (80, 24)):
        self.socket = f"vo-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items() if k.startswith(("VO_", "PATH", "HOME")))
        # COLUMNS and LINES, when the shell inherits them (80 and 24 under pytest), would override the pane's size.
        line = (f"cd {_quote(str(REPO))} && env -u COLUMNS -u LINES {exports} TERM=xterm-256color "
                + " ".join(map(_quote, command)))
        # A detached session without a client can take the server's default-size (80x24) whatever -x and
        # -y say (seen under pytest): set both, in the one command that starts the server.
        width, height = map(str, size)
        self.tmux("start-server", ";", "set-option", "-g", "default-size", f"{width}x{height}", ";",
                  "new-session", "-d", "-s", "vo", "-x", width, "-y", height, line + "; echo EXITED $?; sleep 30")

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
    term = Tmux([sys.executable, "-m", "virtualobserver.adapters.cli.main", "tui", str(config)], env)
    try:
        first = term.wait_for("Run/resume")
        assert "3 Run" in first and "e2e" in first
        term.keys("r")
        screen = term.wait_for("run finished")
        assert "download (demo)" in screen and "100%" in screen
        assert "q Quit" in screen.splitlines()[-1]  # the footer whole at 80 columns
        term.keys("5")
        screen = term.wait_for("detections ·")
        assert "by |S/N|" in screen
        header = next(line for line in screen.splitlines() if re.match(r"^\s*id\s+source\b", line))
        assert re.search(r"\bsim\b", header) and re.search(r"\blabel\b", header), header
        assert "r a u Label" in screen and "q Quit" in screen
        term.keys("2")
        screen = term.wait_for("selected by the project")
        assert "20 rows" in screen
        header = next(line for line in screen.splitlines() if line.lstrip().startswith("name "))
        assert re.search(r"\bdet\b", header), header
        term.keys("q")
        assert "EXITED 0" in term.wait_for("EXITED")
    finally:
        term.close()


def half_block_rows(screen: str, width: int) -> list[str]:
    """Lines of the screen that hold three runs of ``width`` half blocks: a row of three stamps."""
    return [line for line in screen.splitlines() if len(re.findall(f"▀{{{width}}}", line)) >= 3]


@pytest.mark.timeout(240)
def test_the_source_screen_shows_three_stamps_of_a_detection_in_tmux_at_100x30(tmp_path, empty_database_url):
    folder = tmp_path / "p"
    folder.mkdir()
    write_demo_catalog(folder / "catalog.csv", rows=40, seed=7)
    config = folder / "project.yaml"
    config.write_text("project: {name: stamps, batch_size: 20}\ncatalog: {path: catalog.csv}\n"
                      "observatories:\n  analysis: {threshold: 5.0}\n  demo:\n    download: {num_points: 200, "
                      "flare_fraction: 0.3, dip_fraction: 0.0, images: true, neighbour_flare_fraction: 0.3}\n")
    data = tmp_path / "data"
    vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    env = vo_env(data, empty_database_url)
    env.setdefault("HOME", os.environ.get("HOME", str(tmp_path)))
    term = Tmux([sys.executable, "-m", "virtualobserver.adapters.cli.main", "tui", str(config)], env, size=(100, 30))
    try:
        term.wait_for("Run/resume")
        term.keys("5")
        term.wait_for("detections ·")
        term.keys("c")  # the detection with the largest centroid offset first: a neighbour's flare
        term.wait_for("by centroid offset σ")
        term.keys("PageUp", "PageUp", "PageUp")  # the cursor stays on the detection it was on: to the first row
        time.sleep(0.5)
        term.keys("Enter")
        screen = term.wait_for("· cen ")
        assert "ref" in screen and "peak" in screen and "diff" in screen
        # tmux has neither Kitty graphics nor Sixel here: each stamp is 11 half blocks wide and 6 rows high.
        deadline = time.monotonic() + 30
        while len(half_block_rows(screen, 11)) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = term.screen()
        assert len(half_block_rows(screen, 11)) == 6, screen
        term.keys("q")
        assert "EXITED 0" in term.wait_for("EXITED")
    finally:
        term.close()
