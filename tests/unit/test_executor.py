"""Batch executors with fakes: the in-process default, and the path a worker process takes."""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass

from virtualobserver.services.executor import BatchExecutor, InProcessExecutor, pack_batch, run_batch_task, unpack_batch
from tests.factories import small_catalog
from virtualobserver.services.ports import RunLock
from tests.unit.test_project import make_project

# What a "worker" builds from its recipe: here the same fakes, so its writes are visible to the test.
_SHARED: dict = {}


@dataclass(frozen=True)
class FakeRecipe:
    """A picklable, hashable recipe, as the container's WorkerRecipe is."""

    key: str

    def __call__(self):
        return _SHARED[self.key]


class FakeRunLock(RunLock):
    """Records the names held."""

    def __init__(self):
        self.held_names = []

    @contextlib.contextmanager
    def hold(self, name, *, wait=False):
        self.held_names.append(name)
        yield


class PicklingExecutor(BatchExecutor):
    """Runs each batch as another process would receive it: function and batch through pickle, any order."""

    in_process = False

    def __init__(self):
        self.calls = 0

    def map_batches(self, fn, batches):
        shipped = [pickle.loads(pickle.dumps((fn, batch))) for batch in batches]
        for fn_copy, batch in reversed(shipped):  # completion order need not be submission order
            self.calls += 1
            yield fn_copy(batch)


def test_in_process_executor_yields_each_result_in_order():
    assert list(InProcessExecutor().map_batches(lambda b: sum(b), [[1, 2], [3], []])) == [3, 3, 0]


def test_pack_and_unpack_keep_every_field_and_the_id():
    sources = small_catalog(3).sources("p")
    sources[1].id = 7
    back = unpack_batch(pickle.loads(pickle.dumps(pack_batch(sources))))
    assert back == sources and [s.id for s in back] == [None, 7, None]
    assert [(s.mag, s.pmra, s.epoch) for s in back] == [(s.mag, s.pmra, s.epoch) for s in sources]


def test_a_run_through_an_out_of_process_executor_ends_as_the_in_process_one():
    reference, reference_state = make_project(n=10, batch_size=3)
    expected = reference.run().as_dict()

    driver, state = make_project(n=10, batch_size=3)
    worker, _ = make_project(state)  # the "worker's" own project over the same database
    _SHARED["p"] = worker
    driver.executor, driver.worker_recipe = PicklingExecutor(), FakeRecipe("p")
    events = []
    driver.progress.advance = lambda stage, done=1, **kw: events.append((stage, done, kw))
    report = driver.run()
    assert driver.executor.calls == 4
    assert report.as_dict() == expected
    assert driver.status() == reference.status()
    # Progress of the workers' batches reached the driver's sink, once per stage and batch.
    assert sum(done for stage, done, _ in events if stage == "fake:analyse") == 10
    assert driver.run().did_nothing


def test_each_batch_holds_its_own_lease_besides_the_project_lock():
    project, _ = make_project(n=5, batch_size=2)
    project.run_lock = FakeRunLock()
    project.run()
    names = project.run_lock.held_names
    assert names[0] == "p" and len(names) == 4 and all(n.startswith("p:batch:") for n in names[1:])


def test_run_batch_task_builds_the_project_once_per_process():
    project, _ = make_project(n=4, batch_size=2)
    built = []
    _SHARED["q"] = project

    @dataclass(frozen=True)
    class Counting(FakeRecipe):
        def __call__(self):
            built.append(1)
            return super().__call__()

    recipe = Counting("q")
    for batch in ([*small_catalog(4).sources("p")[:2]], [*small_catalog(4).sources("p")[2:]]):
        run_batch_task(recipe, "run", pack_batch(batch))
    assert len(built) == 1
