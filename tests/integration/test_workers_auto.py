"""`--workers auto` (vo run's default): one batch worker per core this process may use; one process on one core."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtualobserver.adapters.cli.commands import make_container
from virtualobserver.adapters.cli.main import build_parser, main
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS, close_container
from virtualobserver.adapters.executors import cores
from virtualobserver.adapters.executors.cores import resolve_workers, usable_cores
from virtualobserver.domain.config import parse_workers
from virtualobserver.domain.errors import ConfigError
from virtualobserver.services.executor import InProcessExecutor

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "configs" / "demo.yaml")
PARAMETERS = {name: cls.parameters_class for name, cls in SURVEYS.items()}

pytest.importorskip("distributed")


@pytest.fixture(autouse=True)
def _no_workers_from_the_environment(monkeypatch):
    # tests/conftest.py pins VO_WORKERS=1 for the rest of the suite; these tests are about the default.
    monkeypatch.delenv("VO_WORKERS", raising=False)


def _cpus_allowed() -> int:
    # Independently of the code: the kernel's own count of the cores this process may run on.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            count = 0
            for part in line.split(":", 1)[1].strip().split(","):
                low, _, high = part.partition("-")
                count += int(high or low) - int(low) + 1
            return count
    pytest.skip("no /proc/self/status")


def test_auto_counts_the_cores_this_process_may_use():
    assert usable_cores() == _cpus_allowed()
    assert resolve_workers("auto") == _cpus_allowed()
    assert resolve_workers("AUTO ") == _cpus_allowed()


def test_auto_is_one_process_on_a_one_core_machine(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert resolve_workers("auto") == 1
    container = make_container(build_parser().parse_args(["run", DEMO]))
    try:
        assert isinstance(container.executor(), InProcessExecutor)
    finally:
        close_container(container)


def test_auto_follows_the_affinity_mask_then_cpu_count(monkeypatch):
    # A batch job given 3 cores of a 64-core node: 3 workers, not 64.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {4, 9, 17})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert resolve_workers("auto") == 3
    # Where the affinity call does not exist (macOS), every core of the machine; none known: one.
    monkeypatch.delattr(os, "sched_getaffinity")
    assert resolve_workers("auto") == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cores.usable_cores() == 1


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("Auto", "auto"), (3, 3), ("3", 3), ("1", 1)])
def test_worker_settings_are_auto_or_a_whole_number(value, expected):
    assert parse_workers(value) == expected


@pytest.mark.parametrize("value", [0, "0", -2, "-1", "two", True, 1.5, "", None])
def test_other_worker_settings_are_one_line_errors_naming_the_key(value):
    with pytest.raises(ConfigError) as raised:
        parse_workers(value, key="project.workers", source="p.yaml")
    assert "'project.workers'" in str(raised.value) and "p.yaml" in str(raised.value)
    assert "\n" not in str(raised.value)


def _executor_of(argv, monkeypatch=None):
    container = make_container(build_parser().parse_args(argv))
    try:
        executor = container.executor()
        return type(executor).__name__, getattr(executor, "workers", 1)
    finally:
        close_container(container)


def test_vo_run_of_the_demo_asks_for_a_worker_per_core():
    cores_here = _cpus_allowed()
    expected = ("DaskExecutor", cores_here) if cores_here > 1 else ("InProcessExecutor", 1)
    assert _executor_of(["run", DEMO]) == expected
    assert _executor_of(["run", DEMO, "--workers", "auto"]) == expected


def test_a_number_wins_over_auto_from_the_command_line_environment_or_configuration(monkeypatch):
    assert _executor_of(["run", DEMO, "--workers", "1"]) == ("InProcessExecutor", 1)
    assert _executor_of(["run", DEMO, "--workers", "3"]) == ("DaskExecutor", 3)
    assert _executor_of(["run", DEMO, "--set", "project.workers=1"]) == ("InProcessExecutor", 1)
    monkeypatch.setenv("VO_WORKERS", "3")
    assert _executor_of(["run", DEMO, "--set", "project.workers=1"]) == ("DaskExecutor", 3)
    assert _executor_of(["run", DEMO, "--workers", "1"]) == ("InProcessExecutor", 1)
    # `vo tui` keeps its batches in this process unless asked: a cluster's log lines would cross its screen.
    monkeypatch.delenv("VO_WORKERS")
    assert _executor_of(["tui", DEMO]) == ("InProcessExecutor", 1)


def test_workers_in_the_project_file_do_not_change_any_version(tmp_path):
    text = Path(DEMO).read_text().replace("../catalogs/demo.csv", str(REPO / "catalogs" / "demo.csv"))
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(text.replace("  batch_size: 100", "  batch_size: 100\n  workers: 2"))
    a, b = load_config(plain, survey_parameters=PARAMETERS), load_config(pinned, survey_parameters=PARAMETERS)
    assert (a.workers, b.workers) == ("auto", 2)
    assert [(s.download_version, s.analysis_version, s.simulation_version) for s in a.surveys] == \
        [(s.download_version, s.analysis_version, s.simulation_version) for s in b.surveys]
    pinned.write_text(text.replace("  batch_size: 100", "  batch_size: 100\n  workers: none"))
    with pytest.raises(ConfigError, match="project.workers"):
        load_config(pinned, survey_parameters=PARAMETERS)


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_workers_option_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, value):
    monkeypatch.setenv("VO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VO_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    assert main(["run", DEMO, "--workers", value]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "--workers" in errors[0], errors
