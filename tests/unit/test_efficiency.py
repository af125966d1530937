"""Simulator + finder: the efficiency for single-epoch bumps on Gaussian noise is the Gaussian tail."""

import math

import numpy as np
import pytest

from domain.analysis.finder import AnalysisParameters, find_events
from domain.simulator import InjectedEvent, SimulationParameters, Simulator, inject
from domain.statistics import robust_location_scale
from tests.factories import flat_lightcurve

THRESHOLD = 5.0
SIGMA = 1.0
N_EPOCHS = 10_000  # per lightcurve, daily cadence
SPACING = 200      # epochs between injected bumps: their detections never touch
LIGHTCURVES = 50   # 50 lightcurves x 50 bumps = 2500 trials per amplitude
PER_CURVE = N_EPOCHS // SPACING


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("amplitude", [2, 3, 4, 5, 6, 7, 8])
def test_single_epoch_efficiency_matches_gaussian_tail(amplitude):
    params = AnalysisParameters(threshold=THRESHOLD, excess_scatter=False, max_detections=10**6)
    simulator = Simulator(SimulationParameters())
    recovered = trials = 0
    for m in range(LIGHTCURVES):
        lc = flat_lightcurve(n=N_EPOCHS, sigma=SIGMA, seed=1000 * amplitude + m)
        # inject() scales by this same median, so each bump adds exactly amplitude * SIGMA of flux.
        baseline = robust_location_scale(lc.flux[lc.good])[0]
        # A box 1e-3 d wide centred on an epoch touches that epoch only (cadence 1 d).
        events = [InjectedEvent.create("box_bump", t, 1e-3, amplitude * SIGMA / baseline, cadence=1.0)
                  for t in lc.mjds[SPACING // 2::SPACING]]
        _, detections = find_events(inject(lc, events), params)
        recovered += sum(simulator.match(event, detections) is not None for event in events)
        trials += len(events)
    measured = recovered / trials

    # The injected epoch has S/N = z + A - e with z ~ N(0, 1) and e the baseline's error (in sigma),
    # so it seeds a detection iff z > T - A + e; false alarms next to it (rate 3e-7) are negligible.
    expected = 0.5 * math.erfc((THRESHOLD - amplitude) / math.sqrt(2))
    binomial = 3 * math.sqrt(expected * (1 - expected) / trials)
    # e has two parts. (1) The median's own error, sd sqrt(pi / 2n) (clipping at 3 sigma only
    # lowers it), shared by the PER_CURVE trials of a lightcurve: 3 sd / sqrt(LIGHTCURVES) bounds
    # its average. (2) A bias: the bumps move up to PER_CURVE points above the median, which then
    # rises by at most PER_CURVE / (2 n phi(0)) (clipping the bumps above 3 sigma only shrinks it).
    # Either shifts p by phi(T - A) * e to first order.
    median_sd = math.sqrt(math.pi / (2 * N_EPOCHS))
    bias = PER_CURVE / (2 * N_EPOCHS * _phi(0.0))
    allowance = _phi(THRESHOLD - amplitude) * (bias + 3 * median_sd / math.sqrt(LIGHTCURVES))
    assert trials >= 2000
    assert abs(measured - expected) < binomial + allowance, (measured, expected, binomial, allowance)


def test_injected_bumps_change_only_their_epoch():
    # Guards the premise above: each trial is one epoch raised by exactly A * sigma.
    lc = flat_lightcurve(n=1000, sigma=SIGMA, seed=5)
    baseline = robust_location_scale(lc.flux[lc.good])[0]
    peaks = lc.mjds[SPACING // 2::SPACING]
    events = [InjectedEvent.create("box_bump", t, 1e-3, 4 * SIGMA / baseline) for t in peaks]
    delta = inject(lc, events).flux - lc.flux
    expected = np.zeros(lc.num_epochs)
    expected[SPACING // 2::SPACING] = 4 * SIGMA
    np.testing.assert_allclose(delta, expected, atol=1e-9)
