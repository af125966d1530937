"""`vo run --workers 2` against a local IRSA: the two Dask workers keep ZTF's rate_limit_per_s and max_concurrency
together (the archive's request log), as each worker takes its turns from the project database."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.helpers import vo
from tests.http_server import Reply
from tests.integration.test_ztf_client import LC_PATH, encode, ztf_table

pytest.importorskip("distributed")

RATE = 5.0
SOURCES = 40
#: Scheduling delay between a turn and the request reaching the archive on a loaded 2-core machine, with
#: worker processes (see JITTER in tests/integration/test_shared_archive_limits.py).
JITTER = 0.15
#: Slack of the span of all requests (a late first arrival shortens it); far below the half of it that two
#: workers pacing only themselves would save.
SPAN_SLACK = 0.3


def write_ztf_project(folder, archive_url: str):
    rng = np.random.default_rng(7)
    rows = ["name,ra,dec,mag"] + [f"T{k:03d},{ra:.5f},{dec:.5f},17.0" for k, (ra, dec) in
                                   enumerate(zip(rng.uniform(0, 360, SOURCES), rng.uniform(-20, 70, SOURCES)))]
    (folder / "targets.csv").write_text("\n".join(rows) + "\n")
    config = folder / "ztf.yaml"
    config.write_text(f"""
project:
  name: shared-limits
  surveys: [ztf]
  batch_size: 5
catalog:
  path: targets.csv
observatories:
  ztf:
    download:
      base_url: {archive_url}
      rate_limit_per_s: {RATE}
      max_concurrency: 2
      retries: 1
      backoff_s: 0.0
""")
    return config


def test_two_workers_of_a_run_keep_the_archive_rate_together(tmp_path, fake_archive, empty_database_url):
    # Nothing at any position: one small answer per source (IRSA's empty IPAC table), kept as empty raw data.
    empty = encode(ztf_table([]), "ipac_table")
    fake_archive.route(LC_PATH, lambda request: Reply(200, empty, {"Content-Type": "text/plain"}, delay=0.05))
    config = write_ztf_project(tmp_path, fake_archive.url)
    done = vo("run", str(config), "--workers", "2", data_dir=tmp_path / "data", database_url=empty_database_url)
    assert done.returncode == 0, done.stderr[-3000:]
    times = sorted(r.time for r in fake_archive.requests if r.path == LC_PATH)
    assert len(times) == SOURCES
    over = [(i, j, times[j] - times[i]) for i in range(len(times)) for j in range(i + 1, len(times))
            if j - i > 1 + RATE * (times[j] - times[i] + JITTER)]
    assert over == []
    # 40 turns 1/5 s apart span 39/5 s; two workers pacing only themselves would take about half that.
    assert times[-1] - times[0] >= (SOURCES - 1) / RATE - SPAN_SLACK
    assert fake_archive.max_in_flight <= 2
