"""`vo run --workers 2` on the embedded server: workers attach to the driver's server, which stops after."""

import pytest

from tests.e2e.helpers import REPO, vo, vo_json

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
