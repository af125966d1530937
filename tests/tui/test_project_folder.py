"""``vo tui FOLDER``: the projects screen lists the project files of any folder, not only ./configs."""

import argparse
import asyncio

import pytest
from textual.widgets import DataTable

from virtualobserver.adapters.cli.commands import tui_container
from virtualobserver.adapters.cli.main import build_parser, main
from virtualobserver.adapters.container import close_container
from tests.e2e.helpers import write_project
from virtualobserver.tui.app import VirtualObserverApp


def test_a_folder_lists_its_project_files_and_opens_one(tmp_path, monkeypatch, database_url):
    folder = tmp_path / "elsewhere"
    write_project(folder)  # folder/project.yaml over folder/catalog.csv
    (folder / "second.yml").write_text((folder / "project.yaml").read_text().replace("name: e2e", "name: second"))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "not-listed.yaml").write_text("project: {name: x}\n")
    monkeypatch.chdir(tmp_path)  # ./configs exists, and is not what was asked for
    monkeypatch.setenv("VO_DATABASE_URL", database_url)
    monkeypatch.setenv("VO_DATA", str(tmp_path / "data"))
    args = build_parser().parse_args(["tui", str(folder)])
    container = tui_container(args)
    try:
        assert container.config_path() is None

        async def scenario():
            app = VirtualObserverApp(project=None, workspace=container.workspace())
            async with app.run_test(size=(120, 40)) as pilot:
                for _ in range(2):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                configs = app.screen.query_one("#configs", DataTable)
                rows = [configs.get_row_at(i) for i in range(configs.row_count)]
                # shown relative to the working directory, as ./configs files are
                assert [(r[1], r[2]) for r in rows] == [("elsewhere/project.yaml", "e2e"),
                                                        ("elsewhere/second.yml", "second")]
                await pilot.press("down", "enter")
                for _ in range(2):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                assert app.project is not None and app.project.name == "second"

        asyncio.run(scenario())
    finally:
        close_container(container)


def test_overrides_need_a_project_file_not_a_folder(tmp_path, capsys):
    assert main(["tui", str(tmp_path), "--set", "observatories.analysis.threshold=4"]) == 2
    assert "'--set': --set applies to a project file, not to a folder" in capsys.readouterr().err


def test_a_file_still_opens_its_project(tmp_path, monkeypatch, database_url):
    config = write_project(tmp_path / "p")
    monkeypatch.setenv("VO_DATABASE_URL", database_url)
    monkeypatch.setenv("VO_DATA", str(tmp_path / "data"))
    container = tui_container(argparse.Namespace(config=str(config), set=[], download_threads=4, workers=1,
                                                 scheduler=None, dashboard=None))
    try:
        assert container.project().name == "e2e"
        assert [entry.project for entry in container.workspace().configs()] == ["e2e"]
    finally:
        close_container(container)


@pytest.fixture(autouse=True)
def _no_stray_configs(monkeypatch, tmp_path):
    # ./configs of the repository must never be what these tests read.
    monkeypatch.chdir(tmp_path)
