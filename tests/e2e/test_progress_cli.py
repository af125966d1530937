"""Progress of long commands: on a terminal, what the command does and bars with counts, on stderr; nothing
without a terminal; results on stdout untouched. Also one-line errors for unknown names (evidence)."""

import re
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.e2e.helpers import vo, vo_json, vo_on_terminal, write_project

#: Terminal control sequences (colours, cursor moves, line erases) between the text a terminal shows.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROWS = 10


def shown(received: str) -> str:
    """The text a terminal received, without its control sequences, one redraw per line."""
    return _CONTROL.sub("", received).replace("\r\n", "\n").replace("\r", "\n")


def bar_states(text: str, stage: str) -> list[tuple[int, int]]:
    """Every ``done/total`` a stage's bar showed, in order."""
    return [(int(a), int(b)) for a, b in re.findall(rf"{re.escape(stage)}\s+\S*\s*(\d+)/(\d+)", text)]


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE refuse transactions
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def project(tmp_path_factory, postgres_url):
    # One run shared by the module's tests (on its own database), since `vo run` is the slow part.
    folder = tmp_path_factory.mktemp("progress")
    config = write_project(folder / "p", rows=ROWS)
    data = folder / "data"
    name = f"vo_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        vo_json("run", str(config), data_dir=data, database_url=url)

        def on_terminal(command, *args, **kwargs):
            return vo_on_terminal(command, str(config), *args, data_dir=data, database_url=url, **kwargs)

        def piped(command, *args):
            return vo(command, str(config), *args, data_dir=data, database_url=url)

        yield on_terminal, piped, (config, data, url)
    finally:
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_doctor_says_what_it_does_and_counts_the_files_it_reads(project):
    on_terminal, _, _ = project
    code, out, received = on_terminal("doctor")
    text = shown(received)
    assert code == 0, text
    # From the start (loading the modules takes seconds), then each phase, by name.
    assert "vo doctor: starting" in text and "vo doctor: opening the database" in text
    assert "vo doctor: reading every file and record" in text
    states = bar_states(text, "recorded files read")
    assert states and states[-1][0] == states[-1][1] > 0, text  # the bar reached its total
    assert all(total == states[-1][1] for _, total in states)
    # The result is on stdout, without a control sequence; the bar stays on stderr only.
    assert out.startswith("checked ") and "\x1b" not in out and "recorded files read" not in out


def test_export_counts_the_sources_read(project, tmp_path):
    on_terminal, _, _ = project
    code, out, received = on_terminal("export", "--what", "lightcurves", "--out", str(tmp_path / "lc.ecsv"))
    text = shown(received)
    assert code == 0, text
    assert f"vo export: writing lightcurves to {tmp_path / 'lc.ecsv'}" in text
    assert bar_states(text, "sources read")[-1] == (ROWS, ROWS), text  # every source of the catalog
    assert re.match(r"wrote lightcurves \(\d+ rows, one per epoch\) to ", out), out
    code, out, received = on_terminal("export", "--what", "detections", "--limit", "3",
                                      "--out", str(tmp_path / "d.ecsv"))
    assert code == 0 and bar_states(shown(received), "sources read")[-1] == (3, 3)
    # Each count says what it counts: a detections table has one row per detection.
    assert re.match(r"wrote detections \(\d+ rows, one per detection\) to ", out) and "\x1b" not in out, out


def test_prune_shows_the_rows_and_files_it_removes(project):
    on_terminal, piped, (config, data, url) = project
    # A second analysis version, so that the first one can be pruned without --force.
    # The new threshold is the current configuration only while --set gives it: every command gets it.
    current = ("--set", "observatories.analysis.threshold=6")
    vo_json("run", str(config), *current, data_dir=data, database_url=url)
    versions = vo_json("versions", str(config), *current, data_dir=data, database_url=url)
    old = next(v["version"] for v in versions["versions"] if v["version"] != versions["current"])
    plan = vo_json("prune", str(config), "--version", old, "--step", "analysis", "--dry-run", *current,
                   data_dir=data, database_url=url)
    code, out, received = on_terminal("prune", "--version", old, "--step", "analysis", *current)
    text = shown(received)
    assert code == 0, text
    assert "vo prune: finding the rows and files of the version" in text and "vo prune: removing" in text
    assert bar_states(text, "step versions")[-1] == (len(plan["products"]),) * 2, text
    assert bar_states(text, "files removed")[-1] == (plan["files"],) * 2, text
    assert plan["files"] > 0 and out.startswith(f"removed from version {old}: ")


def test_results_on_the_same_terminal_come_after_the_progress_is_gone(project):
    on_terminal, _, _ = project
    code, _, received = on_terminal("status", stdout_terminal=True)
    assert code == 0
    lines = shown(received).splitlines()
    table = [i for i, line in enumerate(lines) if line.startswith("at the current versions")]
    assert len(table) == 1, lines  # the table once, whole, on its own lines
    assert re.fullmatch(rf"  sources\s+{ROWS}\s+{ROWS}", lines[table[0] + 1]), lines
    assert not any("vo status:" in line for line in lines[table[0]:]), lines  # no spinner after it


@pytest.mark.parametrize("command", [("doctor",), ("status",), ("export", "--what", "sources", "--out", "{tmp}/s.csv"),
                                     ("versions",), ("top",)])
def test_nothing_on_stderr_without_a_terminal(project, tmp_path, command):
    _, piped, _ = project
    done = piped(command[0], *(arg.format(tmp=tmp_path) for arg in command[1:]))
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_evidence_refuses_an_unknown_source_even_when_no_survey_has_images(project):
    _, piped, _ = project
    done = piped("evidence", "--source", "NOPE")
    assert done.returncode == 2 and done.stderr.splitlines() == ["vo: error: no source named 'NOPE' in project 'e2e'"]
    assert done.stdout == ""


@pytest.mark.parametrize("command", [("export", "--what", "detections", "--out", "{tmp}/d.csv", "--survey", "NOPE"),
                                     ("plot", "--source", "DEMO-000001", "--out", "{tmp}/f.png", "--survey", "NOPE"),
                                     ("rate", "--kind", "flare", "--survey", "NOPE"),
                                     ("ingest", "NOPE", "{tmp}/any.tbl")])
def test_an_unknown_survey_is_a_one_line_error_and_writes_nothing(project, tmp_path, command):
    _, piped, _ = project
    done = piped(command[0], *(arg.format(tmp=tmp_path) for arg in command[1:]))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["vo: error: survey 'NOPE' is not in project 'e2e' (it has: demo)"]
    assert not list(tmp_path.iterdir())  # no file written
