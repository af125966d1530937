"""VirtualDemoObs.download_many: the tables of download, bit for bit, for many sources at once."""

import numpy as np
import pytest

from virtualobserver.adapters.surveys import demo as demo_module
from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
from virtualobserver.domain.errors import SurveyError, VOError
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import SurveyClient

REFERENCE = dict(cadence="even", magerr_range=[0.09, 0.11], filters=["g"], num_points=100, mjd_start=57000.0,
                 duration_days=1000.0, flag_fraction=0.0, flare_fraction=0.0, dip_fraction=0.0, exptimes=[30.0])
PARAMETER_SETS = {
    "reference": REFERENCE,
    "reference, seed and failures": {**REFERENCE, "seed": 12345, "failure_fraction": 0.3, "latency": 0.0},
    "noise model, flags and events": dict(cadence="even", num_points=150, flag_fraction=0.2, flare_fraction=0.4,
                                          dip_fraction=0.4, failure_fraction=0.1),
    "several filters and exposure times": dict(cadence="even", num_points=60, filters=["g", "r", "i", "z"],
                                               exptimes=[15.0, 30.0, 60.0], flag_fraction=0.05,
                                               magerr_range=[0.2, 0.01], flare_fraction=1.0),
    "every epoch bad": dict(cadence="even", num_points=40, flag_fraction=1.0, dip_fraction=1.0, seed=7),
    "blocks of few sources": dict(cadence="even", num_points=7000, filters=["r", "V"], flag_fraction=0.01),
    "one epoch": dict(cadence="even", num_points=1, filters=["B"], flare_fraction=0.5, dip_fraction=0.5),
    "everything fails": {**REFERENCE, "failure_fraction": 1.0},
    "magnitude noise, flags and events": dict(cadence="even", num_points=150, noise="mag", flag_fraction=0.2,
                                              flare_fraction=0.4, dip_fraction=0.4, filters=["g", "i"]),
    "faint: fluxes below zero": dict(cadence="even", num_points=300, limiting_mag=15.0, flag_fraction=0.1,
                                     dip_fraction=0.5),
    "seasons (per-source path)": dict(cadence="seasons", num_points=120, filters=["g", "r"], flag_fraction=0.1,
                                      flare_fraction=0.3, failure_fraction=0.2),
}


def catalog(count: int, seed: int = 1) -> list[Source]:
    rng = np.random.default_rng(seed)
    sources = [Source(f"src-{i}", float(ra), float(dec), mag=float(mag))
               for i, (ra, dec, mag) in enumerate(zip(rng.uniform(0, 360, count), rng.uniform(-90, 90, count),
                                                      rng.uniform(12, 21, count)))]
    # Edges: no catalog magnitude, the poles (cos dec below the floor), integer positions.
    return sources + [Source("no-mag", 10.0, -5.0), Source("pole", 0.0, 90.0, mag=16.0),
                      Source("south", 359.9, -89.99999, mag=19.0), Source("ints", 1, 2, mag=17)]


def one_by_one(client: VirtualDemoObs, sources: list[Source]) -> list:
    # The port's default: download per source (tested on its own below), what the demo's batch path must equal.
    return SurveyClient.download_many(client, sources)


def assert_same(expected, actual) -> None:
    assert type(actual) is type(expected)
    if isinstance(expected, Exception):
        assert str(actual) == str(expected)
        return
    assert (actual.survey, actual.source_name, actual.version, actual.ra, actual.dec, actual.num_epochs) == (
        expected.survey, expected.source_name, expected.version, expected.ra, expected.dec, expected.num_epochs)
    assert list(actual.columns) == list(expected.columns)
    for name, column in expected.columns.items():
        got = actual.columns[name]
        assert got.dtype == column.dtype and got.shape == column.shape, name
        assert got.tobytes() == column.tobytes(), f"{expected.source_name}: column {name} differs"


@pytest.mark.parametrize("params", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_download_many_gives_the_tables_of_download_bit_for_bit(params):
    sources = catalog(3 if params["num_points"] > 1000 else 400)
    client = VirtualDemoObs(DemoParameters(**params))
    batch = client.download_many(sources)
    assert len(batch) == len(sources)
    for expected, actual in zip(one_by_one(VirtualDemoObs(DemoParameters(**params)), sources), batch):
        assert_same(expected, actual)


def test_a_column_is_not_shared_between_tables():
    first, second = VirtualDemoObs(DemoParameters(**REFERENCE)).download_many(catalog(2))[:2]
    first.columns["mag"][:] = 0.0
    assert (second.columns["mag"] != 0.0).all()


def test_each_source_hits_the_fault_point_before_its_draws(monkeypatch):
    hits = []
    monkeypatch.setattr(demo_module, "fault_point", hits.append)
    sources = catalog(30)
    VirtualDemoObs(DemoParameters(**{**REFERENCE, "failure_fraction": 0.5})).download_many(sources)
    assert hits == ["download.source"] * len(sources)


def test_a_fault_stops_the_batch(monkeypatch):
    def fail(name):
        raise OSError("disk full")

    monkeypatch.setattr(demo_module, "fault_point", fail)
    with pytest.raises(OSError):
        VirtualDemoObs(DemoParameters(**REFERENCE)).download_many(catalog(3))


def test_the_port_default_downloads_one_by_one_and_keeps_failures():
    class Survey(SurveyClient):
        def download(self, source):
            if source.name == "bad":
                raise SurveyError("no data")
            return source.name

        def reduce(self, raw, parameters):
            return []

    results = Survey().download_many([Source("a", 0.0, 0.0), Source("bad", 0.0, 0.0), Source("c", 0.0, 0.0)])
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], VOError) and str(results[1]) == "no data"


def test_with_latency_every_source_sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(demo_module.time, "sleep", slept.append)
    sources = catalog(3)
    batch = VirtualDemoObs(DemoParameters(**{**REFERENCE, "latency": 0.5})).download_many(sources)
    assert slept == [0.5] * len(sources)
    for expected, actual in zip(one_by_one(VirtualDemoObs(DemoParameters(**REFERENCE)), sources), batch):
        assert_same(expected, actual)


def test_even_cadence_is_computed_in_blocks(monkeypatch):
    def refuse(self, source):
        raise AssertionError("the batch path called download")

    monkeypatch.setattr(VirtualDemoObs, "download", refuse)
    assert len(VirtualDemoObs(DemoParameters(**REFERENCE)).download_many(catalog(5))) == 9
