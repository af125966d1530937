"""The demo survey's noise is Gaussian in flux: its false alarms are symmetric in sign, at every brightness.

The S/N here is ``(flux - true baseline flux) / fluxerr`` of each epoch of the reduced lightcurves, with the
baseline known from the catalog magnitude and the filter's colour offset, so these tests check the survey's
noise and its reported errors, not the finder's baseline estimate.

Decision rule and its power. Of ``n = n_plus + n_minus`` epochs beyond +-3 sigma, ``n_plus`` is binomial
``(n, 1/2)`` if the noise is symmetric, so ``n_plus - n_minus`` has standard deviation ``sqrt(n)``; the counts
agree if they differ by less than ``3 sqrt(n)`` (a false failure in 0.27 % of runs). Each class below scans
1.5e6 epochs, about 4,050 beyond +-3 sigma; if one sign's rate were 20 % above the other's, the expected
difference would be ``n / 11`` ~ 368 against a limit of ~191, which the rule detects in more than 99 % of
runs (``test_the_symmetry_rule_has_the_stated_power`` checks both numbers by simulation). Each count is
also compared with the Gaussian tail ``N P(z >= 3)`` within 3 binomial sigma (~45 epochs on ~2,025), which
a rate 20 % off misses by ~9 sigma.
"""

import math

import numpy as np
import pytest

from virtualobserver.adapters.surveys.demo import _FILTER_OFFSETS, DEMO_ZERO_POINT, DemoParameters, VirtualDemoObs
from virtualobserver.domain.analysis.quality import QualityChecker
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source

THRESHOLD = 3.0
TAIL = 0.5 * math.erfc(THRESHOLD / math.sqrt(2.0))  # P(z >= 3), one side
#: Pure noise: no events, no bad images; one season per filter.
PURE_NOISE = dict(cadence="even", num_points=500, filters=["g", "r", "i"], flag_fraction=0.0, flare_fraction=0.0,
                  dip_fraction=0.0)
SOURCES_PER_CLASS = 3000  # x 500 epochs = 1.5e6 epochs per class
#: Catalog magnitudes: bright (errors from the 0.01-mag floor up to ~0.15 mag) and faint (the limiting
#: magnitude 20.5 is S/N ~5; at 22.5 in g the S/N per epoch is ~0.6, and a large share of fluxes are <= 0).
CLASSES = {"bright": (14.0, 19.5), "faint": (19.5, 22.5)}


def symmetric(n_plus: int, n_minus: int) -> bool:
    """Whether the counts of the two signs agree within 3 binomial sigma (see the module docstring)."""
    return abs(n_plus - n_minus) < 3.0 * math.sqrt(n_plus + n_minus)


def noise_snr(magnitudes: tuple[float, float], count: int, seed: int = 0, **params) -> np.ndarray:
    """Return every epoch's S/N against the true baseline flux, over ``count`` sources of the demo."""
    rng = np.random.default_rng(seed)
    sources = [Source(f"noise-{seed}-{i}", float(ra), float(dec), mag=float(mag)) for i, (ra, dec, mag) in
               enumerate(zip(rng.uniform(0, 360, count), rng.uniform(-60, 60, count), rng.uniform(*magnitudes, count)))]
    survey = VirtualDemoObs(DemoParameters(**{**PURE_NOISE, **params}))
    reduction = ReductionParameters(season_gap_days=1e5)
    snr = []
    for source, raw in zip(sources, survey.download_many(sources)):
        for lc in survey.reduce(raw, reduction):
            baseline = 10.0 ** (-0.4 * (source.mag + _FILTER_OFFSETS[lc.filter] - reduction.zero_point))
            assert not lc.columns["flag"].any()
            snr.append((lc.columns["flux"] - baseline) / lc.columns["fluxerr"])
    return np.concatenate(snr)


@pytest.fixture(scope="module", params=list(CLASSES))
def noise(request):
    return request.param, noise_snr(CLASSES[request.param], SOURCES_PER_CLASS, seed=len(request.param))


def test_false_alarms_are_symmetric_in_sign(noise):
    name, snr = noise
    assert snr.size == SOURCES_PER_CLASS * PURE_NOISE["num_points"] and np.isfinite(snr).all()
    n_plus, n_minus = int((snr >= THRESHOLD).sum()), int((snr <= -THRESHOLD).sum())
    assert n_plus + n_minus > 3000, "too few false alarms to test anything"
    assert symmetric(n_plus, n_minus), (name, n_plus, n_minus)


def test_false_alarms_follow_the_gaussian_tail(noise):
    name, snr = noise
    expected = snr.size * TAIL
    sigma = math.sqrt(snr.size * TAIL * (1 - TAIL))
    for count in ((snr >= THRESHOLD).sum(), (snr <= -THRESHOLD).sum()):
        assert abs(count - expected) < 3 * sigma, (name, count, expected, sigma)
    # The whole distribution, not only its tails: N(0, 1) within the sampling error of 1.5e6 draws.
    assert abs(snr.mean()) < 3 / math.sqrt(snr.size)
    assert abs(snr.std() - 1.0) < 3 / math.sqrt(2 * snr.size)


def test_magnitude_noise_fails_the_symmetry_rule():
    # Control: the demo's former noise (Gaussian in magnitude) on faint sources, which the rule must reject.
    snr = noise_snr(CLASSES["faint"], 300, seed=4, noise="mag")
    n_plus, n_minus = int((snr >= THRESHOLD).sum()), int((snr <= -THRESHOLD).sum())
    assert n_minus > 3 * n_plus and not symmetric(n_plus, n_minus)


def test_the_symmetry_rule_has_the_stated_power():
    rng = np.random.default_rng(11)
    trials = 20_000
    epochs = SOURCES_PER_CLASS * PURE_NOISE["num_points"]
    rate = epochs * TAIL  # expected count of one sign
    # Size: with equal rates the rule fails about 0.27 % of runs.
    fair = np.vectorize(symmetric)(rng.poisson(rate, trials), rng.poisson(rate, trials))
    assert 1 - fair.mean() < 0.006
    # Power: with one sign 20 % more frequent, it fails in more than 99 % of runs (either sign).
    for high, low in ((1.2 * rate, rate), (rate, rate / 1.2)):
        passed = np.vectorize(symmetric)(rng.poisson(high, trials), rng.poisson(low, trials))
        assert passed.mean() < 0.01, (high, low, passed.mean())


def test_magnitudes_derive_from_flux_and_are_nan_where_the_flux_is_not_positive():
    raw = VirtualDemoObs(DemoParameters(**{**PURE_NOISE, "num_points": 2000})).download(
        Source("faint", 10.0, 10.0, mag=22.0))
    c = raw.columns
    positive = c["flux"] > 0
    assert positive.any() and (~positive).sum() > 20  # S/N ~1 per epoch: both kinds
    assert np.isfinite(c["flux"]).all() and (c["fluxerr"] > 0).all()
    np.testing.assert_allclose(c["mag"][positive], DEMO_ZERO_POINT - 2.5 * np.log10(c["flux"][positive]), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(c["magerr"][positive], 1.0857362047581294 * c["fluxerr"][positive]
                               / c["flux"][positive], rtol=1e-12)
    assert np.isnan(c["mag"][~positive]).all() and np.isnan(c["magerr"][~positive]).all()
    assert not c["flag"].any()  # a measurement of non-positive flux is not a bad epoch
    lc = VirtualDemoObs().reduce(raw, ReductionParameters(season_gap_days=1e5))
    quality = QualityChecker().check_many(lc)
    for lightcurve, result in zip(lc, quality):
        kept = lightcurve.columns["flux"] <= 0
        assert kept.any() and not result.failed["nan"][kept].any()  # the finder gets to see them


def test_flux_errors_follow_the_noise_model():
    # Sky-limited: at the limiting magnitude (seeing 1) the error is 0.2 mag; bright sources reach the floor.
    params = DemoParameters(**{**PURE_NOISE, "filters": ["r"]})
    limit = VirtualDemoObs(params).download(Source("limit", 0.0, 0.0, mag=params.limiting_mag)).columns
    seeing = 10 ** (-0.4 * (limit["limiting_mag"] - params.limiting_mag))
    relative = limit["fluxerr"] / 10 ** (-0.4 * (params.limiting_mag - DEMO_ZERO_POINT))
    np.testing.assert_allclose(relative * 2.5 / np.log(10), np.hypot(0.01, 0.2 * seeing), rtol=1e-9)
    bright = VirtualDemoObs(params).download(Source("bright", 0.0, 0.0, mag=10.0)).columns
    relative = bright["fluxerr"] / 10 ** (-0.4 * (10.0 - DEMO_ZERO_POINT)) * 2.5 / np.log(10)
    assert np.all(np.abs(relative - 0.01) < 1e-4)


def test_events_and_bad_images_stay():
    flaring = dict(num_points=400, flare_fraction=1.0, dip_fraction=0.0, flag_fraction=0.2)
    c = VirtualDemoObs(DemoParameters(**flaring)).download(Source("flare", 0.0, 0.0, mag=15.0)).columns
    baseline = 10 ** (-0.4 * (15.0 + np.array([_FILTER_OFFSETS[f] for f in c["filter"]]) - DEMO_ZERO_POINT))
    good = c["flag"] == 0
    assert ((c["flux"] / baseline)[good].max() > 1.4)  # flare amplitudes are 50-300 %
    assert 0.1 < (~good).mean() < 0.3
    # Bad images scatter five times their reported error; good ones (away from the flare) once.
    z = (c["flux"] - baseline) / c["fluxerr"]
    quiet = np.abs(c["flux"] / baseline - 1) < 0.2
    assert np.std(z[~good & quiet]) > 2.5 * np.std(z[good & quiet])


def test_the_flux_follows_the_reduction_zero_point():
    raw = VirtualDemoObs(DemoParameters(**PURE_NOISE)).download(Source("zp", 0.0, 0.0, mag=17.0))
    default = VirtualDemoObs().reduce(raw, ReductionParameters(season_gap_days=1e5))
    other = VirtualDemoObs().reduce(raw, ReductionParameters(season_gap_days=1e5, zero_point=20.0))
    for a, b in zip(default, other):
        np.testing.assert_allclose(b.columns["flux"], a.columns["flux"] * 10 ** (0.4 * (20.0 - 25.0)), rtol=1e-12)
        np.testing.assert_allclose(b.columns["fluxerr"], a.columns["fluxerr"] * 1e-2, rtol=1e-12)
        np.testing.assert_array_equal(b.columns["mag"], a.columns["mag"])
        # On the reduction's scale, flux = 10**(-0.4 (mag - zero point)), as for every other survey.
        np.testing.assert_allclose(b.columns["flux"], 10 ** (-0.4 * (b.columns["mag"] - 20.0)), rtol=1e-9)
