"""``vo export``, ``vo plot`` and ``vo versions`` argument errors: one line, exit code 2, before any database work."""

import pytest

from virtualobserver.adapters.cli.main import main
from tests.e2e.helpers import write_project


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("VO_DATA", str(tmp_path / "data"))
    # main() turns SIGTERM and SIGHUP into exits; the test process keeps its own handlers.
    monkeypatch.setattr("virtualobserver.adapters.cli.main._exit_cleanly_on_signals", lambda: None)
    # An unreachable server: any command that touched the database would fail with another message.
    monkeypatch.setenv("VO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    return str(write_project(tmp_path / "p", rows=5))


@pytest.mark.parametrize("args, message", [
    (("export", "--what", "detections"), r"vo export needs --what .* and --out PATH"),
    (("export", "--what", "detections", "--out", "x.txt"), r"x\.txt: cannot tell the format from the extension"),
    (("export", "--what", "sources", "--format", "lightkurve", "--out", "d"), "writes lightcurves only"),
    (("export", "--what", "detections", "--format", "netcdf", "--out", "d.nc"), "writes histograms only"),
    (("export", "--what", "sources", "--format", "skyportal", "--out", "s.csv"), "skyportal writes lightcurves only"),
    (("plot", "--out", "x.png"), "needs --source NAME"),
    (("versions", "--diff", "ffff", "eeee"), "no version starts with 'ffff'"),
])
def test_bad_arguments_are_one_line_errors(config, capsys, args, message):
    assert main([args[0], config, *args[1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vo: error: ")
    assert __import__("re").search(message, err[0]), err[0]


def test_versions_without_database(config, capsys):
    assert main(["versions", config]) == 0
    assert "no version manifest yet" in capsys.readouterr().out
    assert main(["versions", config, "--record", "--json"]) == 0
    listing = __import__("json").loads(capsys.readouterr().out)
    assert [v["version"] for v in listing["versions"]] == [listing["current"]]
    assert listing["versions"][0]["manifest"]["config"]["project"]["name"] == "e2e"
    # The disk use needs the database: without one the listing still comes, saying why it has none.
    assert listing["versions"][0]["disk"] is None and "cannot connect to the database" in listing["disk_error"]
