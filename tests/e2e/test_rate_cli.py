"""``vo rate`` end to end: the demo project (simulation enabled) run on a few sources, then its flare rate."""

import json

from tests.e2e.helpers import vo, vo_json

DEMO = "configs/demo.yaml"


def test_rate_of_flares_on_a_small_demo_run(tmp_path, empty_database_url):
    data = tmp_path / "data"
    status = vo_json("run", DEMO, "--limit", "60", data_dir=data, database_url=empty_database_url)["status"]
    assert status["analysed"] == 60 and status["injections"] > 0

    done = vo("rate", DEMO, "--kind", "flare", data_dir=data, database_url=empty_database_url)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("rate of flare: ") and "per source per year" in text and "90% CL" in text
    for line in ("N_obs", "N_fa", "signal N_obs - N_fa in", "eff ", "injected", "source-years",
                 "60 analysed sources", "efficiency includes:", "the duty cycle", "recovery: found in at least 1"):
        assert line in text, line

    result = vo_json("rate", DEMO, "--kind", "flare", "--confidence", "0.95", "--labels", "all",
                     data_dir=data, database_url=empty_database_url)
    assert result["kind"] == "flare" and result["direction"] == "brightening" and result["confidence"] == 0.95
    assert result["exposure"]["sources"] == 60 and result["years"] > 0
    assert 0 < result["injections"]["injected"] <= status["injections"]
    assert result["lower"] <= result["upper"] and result["summary"].startswith("flare: ")
    assert result["simulation_version"] == status["surveys"]["demo"]["versions"]["simulation"]
    json.dumps(result, allow_nan=False)  # strict JSON

    # A new simulation version has no injections yet: one line, exit 2.
    missing = vo("rate", DEMO, "--kind", "flare", "--set", "observatories.simulation.seed=7",
                 data_dir=data, database_url=empty_database_url)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("vo: error: no injections of kind 'flare' in survey 'demo'")
    assert len(missing.stderr.strip().splitlines()) == 1
