"""Simulator work done for a whole batch: seeded streams and prepared lightcurves equal the one-at-a-time results."""

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import find_events_many
from virtualobserver.domain.analysis.finder import AnalysisParameters
from virtualobserver.domain.recovery import reference_of
from virtualobserver.domain.seeding import _GeneratedState, stream_states
from virtualobserver.domain.simulator import SimulationParameters, Simulator, _generator
from tests.factories import flat_lightcurve


def _references(lightcurves):
    found = find_events_many(lightcurves, AnalysisParameters(min_good_epochs=3))
    return [reference_of(lc.mjds, scores, detections, lc.exptime) for lc, (scores, detections) in zip(lightcurves, found)]


def _state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


@pytest.mark.parametrize("base_seed", [0, 1, 2**32 - 1, 2**32, 2**63 - 1])
def test_streams_seeded_together_are_those_of_seed_sequence(base_seed):
    rng = np.random.default_rng(base_seed % 1000)
    seeds = [0, 1, 2**31, 2**32 - 1, 2**32, 2**64 - 1] + [int(s) for s in rng.integers(0, 2**63, 30, dtype=np.int64)]
    keys = [(0, 0), (0, 1), (3, 2), (999_999, 1)]
    states = stream_states(base_seed, seeds, keys)
    assert len(states) == len(seeds) * len(keys)  # seeds below 2**64 fit the pool: all computed here
    for (seed, number, stream), state in states.items():
        made = np.random.Generator(np.random.PCG64(_GeneratedState(state)))
        assert _state(made) == _state(_generator(base_seed, seed, number, stream))


def test_seeds_too_long_for_the_pool_are_left_to_seed_sequence():
    assert stream_states(2**40, [2**64 + 3], [(0, 1)]) == {}
    simulator = Simulator(SimulationParameters(seed=2**40))
    simulator.prepare_seeds([2**64 + 3])
    lcs = [flat_lightcurve(n=50)]
    events = simulator.plan(lcs, _references(lcs), 2**64 + 3)
    again = Simulator(SimulationParameters(seed=2**40)).plan(lcs, _references(lcs), 2**64 + 3)
    assert [p.event for p in events] == [p.event for p in again]


def test_generated_state_holds_one_pcg64_state_only():
    state = stream_states(0, [5], [(0, 1)])[(5, 0, 1)]
    with pytest.raises(ValueError):
        _GeneratedState(state).generate_state(8)


@pytest.mark.parametrize("noise_model", ["sky", "source"])
def test_prepared_seeds_draw_and_inject_what_unprepared_ones_do(noise_model):
    parameters = SimulationParameters(injections_per_source=4, noise_model=noise_model, seed=7)
    sources = [[flat_lightcurve(n=60 + 10 * i, seed=i), flat_lightcurve(n=30, seed=100 + i)][:1 + i % 2]
               for i in range(6)]
    seeds = [11, 2**40 + 3, 0, 12345, 2**63 + 9, 77]
    prepared, alone = Simulator(parameters), Simulator(parameters)
    prepared.prepare_seeds(seeds)
    assert len(prepared._states) == len(seeds) * 4 * (2 if noise_model == "source" else 1)
    for lightcurves, seed in zip(sources, seeds):
        refs = _references(lightcurves)
        ours, theirs = prepared.plan(lightcurves, refs, seed), alone.plan(lightcurves, refs, seed)
        assert [(p.event, p.targets) for p in ours] == [(p.event, p.targets) for p in theirs]
        if noise_model == "source":
            assert [_state(p.noise) for p in ours] == [_state(p.noise) for p in theirs]
        for (_, _, a), (_, _, b) in zip(prepared.copies(lightcurves, refs, ours),
                                        alone.copies(lightcurves, refs, theirs)):
            np.testing.assert_array_equal(a.flux, b.flux)


def test_new_parameters_drop_the_prepared_seeds():
    simulator = Simulator(SimulationParameters(seed=1))
    simulator.prepare_seeds([5])
    simulator.parameters = SimulationParameters(seed=2)
    lcs = [flat_lightcurve(n=40)]
    refs = _references(lcs)
    assert ([p.event for p in simulator.plan(lcs, refs, 5)]
            == [p.event for p in Simulator(SimulationParameters(seed=2)).plan(lcs, refs, 5)])


def test_seed_states_are_those_pcg64_of_an_integer_starts_from():
    from virtualobserver.domain.seeding import generator_from_state, seed_states

    seeds = [0, 1, 2**32 - 1, 2**32, 2**32 + 7, 2**63, 2**64 - 1, 123456789012345]
    states = seed_states(seeds)
    for seed, state in zip(seeds, states):
        assert state.tolist() == np.random.SeedSequence(seed).generate_state(4, np.uint64).tolist()
        ours, theirs = generator_from_state(state), np.random.Generator(np.random.PCG64(seed))
        assert ours.random(5).tolist() == theirs.random(5).tolist()
