"""``vo --help`` and ``vo status`` start fast: they import only what they use (issue 18), checked without timing.

Each command runs in a fresh interpreter, which then lists the top-level packages it imported. The heavy
libraries (seconds of imports between them) must be absent: astropy, xarray, h5py, netCDF4, textual, dask,
matplotlib; for ``--help`` also numpy, sqlalchemy and YAML, for ``status`` the HTTP stack and Alembic (the
database is at the newest schema). The times are in benchmarks/results.md ("Start-up").
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.helpers import REPO, vo, vo_env, write_project

#: Packages no command that only reads counts or prints help needs.
HEAVY = {"astropy", "xarray", "h5py", "netCDF4", "hdf5plugin", "textual", "dask", "distributed", "matplotlib",
         "scipy", "lightkurve"}

# Runs `vo ARGS...` in this interpreter and prints its exit code and the top-level packages imported, as JSON,
# on the last line of stderr (stdout belongs to the command).
_PROBE = """
import json, sys
from virtualobserver.adapters.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help exits
    code = exc.code
print(json.dumps({"code": code, "packages": sorted({m.split(".")[0] for m in sys.modules})}), file=sys.stderr)
"""


def imported_by(*args: str, env: dict | None = None) -> tuple[int, set[str], str]:
    """Run ``vo ARGS`` in a fresh interpreter; return its exit code, the packages it imported and its stdout."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    return probe["code"], set(probe["packages"]), done.stdout


def test_help_imports_no_library_beyond_the_standard_one():
    code, packages, out = imported_by("--help")
    assert code == 0 and "catalog-gaia" in out and "status" in out  # every command is still listed
    assert not packages & (HEAVY | {"numpy", "sqlalchemy", "yaml", "requests", "urllib3", "alembic",
                                    "dependency_injector", "psycopg2"})


def test_sub_command_help_lists_its_choices_without_the_science():
    # The choices come from the domain's vocabulary, not from the modules that compute with them.
    code, packages, out = imported_by("rate", "--help")
    assert code == 0 and "microlensing" in out and "feldman-cousins" in out
    assert "numpy" not in packages and not packages & HEAVY


def test_status_imports_the_database_but_not_the_survey_readers(tmp_path, database_url):
    config = str(write_project(tmp_path / "p", rows=12, num_points=60))
    data = tmp_path / "data"
    run = vo("run", config, "--limit", "3", data_dir=data, database_url=database_url)
    assert run.returncode == 0, run.stderr

    code, packages, out = imported_by("status", "--json", config, env=vo_env(data, database_url))
    assert code == 0 and json.loads(out)["sources"] == 3
    assert {"sqlalchemy", "psycopg2", "numpy", "yaml"} <= packages  # it did reach the database and the catalog
    assert not packages & (HEAVY | {"requests", "urllib3", "alembic"})
