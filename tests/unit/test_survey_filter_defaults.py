"""The histograms' filter categories default to the survey's own filters; the configuration file still wins."""

from pathlib import Path

import pytest

from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.adapters.surveys.demo import DemoParameters
from virtualobserver.adapters.surveys.ztf import ZtfParameters
from virtualobserver.domain.analysis.analysis import Analysis, HistogramParameters, SCANNED
from virtualobserver.domain.config import build_config
from virtualobserver.domain.parameters import Parameters

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PARAMETERS = {name: cls.parameters_class for name, cls in SURVEYS.items()}


def document(surveys, **observatories):
    return {"project": {"name": "p", "surveys": surveys}, "catalog": {"path": "cat.csv"},
            "observatories": observatories}


def test_shipped_configs_categorise_epochs_by_their_survey_filters():
    ztf = load_config(CONFIGS / "ztf.yaml", PARAMETERS).surveys[0]
    demo = load_config(CONFIGS / "demo.yaml", PARAMETERS).surveys[0]
    assert ztf.histograms.filters == ["zg", "zr", "zi"]
    assert demo.histograms.filters == demo.download.filters == ["g", "r"]
    # The filter axis of the scanned histogram has these categories (and 'other' for anything else).
    axis = Analysis(ztf.analysis, ztf.quality, ztf.histograms).new_histograms()[SCANNED].axes["filter"]
    other = len(axis.categories)  # the index of the 'other' bin
    assert axis.index(["zg", "zr", "zi", "g"]).tolist() == [0, 1, 2, other]


def test_demo_categories_follow_its_download_filters():
    config = build_config(document(["demo"], demo={"download": {"filters": ["i", "z", "TESS"]}}),
                          survey_parameters=PARAMETERS)
    assert config.surveys[0].histograms.filters == ["i", "z", "TESS"]
    config = build_config(document(["demo"]), survey_parameters=PARAMETERS,
                          overrides={"observatories.demo.download.filters": ["V"]})
    assert config.surveys[0].histograms.filters == ["V"]


@pytest.mark.parametrize("where", ["general", "survey", "override"])
def test_explicit_filters_win(where):
    explicit = ["zg", "other-band"]
    blocks = {}
    overrides = None
    if where == "general":
        blocks["histograms"] = {"filters": explicit}
    elif where == "survey":
        blocks["ztf"] = {"histograms": {"filters": explicit}}
    else:
        overrides = {"observatories.histograms.filters": explicit}
    config = build_config(document(["ztf", "demo"], **blocks), survey_parameters=PARAMETERS, overrides=overrides)
    ztf, demo = config.surveys
    assert ztf.histograms.filters == explicit
    # A general block applies to every survey; a survey's own block only to it.
    assert demo.histograms.filters == (explicit if where != "survey" else ["g", "r"])


def test_a_survey_without_defaults_keeps_the_class_default():
    assert DemoParameters().section_defaults() == {"histograms": {"filters": ["g", "r"]}}
    assert ZtfParameters().section_defaults() == {"histograms": {"filters": ["zg", "zr", "zi"]}}
    config = build_config(document(["demo"]), survey_parameters={"demo": Parameters})
    assert config.surveys[0].histograms.filters == HistogramParameters().filters


def test_the_filter_defaults_enter_the_analysis_version():
    a = build_config(document(["demo"]), survey_parameters=PARAMETERS).surveys[0]
    b = build_config(document(["demo"], demo={"download": {"filters": ["g", "r", "i"]}}),
                     survey_parameters=PARAMETERS).surveys[0]
    c = build_config(document(["demo"], histograms={"filters": ["g", "r"]}), survey_parameters=PARAMETERS).surveys[0]
    assert a.analysis_version != b.analysis_version  # other filters, other categories (and other data)
    assert a.analysis_version == c.analysis_version  # the same categories, whoever set them
