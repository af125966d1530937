"""Two `vo run` of one project at once, on one machine (embedded server) or sharing a database: nothing twice, nothing lost.

Whether the second run waits its turn (a per-project lock: it stops at once with exit 2) or shares the
batches (per-batch leases), what must hold is the same: both end cleanly, a final run completes, and
the result equals one uninterrupted run: no duplicate row, no epoch counted twice in a histogram.
"""

from __future__ import annotations

import random
import time

import pytest

from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres
from tests.reliability.harness import TALLY, assert_nothing_lost, run_vo, scaled, start_vo

RACES = range(scaled(1, 5))
SLOW = ("--set", "observatories.demo.download.latency=0.02")


def _race(config, data, url, rng: random.Random) -> list[tuple[int, str]]:
    first = start_vo("run", str(config), *SLOW, data=data, url=url)
    time.sleep(rng.uniform(0.0, 1.0))
    second = start_vo("run", str(config), *SLOW, data=data, url=url)
    ended = []
    for process in (first, second):
        _, stderr = process.communicate(timeout=300)
        ended.append((process.returncode, stderr))
    return ended


def _assert_clean(ended: list[tuple[int, str]]) -> None:
    for code, stderr in ended:
        busy = code == 2 and "is being run by another process" in stderr
        assert code == 0 or busy, (code, stderr)
        TALLY["races: runs that stopped at once as busy"] += busy


@pytest.mark.parametrize("race", RACES)
def test_two_runs_sharing_a_database_end_as_one_run(race, reference, module_database, tmp_path):
    config, data, url = reference["config"], tmp_path / "data", module_database()
    _assert_clean(_race(config, data, url, random.Random(race)))
    done = run_vo("run", str(config), data=data, url=url)
    assert done.returncode == 0, done.stderr
    assert_nothing_lost(reference["snapshot"], config, data, url, f"shared database, race {race}")
    TALLY["races run: two runs sharing a database"] += 1


@pytest.mark.parametrize("race", RACES)
def test_two_runs_on_one_machine_end_as_one_run(race, reference, tmp_path):
    config, data = reference["config"], tmp_path / "data"
    _assert_clean(_race(config, data, None, random.Random(100 + race)))  # both start the embedded server
    done = run_vo("run", str(config), data=data, url=None)
    assert done.returncode == 0, done.stderr
    server = EmbeddedPostgres(data)
    try:
        assert_nothing_lost(reference["snapshot"], config, data, server.start(), f"one machine, race {race}")
    finally:
        server.stop()
    assert server.postmaster_pid is None
    TALLY["races run: two runs on one machine (embedded server)"] += 1
