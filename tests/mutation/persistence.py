"""Mutation testing of the persistence/resume core (``make test-mutation-persistence``; see persistence.md).

mutmut reads one ``[tool.mutmut]``, from the ``pyproject.toml`` of the folder it runs in, and the project's
own is the science core's. So this script runs mutmut in a scratch folder, ``build/mutation-persistence/``
(git-ignored), holding links to the code and tests and a ``pyproject.toml`` of its own: the pytest settings of
the project's and the ``[tool.mutmut]`` below. mutmut keeps its results in that folder's ``mutants/``, and
resumes there.

The mutated functions (:data:`SCOPE`) are the step bookkeeping of the services (which step is done for which
source at which version, what is pending and ready), the version filters of the PostgreSQL repositories, and
the histogram parts (how a batch's parts are written, recorded, merged and compacted). mutmut mutates whole
files; only the mutants of these functions are run and counted.

The integration tests need PostgreSQL. Each mutant's tests run in a child forked by mutmut, as a pytest
session of their own, so the ``postgres_url`` fixture would start an embedded server per mutant: this script
starts one for the whole run instead (``VO_DATABASE_URL``), without fsync (a scratch server: nothing on it
needs to survive a crash), and migrates one template database that each test's database is copied from
(``VO_TEST_TEMPLATE_DATABASE``, see ``tests/conftest.py``). Every test still gets a database of its own.

Usage::

    python -m tests.mutation.persistence [--max-children N] [--report-only | --all | --survivors] [MUTANT_GLOB ...]

Without options, the mutants of :data:`SCOPE` not run yet are run (all of them the first time);
``--all`` runs them all again, ``--survivors`` the survivors (after new tests), globs those named.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from tests.mutation.sample import package_name

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "mutation-persistence"
#: Linked into the scratch folder. ``virtualobserver`` is the package folder, whose layer folders are themselves
#: links: mutmut walks and copies them as real folders into ``mutants/virtualobserver/`` and names each mutant by
#: its path there (``virtualobserver.services.stages.x_pending__mutmut_1``), which is the mutated function's
#: ``__module__``, as mutmut's trampoline requires to activate it.
LINKED = ("virtualobserver", "tests", "configs", "catalogs")
TEMPLATE = "vo_mutation_template"

#: Mutated functions by file, as mutmut names them (``x_<function>`` or ``xǁ<Class>ǁ<method>``; ``*`` for all).
#: Chosen to fit about half an hour on one core (persistence.md lists what is left out and why).
SCOPE = {
    # Step bookkeeping: what is pending and ready, what a batch marks done, and when a batch's sources are new.
    "virtualobserver/services/stages.py": ["x_pending", "x__fresh", "x_finish", "x_save_histogram_parts"],
    "virtualobserver/services/batch_runner.py": ["xǁBatchRunnerǁ_run_batch", "xǁBatchRunnerǁ_add_parts"],
    # Histogram parts: merged and compacted.
    "virtualobserver/services/histograms.py": ["*"],
    # Version filters of the repositories and the step records.
    "virtualobserver/adapters/postgres/repository.py": [
        "x__in_project", "xǁSqlAlchemyRawDataRepositoryǁget_many", "xǁSqlAlchemyLightcurveRepositoryǁfor_sources",
        "xǁSqlAlchemyStepRepositoryǁdone", "xǁSqlAlchemyStepRepositoryǁdone_names",
        "xǁSqlAlchemyStepRepositoryǁclear_failures",
    ],
    "virtualobserver/adapters/postgres/science_repository.py": [
        "xǁSqlAlchemyHistogramPartRepositoryǁkeys", "xǁSqlAlchemyHistogramPartRepositoryǁreplace",
    ],
}

#: Tests each mutant may run (mutmut runs those that call the mutated function, ``-x``): the PostgreSQL
#: repository, version and resume tests, and the unit tests of runs, parts and compaction.
TESTS = [
    "tests/integration/test_postgres_versions.py",
    "tests/integration/test_resume_postgres.py",
    "tests/integration/test_postgres_repository.py",
    "tests/integration/test_postgres_science.py",
    "tests/integration/test_postgres_persistence_core.py",
    "tests/unit/test_project.py",
    "tests/unit/test_histogram_runs.py",
]


def scope_globs() -> list[str]:
    """Mutant-name globs of :data:`SCOPE` (``virtualobserver.services.stages.x_pending__mutmut_*``, ...)."""
    globs = []
    for path, functions in SCOPE.items():
        module = path[: -len(".py")].replace("/", ".")
        globs += [f"{module}.{function}__mutmut_*" for function in functions]
    return globs


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def scratch_pyproject() -> str:
    """The scratch folder's pyproject.toml: the project's pytest settings and the persistence ``[tool.mutmut]``."""
    text = (ROOT / "pyproject.toml").read_text()
    pytest_section = re.search(r"^\[tool\.pytest\.ini_options\]\n.*?(?=^\[)", text, re.S | re.M).group(0)
    return (
        "# Written by tests/mutation/persistence.py (make test-mutation-persistence); do not edit.\n"
        + pytest_section
        + "\n[tool.mutmut]\n"
        + 'source_paths = ["virtualobserver/services", "virtualobserver/adapters"]\n'
        + f"only_mutate = {_toml_list(list(SCOPE))}\n"
        + 'also_copy = ["virtualobserver/__init__.py", "virtualobserver/_release.py", "virtualobserver/domain", '
          '"virtualobserver/tui", "configs", "catalogs"]\n'
        + f"pytest_add_cli_args_test_selection = {_toml_list(TESTS)}\n"
        + 'pytest_add_cli_args = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]\n'
        # As for the science core: workers forked from a server that only collected the tests.
        + 'process_isolation = "forkserver"\n'
        # Error messages and log lines say nothing about what is stored or skipped.
        + "do_not_mutate_patterns = ['^\\s*raise ', 'warnings\\.warn\\(', 'logger\\.(debug|info|warning|error)\\(']\n"
    )


def prepare() -> None:
    """Make the scratch folder: links to the code and tests, and its pyproject.toml."""
    WORK.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = WORK / name
        if link.is_symlink() and link.resolve() == ROOT / name:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(ROOT / name, target_is_directory=True)
    (WORK / "pyproject.toml").write_text(scratch_pyproject())


def _server_cpu(pid: int | None) -> float:
    # CPU seconds of the postmaster and its reaped backends (utime, stime, cutime, cstime of /proc/PID/stat).
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_database():
    """Start the scratch PostgreSQL server (no fsync) and migrate the template database; return (server, url)."""
    from sqlalchemy import create_engine, make_url, text

    from virtualobserver.adapters.postgres import migrate
    from virtualobserver.adapters.postgres.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(WORK / "pg")
    url = server.start()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            # A scratch server: a crash may lose it whole, so nothing is flushed to disk (dropping a
            # database after each test took seconds with fsync on).
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                connection.execute(text(f"ALTER SYSTEM SET {setting} = off"))
            connection.execute(text("SELECT pg_reload_conf()"))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    finally:
        engine.dispose()
    migrate.upgrade(make_url(url).set(database=TEMPLATE).render_as_string(hide_password=False))
    return server, url


def run_mutmut(globs: list[str], max_children: int, url: str) -> int:
    """Run ``mutmut run`` in the scratch folder against the scratch server; return its exit code."""
    env = {**os.environ, "VO_DATABASE_URL": url, "VO_TEST_TEMPLATE_DATABASE": TEMPLATE}
    mutmut = Path(sys.executable).with_name("mutmut")
    return subprocess.call([str(mutmut), "run", "--max-children", str(max_children), *globs], cwd=WORK, env=env)


def scoped_results(root: Path, globs: list[str]) -> dict[str, int | None]:
    """Exit code (None: not run) of every mutant of ``root``'s meta files whose name matches ``globs``."""
    found: dict[str, int | None] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(name, g) for g in globs):
                found[name] = code
    return found


def report(globs: list[str]) -> int:
    """Print the per-function and per-file scores of the mutants in scope, and the survivors."""
    from tests.mutation_report import _KILLED, _NO_TESTS, _SURVIVED, _TIMEOUT

    results = scoped_results(WORK / "mutants", globs)
    if not results:
        print(f"no mutmut results in scope under {WORK}/mutants: run `make test-mutation-persistence` first")
        return 1

    def outcome(code):
        return ("not run" if code is None else "killed" if code in _KILLED else "survived" if code in _SURVIVED
                else "timeout" if code in _TIMEOUT else "no tests" if code in _NO_TESTS else "other")

    keys = ("mutants", "killed", "survived", "timeout", "no tests", "not run", "other")
    rows: dict[str, dict[str, int]] = {}
    for name, code in results.items():
        function = name.split("__mutmut_")[0]
        for row in (function, "**all**"):
            counts = rows.setdefault(row, dict.fromkeys(keys, 0))
            counts["mutants"] += 1
            counts[outcome(code)] += 1
    print("| function | " + " | ".join(keys) + " | score |")
    print("| --- |" + " ---: |" * (len(keys) + 1))
    for row in sorted(rows, key=lambda r: (r == "**all**", r)):
        counts = rows[row]
        run = counts["mutants"] - counts["not run"]
        score = 100.0 * (counts["killed"] + counts["timeout"]) / run if run else float("nan")
        print(f"| {row} | " + " | ".join(str(counts[k]) for k in keys) + f" | {score:.1f} % |")
    survivors = sorted(name for name, code in results.items() if outcome(code) in ("survived", "no tests", "other"))
    if survivors:
        print("\nsurvivors (`cd build/mutation-persistence && ../../.venv/bin/mutmut show NAME`):")
        for name in survivors:
            print(f"  {name}  ({outcome(results[name])})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--report-only", action="store_true", help="print the scores of the last run only")
    parser.add_argument("--all", action="store_true", help="run every mutant in scope again (default: those not run)")
    parser.add_argument("--survivors", action="store_true", help="run the survivors in scope again (after new tests)")
    parser.add_argument("mutants", nargs="*", help="mutant-name globs within the scope (run again)")
    args = parser.parse_args(argv)
    globs = scope_globs()
    prepare()
    if not args.report_only:
        # mutmut runs every mutant it is given by name again, and every mutant of the mutated files when given
        # none: so, after the first run, the names of those of the scope still to run are given.
        done = scoped_results(WORK / "mutants", globs)
        if args.mutants:
            chosen = [package_name(glob) for glob in args.mutants]
        elif args.all or not done:
            chosen = globs
        elif args.survivors:
            chosen = [name for name, code in done.items() if code in (0, 5, 33)]
        else:
            chosen = [name for name, code in done.items() if code is None]
        if not chosen:
            print("nothing to run in scope (--all runs everything again, --survivors the survivors)")
            return report(globs)
        server, url = start_database()
        pid = server.postmaster_pid
        before, started = _server_cpu(pid), time.time()
        try:
            code = run_mutmut(chosen, args.max_children, url)
        finally:
            wall, server_cpu = time.time() - started, _server_cpu(pid) - before
            server.stop()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"\nmutmut exit code {code}; wall {wall:.0f} s; CPU {usage.ru_utime + usage.ru_stime:.0f} s in mutmut "
              f"and its tests, {server_cpu:.0f} s in PostgreSQL")
    return report(globs)


if __name__ == "__main__":
    sys.exit(main())
