"""The README's "Search your own targets": its shell block, taken from the README as written, run in a new folder.

On the real sample files of ../shared/data where they are (skipped otherwise), and on synthetic files of the same
names and layouts, which run everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tests.e2e.helpers import REPO, vo_env
from tests.integration.test_target_pixel_files import write_synthetic_tpf
from tests.unit.test_kepler_format import write_kepler_lc

HEADING = "## Search your own targets"
TARGETS = {"EPIC211117077": (55.967295, 24.841616), "EPIC211983544": (130.656765, 19.988607)}
#: Kepler's default quality mask (lightkurve's KeplerQualityFlags.DEFAULT_BITMASK).
KEPLER_DEFAULT_BITMASK = 1130799


def tutorial_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.count(f"\n{HEADING}\n") == 1, f"the README has no single {HEADING!r} section"
    return readme.split(f"\n{HEADING}\n", 1)[1].split("\n## ", 1)[0]


def tutorial_commands() -> str:
    """The first ``sh`` block under the heading, verbatim."""
    return re.search(r"```sh\n(.*?)```", tutorial_section(), re.S).group(1)


def readme_top_rows() -> list[tuple[str, str]]:
    """(source, kind) of each row of the `vo top` output the README shows."""
    block = re.search(r"```text\n(.*?)```", tutorial_section(), re.S).group(1)
    rows = [line.split() for line in block.strip().splitlines()[1:]]
    return [(row[0], row[2]) for row in rows]


def run_tutorial(folder, data, database_url) -> subprocess.CompletedProcess:
    """Run the README's commands in ``folder`` (laid out as the repository: catalogs/, configs/, results/)."""
    for name in ("catalogs", "configs", "results"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    script = 'set -euo pipefail\nvo() { "$VO_PYTHON" -m adapters.cli.main "$@"; }\n' + tutorial_commands()
    env = vo_env(folder / "vo-data", database_url)
    env.update(VO_PYTHON=sys.executable, DATA=str(data),
               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])]))
    return subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=1200)


def test_the_tutorial_is_one_shell_block_from_catalog_to_export():
    commands = [line.split()[:2] for line in tutorial_commands().splitlines() if line.startswith("vo ")]
    assert [c[1] for c in commands] == ["init", "ingest", "run", "top", "plot", "export"]


def check_common(done, folder) -> Table:
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in TARGETS:
        assert f"ingested 1 file(s) as k2 raw data of {name}" in out
    config = (folder / "configs" / "my_targets.yaml").read_text()
    for line in ("name: ID", "ra: RAJ2000", "dec: DEJ2000", "mag: Kpmag", "surveys: [k2]", "offline: true"):
        assert line in config
    assert (folder / "results" / "EPIC211117077.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = int(re.search(r"wrote detections \((\d+) rows, one per detection\)", out).group(1))
    detections = Table.read(folder / "results" / "my_targets_detections.ecsv", format="ascii.ecsv")
    assert len(detections) == written and "label" in detections.colnames
    assert set(detections["source"]) <= set(TARGETS)
    return detections


def top_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("source ") and "best S/N" in line)
    return [line.split() for line in lines[start + 1:start + 1 + len(TARGETS)]]


@pytest.mark.timeout(1500)
def test_the_tutorial_runs_on_the_real_sample_files(tmp_path, shared_data, empty_database_url):
    folder = tmp_path / "repo"
    done = run_tutorial(folder, shared_data, empty_database_url)
    detections = check_common(done, folder)
    rows = top_rows(done.stdout)
    assert [(row[0], row[2]) for row in rows] == readme_top_rows()  # what the README shows is what it prints
    # The strongest event of EPIC 211117077 is its big flare: the brightest good cadence of the file
    # (its rotation changes the flux by a few per cent, the flare by about 50 %).
    with fits.open(shared_data / "ktwo211117077-c04_llc.fits") as hdus:
        lc = hdus[1].data
        good = (np.isfinite(lc["TIME"]) & np.isfinite(lc["PDCSAP_FLUX"])
                & ((lc["SAP_QUALITY"] & KEPLER_DEFAULT_BITMASK) == 0))
        peak_bkjd = lc["TIME"][good][np.argmax(lc["PDCSAP_FLUX"][good])]
    peak_mjd = peak_bkjd + 2454833.0 - 2400000.5
    assert rows[0][0] == "EPIC211117077" and abs(float(rows[0][3]) - peak_mjd) < 1e-3
    assert float(rows[0][1]) > 50  # S/N of a 50 % flare on a 13.8 mag star
    strongest = detections[detections["source"] == "EPIC211117077"]
    assert abs(strongest["peak_mjd"][np.argmax(np.abs(strongest["snr"]))].mjd - peak_mjd) < 1e-3  # an ECSV Time


@pytest.mark.timeout(1500)
def test_the_tutorial_runs_on_synthetic_files_of_the_same_layout(tmp_path, empty_database_url):
    data = tmp_path / "synthetic"
    data.mkdir()
    ra, dec = TARGETS["EPIC211117077"]
    write_kepler_lc(data / "ktwo211117077-c04_llc.fits", n=400, kepler_id=211117077, mission="K2", season=4,
                    ra=ra, dec=dec)
    write_synthetic_tpf(data / "ktwo211983544-c18_lpd-targ.fits", n=150)
    folder = tmp_path / "repo"
    done = run_tutorial(folder, data, empty_database_url)
    check_common(done, folder)
    assert sorted(row[0] for row in top_rows(done.stdout)) == sorted(TARGETS)
    # vo run's status table: both targets selected and in the project, each with raw data, reduced and analysed.
    for label in ("sources", "sources with raw data", "sources reduced", "sources analysed", "lightcurves"):
        assert re.search(rf"^  {label} +2 +2$", done.stdout, re.MULTILINE), label
