"""Simulator: the cases that mutation testing found unchecked (tests/mutation/science.md)."""

from __future__ import annotations

import pytest

from domain.simulator import SimulationParameters, Simulator


@pytest.mark.parametrize("noise_model, streams", [("sky", {0}), ("source", {0, 1})])
def test_prepared_streams_are_the_ones_plan_draws_from(noise_model, streams):
    # plan draws an injection's event from stream 0 and, with source noise, its noise from stream 1
    # (Simulator._generator(seed, number, stream)). A stream prepared but never drawn from, or drawn
    # from but not prepared, gives the same values at the cost of the pass that prepare_seeds saves.
    simulator = Simulator(SimulationParameters(injections_per_source=3, noise_model=noise_model, seed=4))
    simulator.prepare_seeds([8, 9, 8])
    assert set(simulator._states) == {(seed, number, stream) for seed in (8, 9) for number in range(3)
                                      for stream in streams}
