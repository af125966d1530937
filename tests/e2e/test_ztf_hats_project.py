"""A ZTF project read from a HATS collection, end to end and offline, through the ``vo`` command.

The collection is written in the test (tests/hats_writer.py) from a synthetic sky in the columns of the IRSA
answer (tests/ztf_hats_sky.py); the run downloads every source from it (no request to any archive), reduces
and analyses, and finds exactly the flares planted.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.e2e.helpers import vo, vo_json
from tests.hats_writer import write_hats_collection
from tests.ztf_hats_sky import synthetic_ztf_sky, write_catalog


@pytest.mark.parametrize("n", [pytest.param(1000, id="1000"),
                               pytest.param(10_000, id="10000", marks=[pytest.mark.slow, pytest.mark.timeout(3600)])])
def test_a_ztf_project_from_a_hats_collection_runs_offline_and_finds_the_planted_flares(tmp_path, n,
                                                                                          empty_database_url):
    catalog, columns, flaring = synthetic_ztf_sky(n, flare_every=n // 10)
    collection = write_hats_collection(tmp_path / "ztf_lc_hats", columns, max_rows=100_000)
    write_catalog(tmp_path / "catalog.csv", catalog)
    config = tmp_path / "project.yaml"
    config.write_text(f"""
project: {{name: ztf-hats-e2e, surveys: [ztf], batch_size: 1000}}
catalog: {{path: catalog.csv}}
observatories:
  analysis: {{threshold: 6.0}}
  ztf:
    download: {{access: hats, hats_path: '{collection}', offline: true}}
""")
    data = tmp_path / "data"
    # 10,000 sources take minutes on a loaded 2-core machine: more than vo_json's 300 s.
    done = vo("run", str(config), "--json", data_dir=data, database_url=empty_database_url, timeout=max(300, n * 0.3))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)["status"]
    assert status["downloaded"] == status["reduced"] == status["analysed"] == n and status["failed"] == 0
    assert status["lightcurves"] == 2 * n  # one zg and one zr lightcurve per source (one season each)
    top = vo_json("top", str(config), "--limit", str(len(flaring) + 3), data_dir=data,
                  database_url=empty_database_url)
    strongest = [row for row in top if row["best_snr"] is not None and row["best_snr"] >= 6.0]
    assert sorted(row["source"] for row in strongest) == sorted(catalog["name"][flaring].tolist())
    assert all(row["best_kind"] in ("brightening", "flare") for row in strongest)
    flare_mjd = np.sort(columns["mjd"][(columns["oid"] == columns["oid"][0] + 1)])[15:18]
    first = next(row for row in strongest if row["source"] == catalog["name"][0])
    assert flare_mjd[0] - 1.0 <= first["best_peak_mjd"] <= flare_mjd[-1] + 1.0
    again = vo_json("run", str(config), data_dir=data, database_url=empty_database_url)
    assert again["nothing_to_do"], again
