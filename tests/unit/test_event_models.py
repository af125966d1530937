"""Event models as the field uses them: the Davenport (2014) flare template and every model's mean over an exposure."""

import math

import numpy as np
import pytest

from virtualobserver.domain.event_shapes import erf
from virtualobserver.domain.events import EDGE_FRACTION, EVENT_KINDS, FLARE_SPAN, WIDTH_MEANINGS, InjectedEvent, event_factor
from virtualobserver.domain.flare_template import FWHM, crossings, template

T0 = 59100.0
DAY = 86400.0

# Davenport et al. (2014) eqs. 1 and 4, as AltaiPony's flare_model_davenport2014 spells them.
RISE = (1.00000, 1.94053, -0.175084, -2.24588, -1.12498)
DECAY = ((0.689008, -1.60053), (0.302963, -0.278318))


def rise(x):
    return sum(c * x**k for k, c in enumerate(RISE))


def decay(x):
    return sum(w * math.exp(r * x) for w, r in DECAY)


def altaipony_davenport2014(t, tpeak, dur, ampl):
    """AltaiPony's model without upsampling, retyped: fwhm = dur / 2, rise on (-1, 0], decay after."""
    x = (t - tpeak) / (dur / 2.0)
    return np.piecewise(x, [(x <= 0) & (x > -1.0), x > 0],
                        [lambda x: sum(c * x**k for k, c in enumerate(RISE)),
                         lambda x: sum(w * np.exp(r * x) for w, r in DECAY)]) * abs(ampl)


def flare_integral(a, b):
    """Integral of the template over [a, b] from its antiderivatives, piece by piece (x in t_half)."""
    def rise_primitive(x):
        return sum(c * x ** (k + 1) / (k + 1) for k, c in enumerate(RISE))

    def decay_primitive(x):
        return sum(w / r * math.exp(r * x) for w, r in DECAY)

    lo, hi = min(max(a, -1.0), 0.0), min(max(b, -1.0), 0.0)
    total = rise_primitive(hi) - rise_primitive(lo)
    return total + decay_primitive(max(b, 0.0)) - decay_primitive(max(a, 0.0))


def factor(kind, t, width, main, exptime=None):
    parameter = {"u0": main} if kind == "microlensing" else {"amplitude": main}
    return event_factor(kind, np.asarray(t, dtype=float), peak_mjd=T0, width=width, exptime=exptime, **parameter)


# -- the flare template ----------------------------------------------------------------------------------------

def test_template_is_davenports_polynomial_and_exponentials():
    xs = [-0.99, -0.9, -0.5, -0.25, -0.01, 0.0]
    np.testing.assert_allclose(template(np.array(xs)), [rise(x) for x in xs], rtol=1e-13)
    xs = [1e-9, 0.25, 1.0, 3.0, 10.0, 40.0]
    np.testing.assert_allclose(template(np.array(xs)), [decay(x) for x in xs], rtol=1e-14)
    assert np.all(template(np.array([-1.0, -1.5, -50.0])) == 0.0)
    # By hand at x = -1/2 and x = 1: the rise is 0.196 at x = -1/2, not half the peak.
    assert rise(-0.5) == pytest.approx(1 - 0.970265 - 0.043771 + 0.280735 - 0.07031125, rel=1e-12)
    assert template(np.array([-0.5]))[0] == pytest.approx(0.19638775, rel=1e-14)
    assert template(np.array([1.0]))[0] == pytest.approx(0.689008 * 0.2017895 + 0.302963 * 0.7570560, rel=1e-6)


def test_template_peaks_at_one_and_its_fwhm_is_0913_t_half():
    x = np.linspace(-2, 20, 2_200_001)
    values = template(x)
    assert values.max() == 1.0 and x[values.argmax()] == 0.0
    assert template(np.array([1e-12]))[0] == pytest.approx(0.991971, rel=1e-6)  # the published fit jumps after it
    half_rise, half_decay = crossings(0.5)
    assert rise(half_rise) == pytest.approx(0.5, rel=1e-14) and decay(half_decay) == pytest.approx(0.5, rel=1e-14)
    assert (half_rise, half_decay) == (pytest.approx(-0.270932, abs=1e-6), pytest.approx(0.641950, abs=1e-6))
    assert FWHM == pytest.approx(0.912882, abs=1e-6)
    above = x[values > 0.5]
    assert above.min() == pytest.approx(half_rise, abs=1e-5) and above.max() == pytest.approx(half_decay, abs=1e-5)
    # One crossing of each level on each side: the rise only rises, the decay only decays.
    rising, decaying = (x > -1) & (x <= 0), x > 0
    assert np.all(np.diff(values[rising]) > 0) and np.all(np.diff(values[decaying]) < 0)


def test_flare_width_is_t_half_where_altaipony_takes_twice_it():
    t = T0 + np.linspace(-1.0, 5.0, 6001)
    t_half, amplitude = 0.2, 0.8
    ours = factor("flare", t, t_half, amplitude) - 1.0
    np.testing.assert_allclose(ours, altaipony_davenport2014(t, T0, 2 * t_half, amplitude), rtol=1e-12, atol=1e-15)


def test_flare_span_brackets_exactly_where_it_deviates_by_more_than_one_percent():
    t_half, amplitude = 0.1, 3.0
    event = InjectedEvent.create("flare", T0, t_half, amplitude)
    assert (event.start_mjd - T0) / t_half == pytest.approx(-0.911511, abs=1e-6)
    assert (event.end_mjd - T0) / t_half == pytest.approx(12.255858, abs=1e-6)
    assert rise(FLARE_SPAN[0]) == pytest.approx(EDGE_FRACTION, rel=1e-13)
    assert decay(FLARE_SPAN[1]) == pytest.approx(EDGE_FRACTION, rel=1e-13)
    edges = event.factor(np.array([event.start_mjd, event.end_mjd])) - 1.0
    np.testing.assert_allclose(edges, EDGE_FRACTION * amplitude, rtol=1e-8)  # times near 59100 round at 1e-11 d
    t = T0 + t_half * np.linspace(-3.0, 20.0, 2_300_001)
    deviates = event.factor(t) - 1.0 > EDGE_FRACTION * amplitude
    inside = (t > event.start_mjd) & (t < event.end_mjd)
    near_an_edge = np.minimum(np.abs(t - event.start_mjd), np.abs(t - event.end_mjd)) < 1e-9
    assert np.array_equal(deviates[~near_an_edge], inside[~near_an_edge])
    assert deviates.sum() > 0.5 * t.size


# -- means over an exposure --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [0.01, 0.3, 1.0, 2.5, 30.0])  # exposure / t_half
def test_exposure_averaged_flare_is_the_integral_of_the_template(ratio):
    t_half, amplitude = 0.05, 1.7
    exptime = ratio * t_half * DAY
    centres = np.concatenate([np.linspace(-2.5, 14.0, 67), [-1.0, 0.0, -1.0 + ratio / 2, -ratio / 2, ratio / 2]])
    got = factor("flare", T0 + centres * t_half, t_half, amplitude, exptime)
    # The times are rounded near MJD 59100, so the expectation is computed at the centres they became.
    x = (T0 + centres * t_half - T0) / t_half
    expected = [1 + amplitude * flare_integral(c - ratio / 2, c + ratio / 2) / ratio for c in x]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


def test_closed_form_flare_integral_agrees_with_a_dense_trapezoid():
    for a, b in [(-1.3, 0.7), (-0.4, 0.1), (0.2, 3.0), (-1.05, -0.95)]:
        x = np.linspace(a, b, 100_001)
        assert flare_integral(a, b) == pytest.approx(np.trapezoid(template(x), x), abs=1e-6 * (b - a))


def test_two_minute_exposures_understate_a_five_minute_flare_by_the_integral():
    # TESS 2-min cadence, a flare of t_half = 5 min: the exposure spans 0.4 t_half.
    t_half, amplitude, exptime = 300.0 / DAY, 1.0, 120.0
    centred = factor("flare", [T0], t_half, amplitude, exptime)[0]
    mean = flare_integral(-0.2, 0.2) / 0.4
    assert centred == pytest.approx(1 + amplitude * mean, abs=1e-12)
    assert mean == pytest.approx(0.846021, abs=1e-6)  # 15.4 % of the amplitude lost at the peak
    # The best-placed exposure (its middle 19 s after the peak) keeps 85.9 %.
    phases = np.linspace(-0.3, 0.3, 60_001)
    averaged = factor("flare", T0 + phases * t_half, t_half, amplitude, exptime)
    best = max(flare_integral(p - 0.2, p + 0.2) / 0.4 for p in phases[::100])
    assert averaged.max() - 1 == pytest.approx(best, abs=1e-6)
    assert averaged.max() - 1 == pytest.approx(0.858906, abs=1e-6)
    assert factor("flare", [T0], t_half, amplitude)[0] - averaged.max() == pytest.approx(0.141094, abs=1e-6)


def test_exposure_averaged_box_is_the_fraction_of_the_exposure_inside_it():
    width, amplitude = 1.0, -0.3  # a 1-day box_dip from -0.5 to 0.5 d
    cases = [  # (centre, exposure in days, fraction inside)
        (0.0, 0.2, 1.0), (0.5, 0.5, 0.5), (0.4, 0.4, 0.75), (0.0, 2.0, 0.5), (-0.6, 0.4, 0.25), (0.8, 0.2, 0.0),
        (-0.45, 0.3, 2 / 3)]
    for kind in ("box_dip", "box_bump"):
        amp = amplitude if kind == "box_dip" else -amplitude
        got = [factor(kind, [T0 + c], width, amp, e * DAY)[0] for c, e, _ in cases]
        np.testing.assert_allclose(got, [1 + amp * f for *_, f in cases], rtol=0, atol=1e-10)


def occultation_primitive(x, width):
    """Integral of the occultation's depth (ingress 0.2 width) from before first contact to x."""
    g, y = 0.2 * width, x + width / 2.0
    if y <= 0:
        return 0.0
    if y <= g:
        return y * y / (2 * g)
    if y <= width - g:
        return g / 2 + (y - g)
    if y <= width:
        return width - g - (width - y) ** 2 / (2 * g)
    return width - g


def test_exposure_averaged_occultation_is_its_piecewise_quadratic_integral():
    width, amplitude = 2.0, -0.6
    for exposure in (0.01, 0.3, 1.0, 5.0):
        centres = np.concatenate([np.linspace(-3.5, 3.5, 71), [-1.0, -0.6, 0.6, 1.0]])
        got = factor("occultation", T0 + centres, width, amplitude, exposure * DAY)
        c = (T0 + centres) - T0
        expected = [1 + amplitude * (occultation_primitive(x + exposure / 2, width)
                                     - occultation_primitive(x - exposure / 2, width)) / exposure for x in c]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


@pytest.mark.parametrize("eta", [1e-3, 5e-3, 0.0099, 0.0101, 0.05, 0.5, 3.0])  # half-exposure in sigma
def test_exposure_averaged_gaussian_is_its_erf_integral(eta):
    # Below eta = 0.01 the model uses a Taylor series, above it erf: both against math.erf here.
    sigma, amplitude = 0.3, -0.45
    u = np.concatenate([np.linspace(-8, 8, 81), [0.0, 1.0, -1.0]])
    got = factor("gaussian_dip", T0 + u * sigma, sigma, amplitude, 2 * eta * sigma * DAY)
    v = ((T0 + u * sigma) - T0) / sigma
    expected = [1 + amplitude * math.sqrt(math.pi / 2) * (math.erf((x + eta) / math.sqrt(2))
                                                          - math.erf((x - eta) / math.sqrt(2))) / (2 * eta)
                for x in v]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_vectorised_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-30, 30, 300_001), [0.0, -0.0, 2.5, -2.5, 2.5 - 1e-15, 1e-300]])
    assert np.max(np.abs(erf(x) - [math.erf(v) for v in x])) < 2e-15


def magnification(u):
    return (u * u + 2) / (u * np.sqrt(u * u + 4))


def dense_microlensing_mean(tau, eta, u0):
    """Mean of A over [tau - eta, tau + eta]: 20-point Gauss-Legendre on panels in tau graded away from the peak.

    A is analytic except at tau = +-i u0 (and farther): panels of at most a fifth of
    max(u0, distance to the peak) converge to rounding.
    """
    steps = u0 * np.concatenate([0.2 * np.arange(5), 1.2 ** np.arange(0, 200)])
    edges = np.concatenate([-steps, steps, [tau - eta, tau + eta]])
    edges = np.unique(edges[(edges >= tau - eta) & (edges <= tau + eta)])
    nodes, weights = np.polynomial.legendre.leggauss(20)
    middle, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    values = magnification(np.hypot(u0, middle[:, None] + half[:, None] * nodes))
    # Divided by the panels' own length: the ends tau +- eta, rounded, are not 2 eta apart to the last digit.
    return float(np.sum((values @ weights) * half) / (2 * np.sum(half)))


@pytest.mark.parametrize("u0", [1e-4, 0.01, 0.3, 2.0, 10.0])
def test_exposure_averaged_microlensing_matches_a_dense_integral(u0):
    t_e = 20.0
    for eta in (1e-6, 1e-3, 1.0, 1e2, 1e4, 1e6):  # half-exposure in units of u0 tE
        exposure = 2 * eta * u0 * t_e
        if exposure > 2 * t_e * 50:
            continue
        taus = u0 * np.array([0.0, 0.5 * eta, eta, 3 * eta, 1.0, 30.0]) + np.array([0, 0, 0, 0, 0.3, 2.0])
        got = factor("microlensing", T0 + taus * t_e, t_e, u0, exposure * DAY)
        taus = ((T0 + taus * t_e) - T0) / t_e
        expected = [dense_microlensing_mean(tau, eta * u0, u0) for tau in taus]
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_short_exposures_tend_to_the_instantaneous_model_without_losing_digits():
    t = T0 + np.array([-0.03, 0.021, 0.07, 0.26, 0.4, 1.3])  # away from the box's and the flare's jumps
    for kind, main in [("flare", 0.9), ("gaussian_bump", 0.9), ("box_bump", 0.9), ("occultation", -0.9),
                       ("microlensing", 0.05)]:
        instant = factor(kind, t, 0.5, main)
        # Seconds: 1e-11 to 1e-7 days, where the curvature terms, (exposure / timescale)^2 / 24, are below 1e-13.
        for exptime in (1e-6, 1e-4, 1e-2):
            np.testing.assert_allclose(factor(kind, t, 0.5, main, exptime), instant, rtol=1e-12, atol=0)


# -- the interface -----------------------------------------------------------------------------------------------

KINDS = [("flare", 0.8), ("gaussian_bump", 0.6), ("gaussian_dip", -0.6), ("box_bump", 0.4), ("box_dip", -0.4),
         ("occultation", -0.7), ("microlensing", 0.2)]


@pytest.mark.parametrize("kind, main", KINDS)
def test_no_exposure_gives_the_instantaneous_model_bit_for_bit(kind, main):
    t = T0 + np.linspace(-2, 6, 801)
    instant = factor(kind, t, 0.4, main)
    for exptime in (0, 0.0, np.zeros(t.size), np.nan, np.full(t.size, np.nan)):
        assert np.array_equal(factor(kind, t, 0.4, main, exptime), instant)
    mixed = np.where(np.arange(t.size) % 3 == 0, 0.0, np.where(np.arange(t.size) % 3 == 1, np.nan, 1800.0))
    got = factor(kind, t, 0.4, main, mixed)
    assert np.array_equal(got[mixed != 1800.0], instant[mixed != 1800.0])
    assert np.array_equal(got[mixed == 1800.0], factor(kind, t[mixed == 1800.0], 0.4, main, 1800.0))


@pytest.mark.parametrize("kind, main", KINDS)
def test_one_parameter_per_time_equals_one_event_at_a_time(kind, main):
    rng = np.random.default_rng(3)
    events, times, exptimes = [], [], []
    for _ in range(12):
        peak, width = T0 + rng.uniform(-1, 1), 10 ** rng.uniform(-3, 0.5)
        scale = 10 ** rng.uniform(-1, 0)
        t = peak + width * np.linspace(-3, 15, 40)
        exptime = rng.choice([0.0, 30.0, 120.0, 1765.5, 7200.0], size=t.size)
        events.append((peak, width, main * scale))
        times.append(t)
        exptimes.append(exptime)
    alone = [event_factor(kind, t, peak_mjd=p, width=w, exptime=e, **{"u0" if kind == "microlensing" else
                                                                      "amplitude": m})
             for (p, w, m), t, e in zip(events, times, exptimes)]
    n = [t.size for t in times]
    peak, width, value = (np.repeat([e[i] for e in events], n) for i in range(3))
    together = event_factor(kind, np.concatenate(times), peak_mjd=peak, width=width, exptime=np.concatenate(exptimes),
                            **{"u0" if kind == "microlensing" else "amplitude": value})
    np.testing.assert_allclose(together, np.concatenate(alone), rtol=1e-15, atol=0)


def test_injected_event_factor_takes_exposure_times():
    event = InjectedEvent.create("flare", T0, 0.01, 2.0)
    t = T0 + np.linspace(-0.02, 0.1, 50)
    np.testing.assert_array_equal(event.factor(t, 120.0),
                                  event_factor("flare", t, peak_mjd=T0, width=0.01, amplitude=2.0, exptime=120.0))
    assert np.array_equal(event.factor(t), event.factor(t, None))
    assert event.factor(np.array([T0]), 120.0)[0] < event.factor(np.array([T0]))[0] == 3.0


@pytest.mark.parametrize("kind, main", KINDS)
def test_one_time_given_as_a_number_gives_one_number(kind, main):
    for exptime in (None, 0.0, 600.0):
        value = factor(kind, T0 + 0.01, 0.4, main, exptime)
        assert value.shape == () and value == factor(kind, [T0 + 0.01], 0.4, main, exptime)[0]


def test_negative_or_infinite_exposures_are_refused():
    for bad in (-1.0, np.array([30.0, -30.0]), np.inf):
        with pytest.raises(ValueError, match="non-negative and finite"):
            factor("box_bump", T0 + np.array([0.0, 1.0]), 1.0, 0.5, bad)


def test_width_meanings_name_every_kind():
    assert all(kind in WIDTH_MEANINGS for kind in EVENT_KINDS)
    assert "t_half" in WIDTH_MEANINGS and "tE" in WIDTH_MEANINGS and "sigma" in WIDTH_MEANINGS
