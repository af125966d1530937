"""Simulator: the cases that mutation testing found unchecked (tests/mutation/science.md)."""

from __future__ import annotations

import pytest

from domain.analysis.finder import AnalysisParameters, find_events_many
from domain.recovery import reference_of
from domain.simulator import SimulationParameters, Simulator
from tests.factories import flat_lightcurve


@pytest.mark.parametrize("noise_model, streams", [("sky", {0}), ("source", {0, 1})])
def test_prepared_streams_are_the_ones_plan_draws_from(noise_model, streams):
    # plan draws an injection's event from stream 0 and, with source noise, its noise from stream 1
    # (Simulator._generator(seed, number, stream)). A stream prepared but never drawn from, or drawn
    # from but not prepared, gives the same values at the cost of the pass that prepare_seeds saves.
    simulator = Simulator(SimulationParameters(injections_per_source=3, noise_model=noise_model, seed=4))
    simulator.prepare_seeds([8, 9, 8])
    assert set(simulator._states) == {(seed, number, stream) for seed in (8, 9) for number in range(3)
                                      for stream in streams}


def test_a_target_without_detections_need_not_be_listed_to_leave_its_injection_unrecovered():
    # Callers pass the detections of the copies they searched; a target with none may be absent.
    lightcurves = [flat_lightcurve(n=80, seed=3)]
    found = find_events_many(lightcurves, AnalysisParameters(min_good_epochs=3))
    references = [reference_of(lc.mjds, scores, detections, lc.exptime)
                  for lc, (scores, detections) in zip(lightcurves, found)]
    simulator = Simulator(SimulationParameters(kinds=["box_bump"], injections_per_source=3, peak_time="epochs",
                                                width_min=5.0, width_max=5.0))
    plans = simulator.plan(lightcurves, references, 1)
    assert len(plans) == 3 and all(plan.targets == ((0, 1.0),) for plan in plans)
    for plan in plans:
        injection, index = simulator.outcome(plan, {}, references)
        assert (injection.recovered, injection.covered, injection.found_in, index) == (False, 1, 0, None)
        assert injection.detection is None
