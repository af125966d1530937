"""FileCatalogReader on real files: CSV errors with line numbers, Gaia ECSV/VOTable, column mapping."""

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config, parse_overrides
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.domain.catalog import CatalogSpec
from virtualobserver.domain.errors import CatalogError, ConfigError

SURVEY_PARAMETERS = {name: cls.parameters_class for name, cls in SURVEYS.items()}


def read(path, **kw):
    return FileCatalogReader().read(CatalogSpec(str(path), **kw))


def test_demo_catalog_is_deterministic_and_valid(tmp_path):
    write_demo_catalog(tmp_path / "a.csv", rows=300, seed=1)
    write_demo_catalog(tmp_path / "b.csv", rows=300, seed=1)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    cat = read(tmp_path / "a.csv")
    assert len(cat) == 300 and np.all((cat.columns["mag"] >= 12) & (cat.columns["mag"] <= 20.5))


@pytest.mark.parametrize("body, row, field, message", [
    ("a,1,2\nb,400,3\n", 3, "ra", "ra must be in"),
    ("a,1,2\nb,x,3\n", 3, "ra", "is not a number"),
    ("a,1,2\nb,1\n", 3, None, "expected 3 fields, found 2"),
    ("a,1,2\na,2,3\n", 3, "name", "duplicate name"),
])
def test_malformed_csv_row_is_named(tmp_path, body, row, field, message):
    path = tmp_path / "cat.csv"
    path.write_text("name,ra,dec\n" + body)
    where = rf"row {row}, field '{field}'" if field else rf"row {row}"
    with pytest.raises(CatalogError, match=rf"cat\.csv, {where}: .*{message}"):
        read(path)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(CatalogError, match="nope.csv: catalog file not found"):
        read(tmp_path / "nope.csv")
    (tmp_path / "cat.txt").write_text("x")
    with pytest.raises(CatalogError, match="set catalog.format"):
        read(tmp_path / "cat.txt")


def test_column_mapping_and_selection_on_file_columns(tmp_path):
    t = Table({"source_id": [1, 2, 3], "RA_ICRS": [1.0, 2.0, 3.0], "DE_ICRS": [0.0, 10.0, -40.0],
               "phot_g_mean_mag": [15.0, 19.0, 17.0], "parallax": [1.0, 8.0, 6.0]})
    t.write(tmp_path / "gaia.ecsv")
    cat = read(tmp_path / "gaia.ecsv", columns={"name": "source_id", "ra": "RA_ICRS", "dec": "DE_ICRS",
                                                "mag": "phot_g_mean_mag"})
    chosen = cat.select("phot_g_mean_mag < 18 and parallax > 5")
    assert [s.name for s in chosen.sources()] == ["3"] and chosen.sources()[0].mag == 17.0
    with pytest.raises(CatalogError, match="field 'mag': mapped column 'gmag' not in file"):
        read(tmp_path / "gaia.ecsv", columns={"name": "source_id", "ra": "RA_ICRS", "dec": "DE_ICRS",
                                              "mag": "gmag"})


def test_real_gaia_votable_and_ecsv(shared_data):
    mapping = {"name": "source_id", "mag": "phot_g_mean_mag"}
    vot = read(shared_data / "gaia_dr3_gaia_source_2rows_astroquery.vot", columns=mapping)
    assert sorted(vot.columns["name"]) == ["4583627001381815936", "5348723816842275584"]
    ecsv = read(shared_data / "gaia_dr3_cone_search_5rows_astroquery.ecsv", columns=mapping)
    assert len(ecsv) == 5 and np.all(np.abs(ecsv.columns["ra"] - 280.0) < 0.1)
    assert len(ecsv.select("phot_g_mean_mag < 30 and parallax_over_error > -1e9")) <= 5


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("project: {name: x\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML \(line"):
        load_config(path, SURVEY_PARAMETERS)
    with pytest.raises(ConfigError, match="missing.yaml: configuration file not found"):
        load_config(tmp_path / "missing.yaml", SURVEY_PARAMETERS)


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path):
    # Plain YAML keeps the last of two equal keys, so a threshold written twice would silently win or lose.
    path = tmp_path / "twice.yaml"
    path.write_text("project: {name: x}\ncatalog: {path: c.csv}\nobservatories:\n  demo:\n"
                    "    analysis: {threshold: 5}\n    analysis: {threshold: 6}\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: not valid YAML \(line 6\): key 'analysis' is given twice "
                                          r"\(first on line 5\)"):
        load_config(path, SURVEY_PARAMETERS)
    path.write_text("project: {name: x}\ncatalog: {path: c.csv}\nobservatories:\n  demo:\n"
                    "    analysis: {threshold: 5}\n    reduction: {season_gap_days: 50}\n")
    assert load_config(path, SURVEY_PARAMETERS).surveys[0].analysis.threshold == 5.0


@pytest.mark.parametrize("text, key", [
    ("observatories:\n  ztf:\n    download:\n      password: hunter2\n", "observatories.ztf.download.password"),
    ("project:\n  name: x\n  irsa_token: abc\n", "project.irsa_token"),
])
def test_credentials_in_a_config_are_refused_without_echoing_them(tmp_path, text, key):
    path = tmp_path / "secret.yaml"
    path.write_text("catalog: {path: c.csv}\n" + text)
    with pytest.raises(ConfigError, match="credentials never go in a project configuration") as info:
        load_config(path, SURVEY_PARAMETERS)
    assert key in str(info.value) and "hunter2" not in str(info.value) and "abc" not in str(info.value)


def test_credentials_on_the_command_line_are_refused(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("catalog: {path: c.csv}\n")
    with pytest.raises(ConfigError, match="command line: 'observatories.ztf.download.api_key'"):
        load_config(path, SURVEY_PARAMETERS, {"observatories.ztf.download.api_key": "x"})


def test_demo_config_loads_with_overrides():
    cfg = load_config(Path(__file__).parents[2] / "configs" / "demo.yaml", SURVEY_PARAMETERS,
                      parse_overrides(["observatories.analysis.threshold=4", "project.batch_size=7"]))
    assert cfg.surveys[0].analysis.threshold == 4.0 and cfg.batch_size == 7
    assert cfg.catalog.path.endswith("catalogs/demo.csv")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["threshold"])


def test_readme_configuration_reference_is_current():
    from virtualobserver.adapters.cli.reference import BEGIN, END, config_reference

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    current = readme[readme.index(BEGIN): readme.index(END) + len(END)]
    assert current == config_reference(), "run `vo config-reference` and paste it into the README"


def test_synthetic_gaia_like_votable_uses_names_not_ids(tmp_path):
    # Like the ESA archive's answers: FIELD ID="SOURCE_ID" but name="source_id".
    from astropy.io.votable import from_table

    t = Table({"source_id": np.array([11, 12], dtype=np.int64), "ra": [10.0, 20.0], "dec": [-5.0, 5.0],
               "phot_g_mean_mag": [14.0, 18.5]})
    votable = from_table(t)
    for field in votable.get_first_table().fields:
        field.ID = field.name.upper()
    votable.to_xml(str(tmp_path / "gaia.vot"))
    cat = read(tmp_path / "gaia.vot", columns={"name": "source_id", "mag": "phot_g_mean_mag"})
    assert cat.columns["name"].tolist() == ["11", "12"] and cat.select("mag < 15").sources()[0].name == "11"
