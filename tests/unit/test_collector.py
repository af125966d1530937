"""fewer_collections raises the youngest generation's threshold while batches run and restores it after."""

import functools
import gc
import threading

import pytest

from virtualobserver.domain.source import Source
from virtualobserver.services.collector import BATCH_THRESHOLD, fewer_collections
from virtualobserver.services.executor import pack_batch, run_batch_task
from tests.fakes import FakeSurveyClient
from tests.unit.test_project import make_project


@pytest.fixture(autouse=True)
def _default_threshold():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_the_threshold_is_raised_inside_and_restored_after_even_on_error():
    with pytest.raises(RuntimeError):
        with fewer_collections():
            assert gc.get_threshold() == (BATCH_THRESHOLD, 10, 10)
            raise RuntimeError("a batch failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_and_concurrent_blocks_restore_only_when_the_last_leaves():
    entered, release = threading.Event(), threading.Event()

    def other_run():
        with fewer_collections():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_run)
    with fewer_collections():
        thread.start()
        assert entered.wait(10)
        with fewer_collections():
            pass
        assert gc.get_threshold()[0] == BATCH_THRESHOLD  # the inner block left; the others still run
    assert gc.get_threshold()[0] == BATCH_THRESHOLD  # the thread's block still runs
    release.set()
    thread.join(10)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_or_a_collector_turned_off_is_left_alone():
    gc.set_threshold(10 * BATCH_THRESHOLD, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 10 * BATCH_THRESHOLD
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 10, 10)


class _Watching(FakeSurveyClient):
    seen: list = []

    def download(self, source):
        type(self).seen.append(gc.get_threshold()[0])
        return super().download(source)


def test_a_run_raises_the_threshold_while_its_batches_run_and_a_worker_while_its_batch_runs():
    _Watching.seen = []
    project, state = make_project(n=6)
    project.clients["fake"].__class__ = _Watching
    assert project.run().stages["download"].done == 6
    assert _Watching.seen == [BATCH_THRESHOLD] * 6
    assert gc.get_threshold() == (700, 10, 10)
    # A worker process runs each batch through run_batch_task.
    _Watching.seen = []
    batch = pack_batch([Source("w1", 10.0, 20.0, mag=17.0)])
    run_batch_task(functools.partial(_same, make_project(state, n=6)[0]), "run", batch)
    assert _Watching.seen == [BATCH_THRESHOLD] and gc.get_threshold() == (700, 10, 10)


def _same(project):
    project.clients["fake"].__class__ = _Watching
    return project
