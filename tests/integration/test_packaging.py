"""The installed package: one top-level name, ``virtualobserver``, and a version that tells commits apart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from virtualobserver._release import release

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_release_names_the_commit():
    # setuptools-scm's local version carries "g" + the abbreviated commit; a fixed "0.1.0" would fail here.
    head = _git("rev-parse", "--short=7", "HEAD")
    assert f"g{head}" in release(), (release(), head)


def test_wheel_installs_one_top_level_package(tmp_path):
    # PyPI has packages named domain, services, adapters and tui: a wheel that installed ours under those names
    # would overwrite theirs. The build maps the top-level layer folders into virtualobserver/.
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet", "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("virtualobserver-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"virtualobserver"}, tops
    for layer in ("domain", "services", "adapters", "tui"):
        assert f"virtualobserver/{layer}/__init__.py" in names
    # Data files of the layers travel with them: the TUI's stylesheet and the migrations' template.
    assert "virtualobserver/tui/app.tcss" in names
    assert "virtualobserver/adapters/postgres/migrations/script.py.mako" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "vo = virtualobserver.adapters.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_layer_names_are_not_importable_on_their_own(tmp_path):
    # Outside the checkout only virtualobserver.* exists: nothing answers to the bare layer names.
    code = "import importlib.util as u; print([n for n in ('domain', 'services', 'adapters', 'tui') if u.find_spec(n)])"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a checkout on PYTHONPATH has them
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_no_code_imports_the_bare_layer_names():
    # In a checkout the repository's root is on sys.path, so `import domain` still works there, and loads a
    # second copy of every module (an `except DataError` would then miss the other copy's DataError). Code run
    # in subprocesses (strings) and the README's examples count too.
    layers = "|".join(("domain", "services", "adapters", "tui"))
    bare = re.compile(rf"(?<![\w.])(?:from|import) (?:{layers})(?:\.\w+)*(?: import |\s*$|\s+as\s)", re.M)
    files = [p for d in ("domain", "services", "adapters", "tui", "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    files.append(ROOT / "README.md")
    offenders = [f"{p.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0).strip()}"
                 for p in files for text in [p.read_text()] for m in bare.finditer(text)]
    assert not offenders, offenders
