"""Helpers to drive the ``vo`` command as a user would, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from virtualobserver.adapters.catalogs.demo import write_demo_catalog

REPO = Path(__file__).resolve().parents[2]


def vo_command(*args: str) -> list[str]:
    """The ``vo`` command line run with this interpreter."""
    return [sys.executable, "-m", "virtualobserver.adapters.cli.main", *args]


def vo_env(data_dir: Path, database_url: str | None) -> dict:
    """Environment with a private data folder and (optionally) an explicit database."""
    env = {k: v for k, v in os.environ.items() if k not in ("VO_DATABASE_URL", "VO_DATA")}
    env["VO_DATA"] = str(data_dir)
    if database_url:
        env["VO_DATABASE_URL"] = database_url
    return env


def vo(*args: str, data_dir: Path, database_url: str | None, timeout: float = 300,
       env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``vo`` to completion and return the completed process (``env``: more environment variables)."""
    return subprocess.run(vo_command(*args), env={**vo_env(data_dir, database_url), **(env or {})}, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def vo_json(*args: str, data_dir: Path, database_url: str | None, code: int | None = 0,
            env: dict | None = None) -> dict:
    """Run ``vo ... --json`` and parse its stdout (asserting exit ``code``: 0, or 4 when sources failed; None: any)."""
    done = vo(*args, "--json", data_dir=data_dir, database_url=database_url, env=env)
    assert code is None or done.returncode == code, done.stderr
    return json.loads(done.stdout)


def write_project(folder: Path, *, rows: int = 60, batch_size: int = 10, num_points: int = 120,
                  latency: float = 0.0, extra: str = "", images: bool = False) -> Path:
    """Write a small demo catalog and a project YAML in ``folder``; return the YAML path.

    ``images`` gives the demo survey's lightcurves images, so detections get centroid shifts and stamps.
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_demo_catalog(folder / "catalog.csv", rows=rows, seed=7)
    config = folder / "project.yaml"
    config.write_text(f"""
project:
  name: e2e
  batch_size: {batch_size}
catalog:
  path: catalog.csv
observatories:
  analysis: {{threshold: 5.0}}
  demo:
    download: {{num_points: {num_points}, latency: {latency}, flare_fraction: 0.2, dip_fraction: 0.2,
                images: {str(images).lower()}}}
{extra}""")
    return config


def vo_on_terminal(*args: str, data_dir: Path, database_url: str | None, timeout: float = 300,
                   stdout_terminal: bool = False) -> tuple[int, str, str]:
    """Run ``vo`` with stderr (and, if asked, stdout) on a pseudo-terminal, as in an interactive shell.

    Returns
    -------
    (int, str, str)
        The exit code, stdout (piped; empty with ``stdout_terminal``) and everything the terminal received.
    """
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {**vo_env(data_dir, database_url), "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    process = subprocess.Popen(vo_command(*args), env=env, cwd=REPO, stdin=subprocess.DEVNULL, stderr=slave,
                               stdout=slave if stdout_terminal else subprocess.PIPE)
    os.close(slave)
    received, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the last writer closed the terminal
                break
            if not chunk:
                break
            received.append(chunk)
        elif process.poll() is not None:
            break
    os.close(master)
    stdout = "" if stdout_terminal else process.stdout.read().decode()
    if not stdout_terminal:
        process.stdout.close()
    code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    return code, stdout, b"".join(received).decode(errors="replace")
