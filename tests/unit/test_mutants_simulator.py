"""Simulator: the cases that mutation testing found unchecked (tests/mutation/science.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events_many
from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.events import InjectedEvent
from virtualobserver.domain.recovery import reference_of
from virtualobserver.domain.simulator import Planned, SimulationParameters, Simulator
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


def _quiet_references(lightcurves):
    found = find_events_many(lightcurves, AnalysisParameters(min_good_epochs=3))
    references = [reference_of(lc.mjds, scores, detections, lc.exptime)
                  for lc, (scores, detections) in zip(lightcurves, found)]
    assert not any(ref.detections for ref in references)  # nothing real for an injection to overlap
    return references


def _bump_detection(snr):
    # A brightening peaking at the event's peak (59040), well inside its span.
    return Detection(BRIGHTENING, 59040.0, 59039.0, 59041.0, snr, 150.0, -0.4, 3, 100.0, is_simulated=True)


def test_the_recovering_detection_is_the_strongest_of_the_filters_that_found_it():
    lightcurves = [flat_lightcurve(n=80, seed=3, filter="g"), flat_lightcurve(n=80, seed=4, filter="r")]
    references = _quiet_references(lightcurves)
    plan = Planned(0, InjectedEvent.create("box_bump", 59040.0, 4.0, 0.3), 0, ((0, 1.0), (1, 1.0)))
    simulator = Simulator(SimulationParameters())
    for snrs, strongest in (((12.0, 8.0), 0), ((8.0, 12.0), 1)):
        found = {index: [_bump_detection(snr)] for index, snr in enumerate(snrs)}
        injection, index = simulator.outcome(plan, found, references)
        assert (injection.recovered, injection.found_in, index) == (True, 2, strongest)
        assert injection.detection.snr == 12.0
        assert injection.overlaps_real is False
        # The record keeps the event and where it went, for the injections table.
        assert injection.params["targets"] == [[0, 1.0], [1, 1.0]]
        assert injection.params["kind"] == "box_bump" and injection.params["width"] == 4.0


def test_an_event_that_covers_no_lightcurve_is_not_recovered_even_when_all_filters_are_required():
    # recovery_filters 0 asks for all the covered lightcurves: none covered is not "all of none found".
    lightcurves = [flat_lightcurve(n=80, seed=3)]
    references = _quiet_references(lightcurves)
    in_a_gap = Planned(0, InjectedEvent.create("box_bump", 58000.0, 4.0, 0.3), 0, ())
    injection, index = Simulator(SimulationParameters(recovery_filters=0)).outcome(in_a_gap, {}, references)
    assert (injection.recovered, injection.covered, injection.found_in, index) == (False, 0, 0, None)


def test_an_injection_over_a_real_detection_is_marked_as_overlapping_it():
    lightcurves = [flat_lightcurve(n=80, seed=3)]
    references = _quiet_references(lightcurves)
    real = Detection(BRIGHTENING, 59041.0, 59040.0, 59042.0, 5.0, 120.0, -0.2, 3, 100.0)
    plan = Planned(0, InjectedEvent.create("box_bump", 59040.0, 4.0, 0.3), 0, ((0, 1.0),))
    simulator = Simulator(SimulationParameters())
    # 12 is stronger than the real 5 by more than the margin (2): still recovered, and marked.
    injection, _ = simulator.outcome(plan, {0: [_bump_detection(12.0)]}, [replace(references[0], detections=[real])])
    assert injection.recovered and injection.overlaps_real is True
    injection, _ = simulator.outcome(plan, {0: [_bump_detection(12.0)]}, references)
    assert injection.recovered and injection.overlaps_real is False


def test_an_injection_found_in_fewer_filters_than_required_has_no_recovering_lightcurve():
    lightcurves = [flat_lightcurve(n=80, seed=3, filter="g"), flat_lightcurve(n=80, seed=4, filter="r")]
    references = _quiet_references(lightcurves)
    plan = Planned(0, InjectedEvent.create("box_bump", 59040.0, 4.0, 0.3), 0, ((0, 1.0), (1, 1.0)))
    injection, index = Simulator(SimulationParameters(recovery_filters=2)).outcome(
        plan, {0: [_bump_detection(12.0)]}, references)
    assert (injection.recovered, injection.found_in, index, injection.detection) == (False, 1, None, None)


def test_copies_with_source_noise_get_the_photon_noise_of_the_added_flux():
    # A box of amplitude 0.5 over every epoch: errors grow by sqrt(1.5) under source noise, not under sky.
    lightcurves = [flat_lightcurve(n=60, seed=3)]
    references = _quiet_references(lightcurves)
    for noise_model, scale in (("sky", 1.0), ("source", 1.5 ** 0.5)):
        simulator = Simulator(SimulationParameters(noise_model=noise_model, kinds=["box_bump"],
                                                   injections_per_source=1))
        event = InjectedEvent.create("box_bump", 59030.0, 200.0, 0.5)
        noise = simulator.plan(lightcurves, references, 1)[0].noise
        (_, _, copy), = simulator.copies(lightcurves, references, [Planned(0, event, 0, ((0, 1.0),), noise)])
        np.testing.assert_allclose(copy.fluxerr, lightcurves[0].fluxerr * scale, rtol=1e-12)


def test_a_peak_drawn_at_the_epochs_falls_anywhere_within_half_a_cadence_of_one():
    # peak_time "epochs": a searched epoch, then uniform over +-half a cadence. With epochs every 2 days the
    # distance to the nearest epoch is uniform on [0, 1]: all 400 within 1 day, and the largest above
    # 0.9 day (the chance that none is: 0.9**400 ~ 5e-19).
    mjd = 59000.0 + 2.0 * np.arange(100)
    lc = flat_lightcurve(n=100, seed=5)
    lc.columns = {**lc.columns, "mjd": mjd}
    found = find_events_many([lc], AnalysisParameters())
    references = [reference_of(lc.mjds, scores, detections, lc.exptime) for scores, detections in found]
    assert references[0].cadence == pytest.approx(2.0)
    plans = Simulator(SimulationParameters(kinds=["box_bump"], injections_per_source=400,
                                           peak_time="epochs")).plan([lc], references, 3)
    distance = np.array([np.min(np.abs(mjd - plan.event.peak_mjd)) for plan in plans])
    assert distance.max() <= 1.0 and distance.max() > 0.9


def test_a_simulation_value_refused_is_named_by_its_dotted_key():
    from virtualobserver.domain.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        SimulationParameters(source="project.yaml", prefix="simulation", injections_per_source="many")
    assert refused.value.key == "simulation.injections_per_source" and refused.value.source == "project.yaml"
