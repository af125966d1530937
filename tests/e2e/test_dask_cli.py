"""`vo run --workers 2` and `--scheduler` on the embedded server: workers attach to the driver's server, which stops after."""

import socket
import subprocess
import sys

import pytest

from tests.e2e.helpers import REPO, vo, vo_env, vo_json

pytest.importorskip("distributed")

DEMO = str(REPO / "configs" / "demo.yaml")
ARGS = ("--limit", "30", "--set", "project.batch_size=5", "--set", "observatories.simulation.enabled=false")


def test_run_with_two_dask_workers_on_the_embedded_server(tmp_path):
    data = tmp_path / "data"
    done = vo("run", DEMO, *ARGS, "--workers", "2", data_dir=data, database_url=None)
    assert done.returncode == 0, done.stderr
    # Progress from the workers' batches reached the CLI, stage by stage.
    assert "demo:analyse: 30/30 done" in done.stderr
    assert not (data / "postgres" / "postmaster.pid").exists(), "embedded server left running"
    status = vo_json("status", DEMO, *ARGS[2:], data_dir=data, database_url=None)
    assert (status["sources"], status["analysed"], status["failed"]) == (30, 30, 0)
    again = vo_json("run", DEMO, *ARGS, "--workers", "2", data_dir=data, database_url=None)
    assert again["nothing_to_do"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(address: str, count: int, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(count, timeout=timeout)


def test_run_on_an_existing_scheduler_whose_workers_share_the_server_and_data_folder(tmp_path):
    # A cluster started on its own (as on a cluster's login node): a scheduler and two worker processes,
    # none of them children of `vo`. The workers import the project's code and reach the driver's
    # embedded server through its socket and the shared data folder.
    data = tmp_path / "data"
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**vo_env(data, None), "PYTHONPATH": str(REPO)}
    python = sys.executable
    processes = [subprocess.Popen([python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            processes.append(subprocess.Popen([python, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                               "--no-dashboard", "--local-directory", str(tmp_path / "dask")],
                                              env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2)
        done = vo("run", DEMO, *ARGS, "--scheduler", address, data_dir=data, database_url=None)
        assert done.returncode == 0, done.stderr
        assert "demo:analyse: 30/30 done" in done.stderr
        status = vo_json("status", DEMO, *ARGS[2:], data_dir=data, database_url=None)
        assert (status["sources"], status["analysed"], status["failed"]) == (30, 30, 0)
        # The cluster outlives the run (it is not the driver's), and a second run on it finds nothing to do.
        assert all(p.poll() is None for p in processes)
        again = vo_json("run", DEMO, *ARGS, "--scheduler", address, data_dir=data, database_url=None)
        assert again["nothing_to_do"]
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
