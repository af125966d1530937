"""Every core by default, and a distributed run's workers checked: the same database and data folder, or no batch runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.helpers import REPO, vo, vo_env, vo_json

pytest.importorskip("distributed")

DEMO = str(REPO / "configs" / "demo.yaml")
ARGS = ("--set", "project.batch_size=10", "--set", "observatories.simulation.enabled=false")
DEFAULT = {"VO_WORKERS": ""}  # tests/conftest.py pins VO_WORKERS=1; empty: unset, the default (auto)


def _cpus_allowed() -> int:
    # The kernel's count of the cores this process may use, read apart from the code under test.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return sum(int(p.partition("-")[2] or p.partition("-")[0]) - int(p.partition("-")[0]) + 1
                       for p in line.split(":", 1)[1].strip().split(","))
    pytest.skip("no /proc/self/status")


def test_vo_run_of_the_demo_runs_its_batches_on_every_core(tmp_path):
    data = tmp_path / "data"
    # Four batches: one worker process per core does them (2 on the 2-core test machine).
    report = vo_json("run", DEMO, "--limit", "40", *ARGS, data_dir=data, database_url=None, env=DEFAULT)
    assert report["analyse"]["done"] == 40
    assert report["processes"] == min(_cpus_allowed(), 4)
    # One batch left to do (the first four are done) is not worth a cluster: it runs in the driver.
    single = vo_json("run", DEMO, "--limit", "50", *ARGS, data_dir=data, database_url=None, env=DEFAULT)
    assert single["processes"] == 1 and single["analyse"]["done"] == 10
    assert vo_json("status", DEMO, *ARGS, data_dir=data, database_url=None)["analysed"] == 50


def test_doctor_cluster_finds_every_worker_at_home(tmp_path):
    data = tmp_path / "data"
    done = vo("doctor", DEMO, "--cluster", "--workers", "2", data_dir=data, database_url=None)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cluster of 2 workers; database ") and str(data) in lines[0]
    assert sum("same database and data folder" in line for line in lines) == 2, done.stdout
    assert "each connection keeps its own server session" in done.stdout
    assert "pool_mode = session" in done.stdout
    assert not list((data / "cluster-check").iterdir()), "tokens and replies are removed"


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not _can_unshare(), reason="needs root and mount namespaces (unshare --mount)")
def test_a_worker_that_sees_another_data_folder_stops_the_run_before_any_batch(tmp_path, empty_database_url):
    # A real cluster: a scheduler and a worker that, like a node without the shared file system, has another
    # folder mounted at the data folder's path (a bind mount in its own mount namespace); the database is shared.
    data, elsewhere = tmp_path / "data", tmp_path / "node-local"
    data.mkdir()
    elsewhere.mkdir()
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**vo_env(data, empty_database_url), "PYTHONPATH": str(REPO)}
    python = sys.executable
    worker = (f"mount --bind {elsewhere} {data} && exec {python} -m distributed.cli.dask_worker {address} "
              f"--nthreads 1 --no-dashboard --local-directory {tmp_path / 'dask'}")
    processes = [subprocess.Popen([python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        processes.append(subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", worker],
                                          env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
        done = vo("run", DEMO, "--limit", "30", *ARGS, "--scheduler", address, data_dir=data,
                  database_url=empty_database_url)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("vo")]
        assert len(errors) == 1, done.stderr
        assert "run stopped before these workers ran a batch" in errors[0]
        assert "sees another data folder at " + str(data) in errors[0]
        assert "worker tcp://127.0.0.1:" in errors[0]
        # Nothing was registered, downloaded or written: the project has no source and the folder no product.
        engine = create_engine(empty_database_url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM sources")).scalar() == 0
        finally:
            engine.dispose()
        # (The driver records the version's manifest first; no batch wrote an array.)
        written = [p for p in data.rglob("*") if p.is_file()]
        assert not (data / "raw").exists() and not [p for p in written if p.suffix in (".h5", ".nc")], written
        assert not list(elsewhere.rglob("*")), "the worker wrote nothing where it looked"
        # vo doctor --cluster says the same, worker by worker, and exits 3.
        doctor = vo("doctor", DEMO, "--cluster", "--scheduler", address, data_dir=data,
                    database_url=empty_database_url)
        assert doctor.returncode == 3, doctor.stdout + doctor.stderr
        assert "DIFFERS" in doctor.stdout and "sees another data folder" in doctor.stdout
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
