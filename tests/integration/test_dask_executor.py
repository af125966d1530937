"""Batches on two local Dask workers over the real embedded PostgreSQL end as a run in one process,
even when a worker dies mid-batch."""

from __future__ import annotations

import os

import pytest
from dependency_injector import providers

from virtualobserver.adapters.container import build_container, close_container
from tests.e2e.helpers import REPO
from tests.e2e.test_kill_resume import assert_same, snapshot

pytest.importorskip("distributed")

DEMO = str(REPO / "configs" / "demo.yaml")
OVERRIDES = {"project.batch_size": 5, "observatories.simulation.injections_per_source": 2}
LIMIT = 40


@pytest.fixture(scope="module")
def dask_executor():
    """One local cluster of two worker processes for the module (it takes seconds to start)."""
    from virtualobserver.adapters.executors.dask_executor import DaskExecutor

    executor = DaskExecutor(workers=2)
    try:
        yield executor
    finally:
        executor.close()


def _run(monkeypatch, data_dir, url, executor=None) -> dict:
    monkeypatch.setenv("VO_DATA", str(data_dir))
    monkeypatch.setenv("VO_DATABASE_URL", url)
    container = build_container(DEMO, OVERRIDES, workers=1)
    if executor is not None:
        container.executor.override(providers.Object(executor))
    try:
        project = container.project()
        report = project.run(limit=LIMIT)
    finally:
        # The shared cluster outlives this run: release only the database.
        container.executor.reset_override()
        close_container(container)
    assert report.selected == LIMIT and not any(r.failed for r in report.stages.values())
    return report.as_dict()


def _arm_fault(spec):
    # Runs inside one worker: its next matching database commit kills the process (SIGKILL).
    from virtualobserver.adapters import faults

    os.environ["VO_FAULT"] = spec
    faults.reset()
    return os.getpid()


def test_two_workers_end_as_one_and_survive_a_killed_worker(monkeypatch, tmp_path, new_database, dask_executor):
    one_url, two_url, killed_url = new_database(), new_database(), new_database()
    one = _run(monkeypatch, tmp_path / "one", one_url)
    reference = snapshot(one_url, tmp_path / "one")
    assert reference["counts"]["sources"] == LIMIT and reference["counts"]["detections"] > 0

    two = _run(monkeypatch, tmp_path / "two", two_url, dask_executor)
    assert two == one
    assert_same(reference, snapshot(two_url, tmp_path / "two"))

    # One worker dies (SIGKILL) at its 4th commit: inside a batch, after its sources were registered
    # and before its last step committed. The batch runs again and the run ends as the reference.
    victim = next(iter(dask_executor.worker_pids()))
    killed_pid = dask_executor.client.run(_arm_fault, "db.before_commit:4", workers=[victim])[victim]
    report = _run(monkeypatch, tmp_path / "killed", killed_url, dask_executor)
    assert killed_pid not in dask_executor.worker_pids().values(), "the fault never fired"
    assert report["analyse"]["done"] == LIMIT
    assert_same(reference, snapshot(killed_url, tmp_path / "killed"))


def test_local_workers_keep_the_allocator_adaptive_and_do_not_profile(dask_executor):
    # Dask's nannies would set MALLOC_TRIM_THRESHOLD_, which fixes glibc's mmap threshold: every large
    # array is then mapped and unmapped anew (a batch 1.25x slower); and its profiler takes the GIL.
    import dask

    def worker_settings():
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled")

    expected = (os.environ.get("MALLOC_TRIM_THRESHOLD_"), False)  # a value set by the user is kept
    assert set(dask_executor.client.run(worker_settings).values()) == {expected}
