"""The machinery the suite relies on: the fault hook and the atomic writer's clean-up of killed writers' files."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys

import pytest

from virtualobserver.adapters import faults
from virtualobserver.adapters.files import atomic
from virtualobserver.adapters.files.atomic import atomic_path, is_temporary


def test_fault_points_are_inert_without_the_variable(monkeypatch):
    monkeypatch.delenv("VO_FAULT", raising=False)
    monkeypatch.delenv("VO_FAULT_LOG", raising=False)
    for _ in range(3):
        faults.fault_point("hdf5.before_rename")  # nothing happens, nothing is counted


def test_an_enospc_fault_fires_at_its_hit_only_and_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("VO_FAULT", "netcdf.before_fsync:2:enospc")
    faults.reset()
    faults.fault_point("netcdf.before_fsync", tmp_path / "a.nc")
    with pytest.raises(OSError) as raised:
        faults.fault_point("netcdf.before_fsync", tmp_path / "b.nc")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "b.nc")
    faults.fault_point("netcdf.before_fsync", tmp_path / "c.nc")  # once only
    faults.reset()


def test_a_kill_fault_is_a_real_sigkill(tmp_path):
    code = "from virtualobserver.adapters.faults import fault_point\nfor _ in range(5): fault_point('db.before_commit')\nprint('alive')"
    env = {**os.environ, "VO_FAULT": "db.before_commit:3", "VO_FAULT_LOG": str(tmp_path / "log")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL and "alive" not in done.stdout
    assert (tmp_path / "log").read_text().split() == ["db.before_commit"] * 3


def test_a_full_disk_leaves_the_old_file_and_no_temporary(monkeypatch, tmp_path):
    target = tmp_path / "x.h5"
    target.write_bytes(b"old")
    monkeypatch.setenv("VO_FAULT", "hdf5.before_fsync:1:enospc")
    faults.reset()
    with pytest.raises(OSError, match="No space left on device") as raised:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"new")
    faults.reset()
    assert raised.value.filename == str(target) and target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]


def test_the_next_write_removes_what_killed_writers_left_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    left = tmp_path / f".a.h5.vo-tmp-{atomic._HOST}-{dead_pid}"
    legacy = tmp_path / f".b.h5.tmp-{dead_pid}"
    download = tmp_path / f".c.tbl.vo-tmp-{atomic._HOST}-{dead_pid}.x1y2_z.part"
    alive = tmp_path / f".d.h5.vo-tmp-{atomic._HOST}-{os.getppid()}"
    elsewhere = tmp_path / f".e.h5.vo-tmp-otherhost-{dead_pid}"
    for path in (left, legacy, download, alive, elsewhere):
        path.write_bytes(b"partial")
        assert is_temporary(path.name)
    with atomic_path(tmp_path / "new.h5") as tmp:
        tmp.write_bytes(b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, elsewhere.name, "new.h5"])
    assert not is_temporary("manifest.yaml") and not is_temporary(".manifest.yaml.tmp-12-abcdef123456")
