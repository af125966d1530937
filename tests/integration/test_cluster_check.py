"""The cluster check's parts on the real PostgreSQL and real folders: database identity, token files, sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from virtualobserver.adapters.executors.cluster_check import (CHECK_FOLDER, ClusterCheck, database_identity,
                                                              probe_worker, sessions_pinned)
from virtualobserver.domain.errors import ClusterMismatchError


class _Workers:
    """Runs the probe as a cluster's workers would, each with the database URL and folder its node resolves.

    ``seen`` maps a worker address to the (database URL, data folder) that worker reaches; what the client
    sends is replaced by it, as another node's DNS or mounts would.
    """

    def __init__(self, seen: dict):
        self.seen = seen

    def run(self, fn, url, data, token):
        return {address: fn(own_url or url, str(own_data or data), token)
                for address, (own_url, own_data) in self.seen.items()}


def test_one_database_has_one_identity_and_another_database_another(empty_database_url, new_database):
    first = database_identity(empty_database_url)
    assert first == database_identity(empty_database_url)
    assert first[0] == make_url(empty_database_url).database
    other = database_identity(new_database())
    assert other[0] != first[0] and other[1] != first[1]
    assert other[2] == first[2]  # the same server (its start time); the database tells them apart


def test_a_worker_reads_the_token_only_in_the_same_folder(tmp_path, empty_database_url):
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    (shared / CHECK_FOLDER).mkdir(parents=True)
    (shared / CHECK_FOLDER / "abc123").write_text("abc123")
    home = probe_worker(empty_database_url, str(shared), "abc123")
    assert home.token_found and home.reply and (shared / CHECK_FOLDER / home.reply).read_text() == "abc123"
    away = probe_worker(empty_database_url, str(elsewhere), "abc123")
    assert not away.token_found and away.reply is None and not elsewhere.exists()
    assert away.database == home.database == database_identity(empty_database_url)


def test_the_check_passes_when_every_worker_agrees_and_leaves_no_file(tmp_path, empty_database_url):
    data = tmp_path / "data"
    check = ClusterCheck(lambda: empty_database_url, lambda: data)
    workers = _Workers({"tcp://a:1": (None, None), "tcp://b:2": (None, None)})
    assert check.problems(workers) == []
    check(workers)  # does not raise
    assert list((data / CHECK_FOLDER).iterdir()) == []


def test_a_worker_in_another_folder_or_database_stops_the_run_with_one_line(tmp_path, empty_database_url,
                                                                          new_database):
    data, elsewhere, other_db = tmp_path / "data", tmp_path / "node-local", new_database()
    check = ClusterCheck(lambda: empty_database_url, lambda: data)
    workers = _Workers({"tcp://a:1": (None, None), "tcp://b:2": (None, elsewhere), "tcp://c:3": (other_db, None)})
    problems = check.problems(workers)
    assert len(problems) == 2, problems
    assert problems[0].startswith("worker tcp://b:2 ") and f"sees another data folder at {data}" in problems[0]
    assert problems[1].startswith("worker tcp://c:3 ") and "reaches another database" in problems[1]
    assert make_url(other_db).database in problems[1] and "VO_DATABASE_URL" in problems[1]
    with pytest.raises(ClusterMismatchError) as raised:
        check(workers)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("run stopped before these workers ran a batch: worker tcp://b:2 ")
    assert message.endswith("(and 1 more)")


def test_a_worker_that_cannot_reach_the_database_is_named(tmp_path, empty_database_url):
    data = tmp_path / "data"
    check = ClusterCheck(lambda: empty_database_url, lambda: data)
    down = "postgresql+psycopg2://nobody@127.0.0.1:9/none?connect_timeout=2"
    problems = check.problems(_Workers({"tcp://a:1": (down, None)}))
    assert len(problems) == 1 and problems[0].startswith("worker tcp://a:1 ")
    assert "cannot reach the database" in problems[0]


def test_direct_connections_keep_their_sessions(empty_database_url):
    # Behind a transaction-mode pooler this is False; no pooler is installed here to show it.
    assert sessions_pinned(empty_database_url)


def _square(x):
    return x * x


def test_workers_that_join_during_a_run_are_checked_before_the_next_batch():
    pytest.importorskip("distributed")
    from virtualobserver.adapters.executors.dask_executor import DaskExecutor

    checked = []
    executor = DaskExecutor(workers=1, preflight=lambda client, workers: checked.append(sorted(workers)))
    try:
        results = executor.map_batches(_square, iter(range(6)))
        first = next(results)
        assert len(checked) == 1 and len(checked[0]) == 1  # the one worker, before the first batch
        executor._cluster.scale(2)
        executor.client.wait_for_workers(2, timeout=120)
        rest = list(results)
    finally:
        executor.close()
    assert sorted([first, *rest]) == [x * x for x in range(6)]
    assert len(checked) == 2 and len(checked[1]) == 1 and checked[1] != checked[0], checked
