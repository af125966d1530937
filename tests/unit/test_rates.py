"""Event rates in the domain: directions, labels, events from detections, false alarms, the rate and its coverage."""

import json
import math

import numpy as np
import pytest

from virtualobserver.domain.detection import BRIGHTENING, DIMMING
from virtualobserver.domain.errors import ConfigError, DataError
from virtualobserver.domain.intervals import feldman_cousins_interval, wilson_interval
from virtualobserver.domain.rates import (
    DAYS_PER_YEAR,
    Candidate,
    Exposure,
    InjectionCounts,
    count_events,
    direction_of,
    false_alarms,
    keeps_label,
    measure_rate,
)


def test_directions_and_labels():
    assert direction_of("flare") == direction_of("microlensing") == direction_of("box_bump") == BRIGHTENING
    assert direction_of("gaussian_dip") == direction_of("occultation") == DIMMING
    with pytest.raises(ConfigError, match="unknown event kind 'nova'"):
        direction_of("nova")
    labels = [None, "real", "unsure", "artifact"]
    assert [keeps_label("not-artifact", x) for x in labels] == [True, True, True, False]
    assert [keeps_label("real", x) for x in labels] == [False, True, False, False]
    assert all(keeps_label("all", x) for x in labels)
    with pytest.raises(ConfigError, match="unknown label rule"):
        keeps_label("good", None)


def _c(source, lc, start, end, cadence=0.0, label=None):
    return Candidate(source, lc, start, end, label, cadence)


def test_detections_of_one_event_in_several_filters_count_once():
    flare_g, flare_r = _c(1, 10, 100.0, 101.0), _c(1, 11, 100.5, 102.0)  # one flare in g and r
    later = _c(1, 10, 150.0, 150.0)
    other_source = _c(2, 20, 100.0, 101.0)
    assert count_events([flare_g, flare_r, later, other_source]) == 3
    # Single epochs in g and r a few days apart (each filter observed on other nights): one event within
    # a cadence, two without.
    g, r = _c(1, 10, 200.0, 200.0, cadence=3.0), _c(1, 11, 204.0, 204.0, cadence=3.0)
    assert count_events([g, r]) == 1
    assert count_events([_c(1, 10, 200.0, 200.0), _c(1, 11, 204.0, 204.0)]) == 2
    assert count_events([]) == 0


def test_the_recovery_rule_applies_to_real_events_too():
    both = [_c(1, 10, 100.0, 101.0), _c(1, 11, 100.5, 102.0)]
    one = [_c(2, 20, 100.0, 101.0)]
    assert count_events(both + one, min_lightcurves=2) == 1
    # 0: in every searched lightcurve whose span overlaps the event (source 2 has a second filter then).
    spans = {1: [(50.0, 150.0), (60.0, 160.0)], 2: [(50.0, 150.0), (90.0, 120.0), (300.0, 400.0)]}
    assert count_events(both + one, min_lightcurves=0, spans=spans) == 1
    assert count_events(one, min_lightcurves=0, spans={2: [(50.0, 150.0), (300.0, 400.0)]}) == 1


def test_false_alarms_of_one_sign_are_half_the_two_sided_formula():
    exposure = Exposure(sources=10, observed_sources=10, source_days=3650.0, lightcurves=20, good_epochs=4000,
                        lightcurve_days=2000.0)
    expected = 0.5 * math.erfc(5.0 / math.sqrt(2.0)) * (4000 + 2000.0 / 2.0 + 2000.0 / 8.0)
    assert false_alarms(exposure, 5.0, [2.0, 8.0]) == pytest.approx(expected, rel=1e-12)
    assert false_alarms(exposure, 5.0, []) == pytest.approx(2.866515718791939e-07 * 4000, rel=1e-9)  # Q(5)


def _exposure(years: float) -> Exposure:
    return Exposure(sources=100, observed_sources=100, source_days=years * DAYS_PER_YEAR)


def test_rate_interval_is_the_count_interval_over_the_efficiency_interval_and_time():
    injections = InjectionCounts(injected=400, recovered=100, in_gaps=40)
    r = measure_rate("flare", 12, 2.0, injections, _exposure(50.0), confidence=0.9, detections=15)
    # Bonferroni split: the count at 1 - 0.09 = 91 %, the efficiency at 1 - 0.01 = 99 %.
    assert r.count_confidence == pytest.approx(0.91) and r.efficiency_confidence == pytest.approx(0.99)
    s_lo, s_hi = feldman_cousins_interval(12, 2.0, 0.91)
    e_lo, e_hi = wilson_interval(100, 400, 0.99)
    assert r.rate == pytest.approx((12 - 2.0) / (0.25 * 50.0))
    assert r.lower == pytest.approx(s_lo / (e_hi * 50.0)) and r.upper == pytest.approx(s_hi / (e_lo * 50.0))
    assert not r.upper_limit and r.lower < r.rate < r.upper
    assert (r.observed, r.detections, r.false_alarms, r.efficiency) == (12, 15, 2.0, 0.25)
    assert r.summary() == f"flare: {r.rate:.3g} per source per year, 90% CL [{r.lower:.3g}, {r.upper:.3g}]"


def test_a_count_consistent_with_the_false_alarms_gives_an_upper_limit():
    r = measure_rate("gaussian_dip", 1, 1.5, InjectionCounts(200, 150), _exposure(10.0))
    assert r.direction == DIMMING and r.upper_limit and r.lower == 0.0 and r.rate == 0.0
    assert r.summary().startswith("gaussian_dip: < ") and "upper limit" in r.summary()
    garwood = measure_rate("gaussian_dip", 1, 1.5, InjectionCounts(200, 150), _exposure(10.0), method="garwood")
    assert garwood.upper_limit and garwood.method == "garwood"


def test_no_recovery_gives_no_finite_upper_limit_and_json_stays_valid():
    r = measure_rate("flare", 3, 0.1, InjectionCounts(50, 0), _exposure(10.0))
    assert math.isnan(r.rate) and math.isinf(r.upper)
    values = json.loads(json.dumps(r.as_dict(), allow_nan=False))
    assert values["upper"] is None and values["rate"] is None and values["injections"]["injected"] == 50
    assert values["years"] == pytest.approx(10.0) and values["unit"] == "per source per year"


def test_rates_need_injections_time_and_sane_levels():
    with pytest.raises(DataError, match="no injections of kind 'flare'"):
        measure_rate("flare", 1, 0.0, InjectionCounts(0, 0), _exposure(1.0))
    with pytest.raises(DataError, match="no observed time"):
        measure_rate("flare", 1, 0.0, InjectionCounts(10, 5), Exposure())
    with pytest.raises(ConfigError, match="confidence"):
        measure_rate("flare", 1, 0.0, InjectionCounts(10, 5), _exposure(1.0), confidence=90)
    with pytest.raises(ConfigError, match="interval method"):
        measure_rate("flare", 1, 0.0, InjectionCounts(10, 5), _exposure(1.0), method="bayes")


# Coverage by Monte Carlo (fixed seed): each trial draws the recovered injections ~ Binomial(n_inj, eff) and
# the observed count ~ Poisson(R eff T + N_fa), and asks whether the 90 % interval holds the true R.
# Power: 2,000 trials give a binomial standard error of 0.0067 at 0.9; the test accepts coverage
# >= 0.88 (3 standard errors below), so a method that covers only 85 % fails with probability
# 0.9999 (z = 3.75) and one at 87 % with probability 0.93.
@pytest.mark.parametrize("true_rate", [0.0, 0.02, 0.1, 0.4])
def test_the_rate_interval_covers_the_true_rate_at_least_at_its_level(true_rate):
    rng = np.random.default_rng(20261207 + int(true_rate * 1000))
    trials, injected, efficiency, years, background = 2000, 300, 0.3, 100.0, 1.5
    recovered = rng.binomial(injected, efficiency, trials)
    observed = rng.poisson(true_rate * efficiency * years + background, trials)
    exposure = _exposure(years)
    covered = 0
    for k, n in zip(recovered, observed):
        r = measure_rate("flare", int(n), background, InjectionCounts(injected, int(k)), exposure)
        covered += r.lower <= true_rate <= r.upper
    coverage = covered / trials
    assert coverage >= 0.9 - 3 * math.sqrt(0.9 * 0.1 / trials), coverage
