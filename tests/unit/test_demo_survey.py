"""VirtualDemoObs: deterministic per source, realistic seasons, noise, flags and events."""

import numpy as np
import pytest

from virtualobserver.adapters.surveys import demo as demo_module
from virtualobserver.adapters.surveys.demo import BAD_IMAGE_FLAG, DemoParameters, VirtualDemoObs
from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events
from virtualobserver.domain.errors import SurveyError
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source


def download(name="star", mag=17.0, **params):
    return VirtualDemoObs(DemoParameters(**params)).download(Source(name, 120.0, 30.0, mag=mag))


def test_deterministic_per_source_name():
    a, b, c = download("x"), download("x"), download("y")
    for column in a.columns:
        np.testing.assert_array_equal(a.columns[column], b.columns[column])
    assert not np.array_equal(a.columns["mag"], c.columns["mag"])


def test_seasons_with_gaps_and_several_filters():
    raw = download(num_points=300, filters=["g", "r", "i"], duration_days=1000.0, season_days=150.0)
    mjd = raw.columns["mjd"]
    gaps = np.diff(mjd)
    assert (gaps > 150).sum() == 2  # three observing seasons in 1000 days
    assert set(raw.columns["filter"]) == {"g", "r", "i"}
    lcs = VirtualDemoObs().reduce(raw, ReductionParameters(season_gap_days=90.0))
    assert {(lc.filter, lc.season) for lc in lcs} == {(f, s) for f in "gri" for s in range(3)}


def test_mimics_a_100_point_single_filter_survey():
    raw = download(num_points=100, filters=["g"])
    assert raw.num_epochs == 100 and set(raw.columns["filter"]) == {"g"}


def test_noise_grows_with_magnitude():
    bright = np.median(download(mag=15.0).columns["magerr"])
    faint = np.median(download(mag=20.0).columns["magerr"])
    assert faint > 5 * bright


def test_flagged_fraction_matches_parameter():
    n = sum(download(f"s{i}", num_points=500, flag_fraction=0.1).columns["flag"].astype(bool).sum()
            for i in range(20))
    expected, se = 10_000 * 0.1, (10_000 * 0.1 * 0.9) ** 0.5
    assert abs(n - expected) < 3 * se
    assert set(np.unique(download(flag_fraction=0.5).columns["flag"])) == {0, BAD_IMAGE_FLAG}


def test_genuine_flares_are_found():
    params = dict(num_points=400, flare_fraction=1.0, dip_fraction=0.0, duration_days=300.0)
    found = 0
    for i in range(20):
        raw = download(f"flaring{i}", mag=16.0, **params)
        lcs = VirtualDemoObs().reduce(raw, ReductionParameters())
        found += any(d.kind == "brightening" for lc in lcs for d in find_events(lc, AnalysisParameters())[1])
    # The demo puts each flare's peak on an epoch, with 50-300 % amplitude; at 16 mag the error is
    # ~1 %, so the peak alone is >= 45 sigma. A flare is missed only if its peak epoch is flagged (2 %)
    # and the decay (0.5-5 days, epochs ~0.5 day apart) is below 5 sigma at the next epochs too:
    # P(miss) < 0.02 x 0.1 per flare, so all 20 are found (P > 0.96; the demo is seeded by name, so
    # the outcome is fixed).
    assert found == 20


def test_latency_and_failures(monkeypatch):
    slept = []
    monkeypatch.setattr(demo_module.time, "sleep", slept.append)
    download(latency=0.25)
    assert slept == [0.25]
    with pytest.raises(SurveyError, match="no data for 'star'"):
        download(failure_fraction=1.0)


def test_reference_workload_is_even_single_filter_with_bounded_errors():
    raw = download(num_points=100, filters=["g"], cadence="even", mjd_start=57000.0, duration_days=1000.0,
                   magerr_range=[0.09, 0.11], mag=18.0, flag_fraction=0.0)
    np.testing.assert_allclose(np.diff(raw.columns["mjd"]), 1000.0 / 99)
    assert raw.columns["mjd"][0] == 57000.0 and raw.columns["mjd"][-1] == 58000.0
    # The drawn magnitude error is that of the true flux (g: 18.35 mag); the noise is Gaussian in flux.
    relative = raw.columns["fluxerr"] / 10 ** (-0.4 * (18.35 - 25.0)) * 2.5 / np.log(10)
    assert relative.min() >= 0.09 - 1e-12 and relative.max() <= 0.11 + 1e-12
    assert set(raw.columns["exptime"]) == {30.0}


# The download skips or rewrites numpy calls whose results are known to be identical; these pin the
# numpy behaviour it relies on, against numpy itself, so a numpy upgrade that breaks one shows here.

@pytest.mark.parametrize("seed", [0, 1, 2**32, 2**64 - 1])
def test_generator_is_the_one_default_rng_builds(seed):
    ours = np.random.Generator(np.random.PCG64(seed))
    assert ours.bit_generator.state == np.random.default_rng(seed).bit_generator.state


def test_a_random_index_into_one_value_draws_nothing():
    rng = np.random.default_rng(7)
    rng.random(3)  # leave the generator mid-stream
    before = rng.bit_generator.state
    assert not rng.integers(0, 1, 50).any()
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("weights", [[1.0], [200.0, 200.0, 37.5], [0.1, 365.25, 2.0, 200.0]])
def test_weighted_choice_is_rng_choice(weights):
    probabilities = np.array(weights) / sum(weights)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(demo_module._weighted_choice(a, probabilities, 500),
                                  b.choice(len(weights), size=500, p=probabilities))
    assert a.bit_generator.state == b.bit_generator.state


def test_scaled_standard_draw_is_the_broadcast_normal_draw():
    scale = np.random.default_rng(1).lognormal(-10.0, 0.2, 1000)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert (a.normal(0.0, 1.0, 1000) * scale).tobytes() == b.normal(0, scale, 1000).tobytes()


def test_columns_are_fresh_arrays_and_new_parameters_take_effect():
    client = VirtualDemoObs(DemoParameters(num_points=20, filters=["g"], cadence="even"))
    first, second = client.download(Source("a", 1.0, 2.0)), client.download(Source("a", 1.0, 2.0))
    for name, column in first.columns.items():
        assert column.flags.writeable and not np.shares_memory(column, second.columns[name])
    client.parameters = DemoParameters(num_points=30, filters=["r", "i"], exptimes=[10.0, 60.0])
    raw = client.download(Source("a", 1.0, 2.0))
    assert raw.num_epochs == 30 and set(raw.columns["filter"]) == {"r", "i"}
    assert set(raw.columns["exptime"]) == {10.0, 60.0}


def test_injection_peaks_fall_in_the_demos_seasonal_gaps_at_the_gap_fraction():
    # The demo observes in seasons (g and r): with peak_time "span" (the default) an event is equally
    # likely at any time of a source's span, so the fraction of peaks outside every lightcurve's
    # [first, last] epochs is the unobserved fraction of the span. 30 sources x 100 events: the binomial
    # standard error is under 1 point; a simulator that kept peaks inside seasons would give 0 %.
    from virtualobserver.domain.analysis.finder import find_events_many
    from virtualobserver.domain.recovery import reference_of
    from virtualobserver.domain.simulator import SimulationParameters, Simulator

    client = VirtualDemoObs(DemoParameters(num_points=200, filters=["g", "r"], duration_days=1000.0))
    simulator = Simulator(SimulationParameters(injections_per_source=100))
    inside = trials = 0
    expected = []
    for i in range(30):
        lcs = client.reduce(client.download(Source(f"gap{i}", 10.0 * i, 5.0, mag=17.0)), ReductionParameters())
        found = find_events_many(lcs, AnalysisParameters())
        refs = [reference_of(lc.mjds, scores, dets, lc.exptime) for lc, (scores, dets) in zip(lcs, found)]
        usable = [r for r in refs if r.usable]
        first, last = min(r.first for r in usable), max(r.last for r in usable)
        grid = np.linspace(first, last, 20001)
        observed = np.zeros(grid.size, bool)
        for r in usable:
            observed |= (grid >= r.first) & (grid <= r.last)
        expected.append(1.0 - observed.mean())
        for plan in simulator.plan(lcs, refs, seed=i):
            trials += 1
            inside += any(r.first <= plan.event.peak_mjd <= r.last for r in usable)
    gap_fraction = float(np.mean(expected))
    measured = 1.0 - inside / trials
    assert 0.2 < gap_fraction < 0.6  # the demo's seasons leave a sizeable part of the span unobserved
    assert abs(measured - gap_fraction) < 3 * np.sqrt(gap_fraction * (1 - gap_fraction) / trials)
