"""Simulator: event model shapes, injection, reproducible draws, parameters and recovery by the finder."""

import json
import math

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, find_events
from domain.detection import BRIGHTENING, DIMMING
from domain.errors import ConfigError, DataError
from domain.events import EDGE_FRACTION, box, flare, gaussian, occultation, paczynski
from domain.lightcurve import Lightcurve
from domain.simulator import EVENT_KINDS, InjectedEvent, SimulationParameters, Simulator, inject
from domain.statistics import robust_location_scale
from tests.factories import flat_lightcurve, writable_columns

T0 = 59100.0


def dense_lightcurve(n=2000, step=0.02, flux=100.0, sigma=1.0, seed=0):
    """flat_lightcurve with epochs every ``step`` days instead of daily."""
    lc = flat_lightcurve(n=n, flux=flux, sigma=sigma, seed=seed)
    columns = {**lc.columns, "mjd": 59000.0 + step * np.arange(n)}
    return Lightcurve(lc.survey, lc.filter, lc.season, columns, source_name=lc.source_name)


def baseline_of(lc):
    return robust_location_scale(lc.flux[lc.good])[0]


# -- event models ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model, amplitude", [(flare, 0.7), (gaussian, 0.7), (gaussian, -0.4), (box, 0.3),
                                              (box, -0.3), (occultation, -0.5)])
def test_models_peak_at_t0_with_requested_amplitude(model, amplitude):
    t = T0 + np.linspace(-5, 5, 100_001)
    factor = model(t, T0, amplitude, 0.5)
    assert model(np.array([T0]), T0, amplitude, 0.5)[0] == pytest.approx(1 + amplitude, rel=1e-12)
    extreme = factor.max() if amplitude > 0 else factor.min()
    assert extreme == pytest.approx(1 + amplitude, rel=1e-12)
    assert factor[0] == pytest.approx(1.0, abs=1e-4) and factor[-1] == pytest.approx(1.0, abs=1e-4)


def test_flare_rises_ten_times_faster_than_it_decays():
    width, amplitude = 1.0, 2.0
    excess = flare(np.array([T0 - 0.1, T0 + 0.1, T0 + 1.0, T0 - 1.0]), T0, amplitude, width) - 1
    # One rise e-folding (0.1 d) before the peak equals one decay e-folding (1 d) after it. Times near
    # MJD 59100 carry rounding of ~1e-11 d, i.e. ~1e-10 of a 0.1-d e-folding: hence rtol 1e-9.
    np.testing.assert_allclose(excess[[0, 2]], amplitude / math.e, rtol=1e-9)
    assert excess[1] == pytest.approx(amplitude * math.exp(-0.1), rel=1e-9)
    assert excess[3] == pytest.approx(amplitude * math.exp(-10), rel=1e-9)


def test_gaussian_is_symmetric_with_sigma_width():
    excess = gaussian(np.array([T0 - 0.5, T0 + 0.5]), T0, 0.4, 0.5) - 1
    np.testing.assert_allclose(excess, 0.4 * math.exp(-0.5), rtol=1e-12)


def test_box_is_flat_inside_and_one_outside():
    t = T0 + np.linspace(-1, 1, 2001)
    factor = box(t, T0, -0.3, 0.5)
    inside = np.abs(t - T0) <= 0.25
    assert np.all(factor[inside] == 0.7) and np.all(factor[~inside] == 1.0)


def test_occultation_has_flat_bottom_and_linear_ingress():
    width, depth = 1.0, -0.6  # ingress and egress 0.2 d each, bottom 0.6 d
    t = T0 + np.linspace(-1, 1, 2001)
    factor = occultation(t, T0, depth, width)
    bottom = np.abs(t - T0) <= 0.3 - 1e-9
    assert np.allclose(factor[bottom], 0.4, rtol=0, atol=1e-12)
    assert np.all(factor[np.abs(t - T0) >= 0.5] == 1.0)
    assert occultation(np.array([T0 + 0.4]), T0, depth, width)[0] == pytest.approx(0.7)  # halfway down


@pytest.mark.parametrize("u0", [0.01, 0.1, 0.5, 1.0])
def test_paczynski_matches_formula_at_u0_and_at_one_te(u0):
    def magnification(u):
        return (u**2 + 2) / (u * math.sqrt(u**2 + 4))
    values = paczynski(np.array([T0, T0 + 20.0, T0 - 20.0]), T0, u0, 20.0)
    assert values[0] == pytest.approx(magnification(u0), rel=1e-12)
    np.testing.assert_allclose(values[1:], magnification(math.hypot(u0, 1.0)), rtol=1e-12)
    event = InjectedEvent.create("microlensing", T0, 20.0, u0=u0)
    assert event.amplitude == pytest.approx(magnification(u0) - 1, rel=1e-12)


@pytest.mark.parametrize("kind, amplitude, u0", [("flare", 1.0, None), ("gaussian_bump", 0.5, None),
                                                ("gaussian_dip", -0.5, None), ("occultation", -0.8, None),
                                                ("microlensing", None, 0.2), ("microlensing", None, 2.0)])
def test_event_span_is_where_deviation_exceeds_edge_fraction(kind, amplitude, u0):
    event = InjectedEvent.create(kind, T0, 0.7, amplitude, u0=u0)
    edges = event.factor(np.array([event.start_mjd, event.end_mjd])) - 1
    np.testing.assert_allclose(np.abs(edges), EDGE_FRACTION * abs(event.amplitude), rtol=1e-6)
    assert event.start_mjd < T0 < event.end_mjd


def test_injected_event_validates_and_round_trips_through_json():
    with pytest.raises(ValueError, match="amplitude must be positive"):
        InjectedEvent.create("flare", T0, 1.0, -0.2)
    with pytest.raises(ValueError, match=r"amplitude must be in \[-1, 0\)"):
        InjectedEvent.create("box_dip", T0, 1.0, -1.5)
    with pytest.raises(ValueError, match="unknown event kind 'nova'"):
        InjectedEvent.create("nova", T0, 1.0, 0.2)
    with pytest.raises(ValueError, match="positive u0"):
        InjectedEvent.create("microlensing", T0, 1.0)
    event = InjectedEvent.create("microlensing", T0, 12.0, u0=0.3, snr_amplitude=40.0, cadence=1.0)
    assert InjectedEvent(**json.loads(json.dumps(event.as_dict()))) == event
    injection = event.to_injection(3)
    assert (injection.kind, injection.sequence, injection.recovered, injection.u0) == ("microlensing", 3, False, 0.3)


# -- inject ---------------------------------------------------------------------------------------

def test_inject_leaves_input_untouched_and_changes_only_flux_and_magnitudes():
    lc = flat_lightcurve(n=300, seed=4)
    columns = writable_columns(lc)
    columns["flag"][150] = 4  # a flagged epoch inside the event: injected too, flag kept
    lc.columns = columns
    before = {name: values.copy() for name, values in lc.columns.items()}
    event = InjectedEvent.create("gaussian_bump", 59150.0, 3.0, 0.2)
    out = inject(lc, event)

    for name, values in lc.columns.items():
        np.testing.assert_array_equal(values, before[name])
        # Unchanged columns may be shared: both sides are read-only, so neither can change the other.
        assert not np.shares_memory(values, out.columns[name]) or not (
            values.flags.writeable or out.columns[name].flags.writeable)
    assert (out.survey, out.filter, out.season, out.source_name) == (lc.survey, lc.filter, lc.season, lc.source_name)
    for name in ("mjd", "fluxerr", "flag", "exptime"):
        np.testing.assert_array_equal(out.columns[name], lc.columns[name])
    factor = event.factor(lc.mjds)
    np.testing.assert_allclose(out.flux - lc.flux, baseline_of(lc) * (factor - 1), rtol=1e-12, atol=1e-12)
    changed = out.flux != lc.flux
    assert changed[150] and 0 < changed.sum() < lc.num_epochs
    # flat_lightcurve's zero point is 25; magerr follows fluxerr / flux as in reduction.
    np.testing.assert_allclose(out.mag[changed], 25 - 2.5 * np.log10(out.flux[changed]), rtol=1e-12)
    np.testing.assert_allclose(out.magerr[changed], 1.0857362 * lc.fluxerr[changed] / out.flux[changed], rtol=1e-6)
    np.testing.assert_array_equal(out.mag[~changed], lc.mag[~changed])
    np.testing.assert_array_equal(out.magerr[~changed], lc.magerr[~changed])


def test_inject_source_noise_adds_photon_noise_of_the_extra_flux():
    n, amplitude = 5000, 0.5
    lc = flat_lightcurve(n=n, sigma=2.0, seed=6)
    event = InjectedEvent.create("box_bump", 59000.0 + n / 2, 2.0 * n, amplitude)  # covers every epoch
    out = inject(lc, event, np.random.default_rng(1), "source")
    np.testing.assert_allclose(out.fluxerr, lc.fluxerr * math.sqrt(1 + amplitude), rtol=1e-12)
    pull = (out.flux - lc.flux - baseline_of(lc) * amplitude) / (lc.fluxerr * math.sqrt(amplitude))
    # Standard normal pulls: the mean has sd 1/sqrt(n), the sample sd has sd 1/sqrt(2n).
    assert abs(pull.mean()) < 3 / math.sqrt(n)
    assert abs(pull.std() - 1) < 3 / math.sqrt(2 * n)
    dip = inject(lc, InjectedEvent.create("box_dip", 59000.0 + n / 2, 2.0 * n, -0.5), np.random.default_rng(1),
                 "source")
    np.testing.assert_array_equal(dip.fluxerr, lc.fluxerr)  # a dip adds no photons
    np.testing.assert_allclose(dip.flux - lc.flux, -0.5 * baseline_of(lc), rtol=1e-12)


def test_inject_rejects_unknown_noise_model_and_source_without_rng():
    lc, event = flat_lightcurve(), InjectedEvent.create("flare", 59050.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="unknown noise_model 'poisson'"):
        inject(lc, event, np.random.default_rng(0), "poisson")
    with pytest.raises(ValueError, match="needs an rng"):
        inject(lc, event, None, "source")


def test_inject_refuses_a_non_positive_baseline():
    with pytest.raises(DataError, match="not positive"):
        inject(flat_lightcurve(flux=-5.0), InjectedEvent.create("flare", 59050.0, 1.0, 0.5))


# -- draws, determinism and parameters ------------------------------------------------------------

def test_injections_are_deterministic_for_a_seed():
    lc = flat_lightcurve(n=400, seed=2)
    simulator = Simulator(SimulationParameters(injections_per_source=5, noise_model="source", seed=11))
    first, again = list(simulator.injections(lc, 7)), list(simulator.injections(lc, 7))
    assert len(first) == 5
    for (e1, lc1), (e2, lc2) in zip(first, again):
        assert e1 == e2
        np.testing.assert_array_equal(lc1.flux, lc2.flux)
    other = [e for e, _ in simulator.injections(lc, 8)]
    assert all(a != b for a, b in zip(other, (e for e, _ in first)))
    # The i-th event does not depend on how many follow it.
    more = Simulator(SimulationParameters(injections_per_source=8, noise_model="source", seed=11))
    assert [e for e, _ in more.injections(lc, 7)][:5] == [e for e, _ in first]


def test_draw_respects_configured_ranges():
    params = SimulationParameters(kinds=["flare", "box_dip", "microlensing"], amplitude_min=4.0, amplitude_max=6.0,
                                  amplitude_scale="linear", width_min=0.1, width_max=1.0, u0_min=0.2, u0_max=0.5)
    lc = flat_lightcurve(n=300, seed=3)
    baseline, spread = robust_location_scale(lc.flux[lc.good])
    noise = max(spread, 1.0)
    rng, n = np.random.default_rng(0), 3000
    events = [Simulator(params).draw(lc, rng) for _ in range(n)]
    assert {e.kind for e in events} == {"flare", "box_dip", "microlensing"}
    for e in events:
        assert lc.mjd_start <= e.peak_mjd <= lc.mjd_end and 0.1 <= e.width <= 1.0 and e.cadence == 1.0
        assert e.snr_amplitude == pytest.approx(e.amplitude * baseline / noise, rel=1e-12)
        if e.kind == "microlensing":
            assert 0.2 <= e.u0 <= 0.5
        else:
            assert e.u0 is None and 4.0 <= abs(e.snr_amplitude) <= 6.0
            assert (e.amplitude < 0) == (e.kind == "box_dip")
    # Log-uniform widths fall below the geometric mean, linear amplitudes below the mid-point, half the
    # time each; a binomial fraction of n draws has sd sqrt(0.25 / n).
    tolerance = 3 * math.sqrt(0.25 / n)
    assert abs(np.mean([e.width < math.sqrt(0.1) for e in events]) - 0.5) < tolerance
    steady = [abs(e.snr_amplitude) for e in events if e.kind != "microlensing"]
    assert abs(np.mean(np.array(steady) < 5.0) - 0.5) < 3 * math.sqrt(0.25 / len(steady))


def test_peak_times_span_gaps_or_stay_near_epochs():
    lc = flat_lightcurve(n=300, seed=1)
    keep = (lc.mjds < 59100) | (lc.mjds >= 59200)  # a 100-day gap in a 299-day span
    gapped = Lightcurve("test", "g", 0, {k: v[keep] for k, v in lc.columns.items()})
    rng, n = np.random.default_rng(5), 3000
    span = np.array([Simulator(SimulationParameters()).draw(gapped, rng).peak_mjd for _ in range(n)])
    in_gap = np.mean((span > 59099.5) & (span < 59199.5))
    assert abs(in_gap - 100 / 299) < 3 * math.sqrt((1 / 3) * (2 / 3) / n)
    near = np.array([Simulator(SimulationParameters(peak_time="epochs")).draw(gapped, rng).peak_mjd
                     for _ in range(n)])
    assert np.all(np.min(np.abs(near[:, None] - gapped.mjds[None, :]), axis=1) <= 0.5)


def test_dips_deeper_than_the_flux_are_capped_at_total():
    lc = flat_lightcurve(n=300, flux=2.0, sigma=1.0, seed=3)  # S/N 3..20 would remove 1.5..10 x the flux
    params = SimulationParameters(kinds=["occultation"])
    events = [Simulator(params).draw(lc, np.random.default_rng(s)) for s in range(50)]
    assert all(-1.0 <= e.amplitude < 0 for e in events) and any(e.amplitude == -1.0 for e in events)


def test_simulation_parameters_defaults_and_validation():
    params = SimulationParameters()
    assert params.enabled is False and params.kinds == list(EVENT_KINDS)
    assert "enabled" not in params.science_dict() and "seed" in params.science_dict()
    assert all(spec.description for _, spec in SimulationParameters.reference())
    with pytest.raises(ConfigError, match=r"sim.yaml: 'simulation.amplitude_min': amplitude_min 30.0 is above"):
        SimulationParameters.from_mapping({"amplitude_min": 30}, source="sim.yaml", prefix="simulation")
    with pytest.raises(ConfigError, match="'width_min'"):
        SimulationParameters(width_min=2.0, width_max=1.0)
    with pytest.raises(ConfigError, match="'supernova' is not one of"):
        SimulationParameters(kinds=["flare", "supernova"])
    with pytest.raises(ConfigError, match="at least one kind"):
        SimulationParameters(kinds=[])
    with pytest.raises(ConfigError, match="'noise_model'"):
        SimulationParameters(noise_model="poisson")
    with pytest.raises(ConfigError, match="below the minimum"):
        SimulationParameters(u0_min=0.0)


# -- recovery by the finder -----------------------------------------------------------------------

STEP = 0.02  # cadence of dense_lightcurve, days


@pytest.mark.parametrize("kind, width, snr, u0, sigma, direction", [
    # Margins (per-epoch S/N at the peak minus the best epoch more than one step away, in units of
    # the noise of a difference, sigma * sqrt 2) are >= 5, so "peak within one step" fails < 1e-6:
    ("flare", 3 * STEP, 30.0, None, 1.0, BRIGHTENING),        # 27.1 vs 19.5 at +1.3 steps
    ("gaussian_dip", 1.5 * STEP, 30.0, None, 1.0, DIMMING),   # 29.4 vs 20.6 at +1.3 steps
    ("microlensing", 5 * STEP, None, 0.3, 5.0, BRIGHTENING),  # 47.6 vs 33.3 at +1.3 steps
])
def test_injected_events_are_recovered_at_their_peak(kind, width, snr, u0, sigma, direction):
    lc = dense_lightcurve(sigma=sigma, seed=21)
    t0 = lc.mjds[1000] + 0.3 * STEP  # between epochs, as a real event would be
    amplitude = None if snr is None else (1 if direction == BRIGHTENING else -1) * snr * sigma / baseline_of(lc)
    event = InjectedEvent.create(kind, t0, width, amplitude, u0=u0, cadence=STEP)
    _, detections = find_events(inject(lc, event), AnalysisParameters())
    found = Simulator(SimulationParameters()).match(event, detections)
    assert found is not None and found is detections[0] and found.kind == direction
    assert abs(found.peak_mjd - t0) <= STEP
    # Where the model falls below the extent threshold (2 sigma) lies well inside the 1 % span.
    assert event.start_mjd - STEP <= found.start_mjd and found.end_mjd <= event.end_mjd + STEP


def test_occultation_is_recovered_within_its_span():
    lc = dense_lightcurve(seed=22)
    event = InjectedEvent.create("occultation", lc.mjds[700] + 0.3 * STEP, 20 * STEP, -10.0 / baseline_of(lc),
                                 cadence=STEP)
    _, detections = find_events(inject(lc, event), AnalysisParameters())
    found = Simulator(SimulationParameters()).match(event, detections)
    assert found is not None and found.kind == DIMMING
    assert event.start_mjd - STEP <= found.start_mjd <= found.peak_mjd <= found.end_mjd <= event.end_mjd + STEP


def test_simulator_round_trip_recovers_strong_long_events_and_rejects_wrong_sign():
    # Boxes of >= 5 epochs at S/N >= 10 per epoch: every epoch passes the threshold of 5 unless noise
    # drops it by 5 sigma (3e-7), so all must be recovered.
    params = SimulationParameters(kinds=["box_bump", "box_dip"], injections_per_source=20, amplitude_min=10.0,
                                  width_min=5 * STEP, width_max=10 * STEP, peak_time="epochs", noise_model="source")
    simulator = Simulator(params)
    lc = dense_lightcurve(seed=23)
    for event, injected in simulator.injections(lc, seed=1):
        _, detections = find_events(injected, AnalysisParameters())
        found = simulator.match(event, detections)
        assert found is not None and found.kind == event.direction
        flipped = InjectedEvent.create("box_bump" if event.kind == "box_dip" else "box_dip", event.peak_mjd,
                                       event.width, -event.amplitude if event.amplitude < 1 else -0.5,
                                       cadence=event.cadence)
        assert simulator.match(flipped, detections) is None


def test_source_injections_spread_over_lightcurves_by_span():
    from domain.simulator import SimulationParameters, Simulator

    short = flat_lightcurve(n=50, seed=1)            # 50 days
    long = flat_lightcurve(n=450, seed=2)            # 450 days: 9x the span
    simulator = Simulator(SimulationParameters(injections_per_source=2000, kinds=["gaussian_bump"]))
    drawn = list(simulator.source_injections([short, long], seed=3))
    assert len(drawn) == 2000
    share = sum(index == 1 for index, _, _ in drawn) / 2000
    p = 450 / 500  # spans plus one cadence each: (449 + 1) / (49 + 1 + 449 + 1)
    assert abs(share - p) < 3 * (p * (1 - p) / 2000) ** 0.5
    for index, event, injected in drawn[:20]:
        lc = (short, long)[index]
        assert injected.num_epochs == lc.num_epochs and lc.mjds[0] <= event.peak_mjd <= lc.mjds[-1] + 1
    again = list(simulator.source_injections([short, long], seed=3))
    assert [(i, e.peak_mjd) for i, e, _ in again[:50]] == [(i, e.peak_mjd) for i, e, _ in drawn[:50]]


def test_injection_streams_are_the_spawned_children_of_the_source_seed():
    # The documented streams (choice, draw, noise of each injection) are built straight from their spawn keys;
    # they must equal what SeedSequence.spawn gives, or runs would change with the implementation.
    simulator = Simulator(SimulationParameters(injections_per_source=3, noise_model="source"))
    lightcurves = [flat_lightcurve(n=200, seed=1), flat_lightcurve(n=150, seed=2)]
    made = list(simulator.source_injections(lightcurves, 42))
    children = np.random.SeedSequence([simulator.parameters.seed, 42]).spawn(3)
    for (index, event, injected), child in zip(made, children):
        choice, draw, noise = (np.random.default_rng(s) for s in child.spawn(3))
        spans = np.array([lc.mjds[-1] - lc.mjds[0] + np.median(np.diff(lc.mjds)) for lc in lightcurves])
        assert index == int(choice.choice(2, p=spans / spans.sum()))
        assert event == simulator.draw(lightcurves[index], draw)
        expected = inject(lightcurves[index], event, noise, "source")
        np.testing.assert_array_equal(injected.flux, expected.flux)
