"""Injection-recovery efficiency against the Gaussian prediction P(z > T - A), at the default settings.

An injection of ``A`` times the finder's single-epoch uncertainty into one epoch raises that epoch's
S/N from z to z + A (its baseline is that of the other epochs), so at threshold T it is found with
probability P(z > T - A) = erfc((T - A) / sqrt 2) / 2. Each trial is one injected copy, searched
with the default analysis; recovery is decided by the simulator's rule (a detection the injection
caused). Power: with 600 (n = 1000) or 1,500 (n = 33) trials per amplitude, an injector whose noise
unit were 10 % off (efficiency at A = T of P(z > -0.5) = 0.69 instead of 0.5) is 9 to 15 binomial
standard errors off at that amplitude alone: chi^2 over the 7 amplitudes would exceed 80 (3 per
degree of freedom is the bound here).
"""

import math

import numpy as np
import pytest

from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events_many
from virtualobserver.domain.recovery import new_detection, reference_of
from virtualobserver.domain.simulator import InjectedEvent, inject_many
from tests.noise import noise_lightcurves

THRESHOLD = 5.0
AMPLITUDES = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)


def _efficiency(n: int, trials: int, seed: int, amplitudes=AMPLITUDES) -> tuple[dict[float, float], float]:
    """Return the measured efficiency per amplitude and the chi^2 against P(z > T - A)."""
    parameters = AnalysisParameters()
    assert parameters.threshold == THRESHOLD and parameters.excess_scatter  # the defaults
    rng = np.random.default_rng(seed)
    per_lightcurve = 1 if n < 100 else 20  # epochs injected one at a time, each its own copy
    lightcurves = noise_lightcurves(n, trials // per_lightcurve, rng)
    found = find_events_many(lightcurves, parameters)
    references = [reference_of(lc.mjds, scores, detections, lc.exptime)
                  for lc, (scores, detections) in zip(lightcurves, found)]
    uncertainties = [scores.uncertainty for scores, _ in found]  # the finder's S/N denominator per epoch
    measured, chi2 = {}, 0.0
    for amplitude in amplitudes:
        targets, events = [], []
        for lc, ref, uncertainty in zip(lightcurves, references, uncertainties):
            for epoch in rng.choice(np.arange(2, n - 2), size=per_lightcurve, replace=False):
                # A box much shorter than the cadence, centred on the epoch: that epoch alone changes,
                # by A of its own S/N denominator (the finder's, whatever the settings).
                change = amplitude * uncertainty[epoch] / ref.trend[epoch]
                events.append(InjectedEvent.create("box_bump", lc.mjds[epoch], 1e-3, change, cadence=ref.cadence))
                targets.append((lc, ref))
        copies = inject_many([lc for lc, _ in targets], events, baselines=[ref.trend for _, ref in targets])
        found = find_events_many(copies, parameters)
        recovered = sum(new_detection(event, detections, ref.detections, ref.cadence, 2.0) is not None
                        for event, (_, detections), (_, ref) in zip(events, found, targets))
        p = 0.5 * math.erfc((THRESHOLD - amplitude) / math.sqrt(2))
        measured[amplitude] = recovered / len(events)
        chi2 += (recovered - p * len(events)) ** 2 / (len(events) * p * (1 - p))
    return measured, chi2


@pytest.mark.parametrize("n, trials", [(33, 1500), (1000, 600)])
def test_single_epoch_efficiency_matches_the_gaussian_prediction(n, trials):
    measured, chi2 = _efficiency(n, trials, seed=n)
    dof = len(AMPLITUDES)
    assert chi2 / dof < 3.0, (measured, chi2 / dof)
    # And each amplitude on its own within 4 binomial standard errors, where that has power: at
    # A = 2 (p = 0.00135) the 600 or 1,500 trials expect 0.8 or 2 recoveries, and nothing recovered
    # would pass; test_low_amplitude_efficiency_is_the_gaussian_tail covers it with enough trials.
    for amplitude, value in measured.items():
        p = 0.5 * math.erfc((THRESHOLD - amplitude) / math.sqrt(2))
        if p * trials >= 10:
            assert value > 0 and abs(value - p) < 4 * math.sqrt(p * (1 - p) / trials), (amplitude, value, p)


def test_low_amplitude_efficiency_is_the_gaussian_tail():
    # A = 2 at T = 5: P(z > 3) = 0.00135, so 12,000 single-epoch trials expect 16.2 +- 4.0 recoveries.
    # Power: an injector or finder that recovers nothing is 4.0 standard errors off (always caught);
    # one whose S/N were 10 % high (P(z > 2.8) = 0.00256, 30.7 expected) is 3.6 off (caught ~2/3 of
    # the time). The amplitudes where the efficiency is large are tested above.
    trials = 12_000
    measured, _ = _efficiency(33, trials, seed=7, amplitudes=(2.0,))
    p = 0.5 * math.erfc((THRESHOLD - 2.0) / math.sqrt(2))
    expected, standard_error = p * trials, math.sqrt(trials * p * (1 - p))
    recovered = measured[2.0] * trials
    assert recovered > 0 and abs(recovered - expected) < 3 * standard_error, (recovered, expected, standard_error)
