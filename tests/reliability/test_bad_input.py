"""Bad input, fuzzed with hypothesis: catalogs, configurations, survey answers and data files.

Each either reads or fails with the project's own error naming the file (and the row, field or key
where there is one); nothing else may escape. And a run refused for bad input changes nothing stored.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.adapters.files.data_folder import ProductFolder
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.surveys.tess_format import read_lightcurve_file
from virtualobserver.adapters.surveys.ztf_format import parse_answer
from virtualobserver.domain.catalog import CatalogSpec
from virtualobserver.domain.errors import CatalogError, ConfigError, DataError, SurveyError, VOError
from virtualobserver.domain.rawdata import RawData
from tests.e2e.helpers import REPO
from tests.reliability.harness import FULL, TALLY, assert_same, run_vo, snapshot

PARAMETERS = {name: cls.parameters_class for name, cls in SURVEYS.items()}
ZTF_ANSWER = (REPO / "tests" / "data" / "ztf_small_ipac.tbl").read_bytes()

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "-91", "360", "0", "12.5", "abc", "\x00", "a\tb",
                     "../../x", "Robert'); DROP TABLE sources;--", "\u0410\u0412"]),
    st.floats(allow_nan=True).map(repr),
)


def _tally(name: str) -> None:
    TALLY[f"inputs tried: {name}"] += 1


@given(header=st.lists(st.sampled_from(["name", "ra", "dec", "mag", "pmra", "other", "name ", ""]), min_size=1,
                       max_size=6),
       rows=st.lists(st.lists(cells, min_size=0, max_size=7), max_size=8))
def test_fuzzed_csv_catalogs_read_or_name_the_file_and_row(tmp_path_factory, header, rows):
    _tally("catalogs")
    path = tmp_path_factory.mktemp("cat") / "catalog.csv"
    lines = [",".join(header)] + [",".join(f'"{c}"' if "," in c else c for c in row) for row in rows]
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        catalog = FileCatalogReader().read(CatalogSpec(path=str(path)))
        sources = catalog.sources("p", 0, len(catalog))
    except CatalogError as exc:
        assert str(path) in str(exc), exc
        return
    for source in sources:  # what reads is storable: finite positions, clean unique names
        assert source.name and not any(ord(ch) < 32 for ch in source.name)
        assert 0 <= source.ra < 360 and -90 <= source.dec <= 90
    assert len({s.name for s in sources}) == len(sources)


@given(data=st.binary(max_size=400))
def test_random_bytes_as_a_catalog_name_the_file(tmp_path_factory, data):
    _tally("catalogs")
    for suffix in (".csv", ".fits", ".vot", ".ecsv"):
        path = tmp_path_factory.mktemp("cat") / f"catalog{suffix}"
        path.write_bytes(data)
        try:
            FileCatalogReader().read(CatalogSpec(path=str(path)))
        except CatalogError as exc:
            assert str(path) in str(exc)


_KEYS = ["project.name", "project.batch_size", "project.surveys", "catalog.path", "catalog.selection",
         "observatories.analysis.threshold", "observatories.demo.download.num_points",
         "observatories.demo.download.filters", "observatories.simulation.enabled", "observatories.quality.max_chi",
         "observatories.histograms.mag", "observatories.unknown", "project.nonsense", "observatories.demo.password"]
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                   st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=4),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _nest(flat: dict) -> dict:
    document: dict = {}
    for dotted, value in flat.items():
        node = document
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[last] = value
    return document


@given(flat=st.dictionaries(st.sampled_from(_KEYS), values, max_size=6), garbage=st.booleans(),
       text=st.text(max_size=60))
def test_fuzzed_configurations_load_or_name_the_file_and_key(tmp_path_factory, flat, garbage, text):
    _tally("configurations")
    path = tmp_path_factory.mktemp("cfg") / "project.yaml"
    (path.parent / "catalog.csv").write_text("name,ra,dec\na,1,2\n")
    document = {"catalog": {"path": "catalog.csv"}, **_nest(flat)}
    path.write_text(text if garbage else yaml.safe_dump(document), encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path, survey_parameters=PARAMETERS)
    except ConfigError as exc:
        assert str(path) in str(exc), exc
        if not garbage and exc.key is None:  # a bad value is named by its key
            assert "YAML" in str(exc) or "mapping" in str(exc) or "section" in str(exc), exc


def _mutate(data: bytes, cuts: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, byte in cuts:
        if out:
            out[position % len(out)] = byte
    return bytes(out)


@given(cut=st.integers(0, len(ZTF_ANSWER)), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                            max_size=6))
def test_fuzzed_ztf_answers_parse_or_name_their_origin(cut, flips):
    _tally("survey answers")
    answer = _mutate(ZTF_ANSWER[:cut], flips)
    try:
        _, columns = parse_answer(answer, origin="answer-under-test")
    except (DataError, SurveyError) as exc:
        assert "answer-under-test" in str(exc), exc
        return
    lengths = {len(v) for v in columns.values()}
    assert len(lengths) <= 1  # a table, never ragged columns


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning", "ignore::astropy.utils.exceptions.AstropyUserWarning")
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.binary(max_size=3000), fits_header=st.booleans())
def test_fuzzed_tess_files_read_or_name_the_file(tmp_path_factory, data, fits_header):
    _tally("survey answers")
    path = tmp_path_factory.mktemp("tess") / "tess_lc.fits"
    prefix = b"SIMPLE  =                    T" + b" " * 50 if fits_header else b""
    path.write_bytes(prefix + data)
    try:
        read_lightcurve_file(path)
    except VOError as exc:
        assert str(path) in str(exc) or path.name in str(exc), exc


@given(data=st.binary(max_size=2000), hdf5_signature=st.booleans())
def test_damaged_data_files_give_a_data_error_naming_the_file(tmp_path_factory, data, hdf5_signature):
    _tally("data files")
    root = tmp_path_factory.mktemp("data")
    raw = RawData("demo", "x", "v1", columns={"mjd": np.arange(3.0)})
    Hdf5DataStore(root).save_raw(raw)
    (root / raw.file).write_bytes((b"\x89HDF\r\n\x1a\n" if hdf5_signature else b"") + data)
    try:
        Hdf5DataStore(root).load_raw(_record(raw))
    except DataError as exc:
        assert str(root / raw.file) in str(exc), exc
    assert ProductFolder(root).problem(raw.file, [raw.key]) is not None  # the doctor sees it too
    (root / "part.nc").write_bytes(data)
    try:
        NetCdfHistogramStore(root).load("part")
    except DataError as exc:
        assert str(root / "part.nc") in str(exc), exc


def _record(raw: RawData) -> RawData:
    record = RawData(raw.survey, raw.source_name, raw.version)
    record.file, record.key = raw.file, raw.key
    return record


# -- A run refused for bad input changes nothing stored -----------------------------------------------------

BAD_CATALOGS = {
    "a row with a wrong field count": "name,ra,dec,mag\nDEMO-000001,10,20,18\nbroken,1\n",
    "a name with a NUL": "name,ra,dec,mag\nDEMO-000001,10,20,18\nA\x00B,11,21,18\n",
    "a position out of range": "name,ra,dec,mag\nDEMO-000001,10,20,18\nX,400,21,18\n",
    "a duplicate name": "name,ra,dec,mag\nX,10,20,18\nX,11,21,18\n",
    "a name too long": "name,ra,dec,mag\nX,10,20,18\n" + "Y" * 5000 + ",11,21,18\n",
}
BAD_CONFIGS = {  # (text replaced, replacement)
    "an unknown key": ("num_points:", "num_pointz:"),
    "a wrong type": ("num_points: 60", "num_points: many"),
    "a value out of range": ("threshold: 5.0", "threshold: -1"),
    "a credential": ("threshold: 5.0", "threshold: 5.0, token: abc"),
}


def _some(cases: dict) -> list:
    # Each refused run costs a `vo` start-up: the default runs two of each kind, the full suite all.
    return list(cases.items())[: None if FULL else 2]


def test_runs_refused_for_bad_input_change_nothing_stored(reference, module_database, tmp_path):
    from tests.reliability.test_doctor import _copy_run

    data, url = _copy_run(reference, tmp_path, module_database)
    before = snapshot(url, data)
    files = sorted(p for p in data.rglob("*") if p.is_file() and "postgres" not in p.parts)
    project = tmp_path / "bad"
    for label, text in _some(BAD_CATALOGS):
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(reference["config"].parent, project)
        (project / "catalog.csv").write_text(text)
        done = run_vo("run", str(project / "project.yaml"), data=data, url=url)
        errors = [line for line in done.stderr.splitlines() if line.startswith("vo:")]
        assert done.returncode == 2 and len(errors) == 1 and "catalog.csv" in errors[0], (label, done.stderr)
        assert "row" in errors[0], (label, errors)
        _tally("bad inputs refused by `vo run`")
    for label, (old, new) in _some(BAD_CONFIGS):
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(reference["config"].parent, project)
        config = project / "project.yaml"
        assert old in config.read_text()
        config.write_text(config.read_text().replace(old, new, 1))
        done = run_vo("run", str(config), data=data, url=url)
        errors = [line for line in done.stderr.splitlines() if line.startswith("vo:")]
        assert done.returncode == 2 and len(errors) == 1 and "project.yaml" in errors[0], (label, done.stderr)
        _tally("bad inputs refused by `vo run`")
    assert_same(before, snapshot(url, data))
    assert files == sorted(p for p in data.rglob("*") if p.is_file() and "postgres" not in p.parts)
