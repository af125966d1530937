"""Batch analysis: one pass over many lightcurves gives exactly what one lightcurve at a time gives."""

import numpy as np
import pytest

from virtualobserver.domain.analysis.analysis import Analysis, summarise
from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events, find_events_many
from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.segments import Segments
from virtualobserver.domain.source import Source
from virtualobserver.domain.statistics import median, robust_location_scale
from tests.reference_scores import reference_scores


def _equal(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


@pytest.mark.parametrize("seed", range(40))
def test_segment_statistics_equal_the_per_sample_functions(seed):
    rng = np.random.default_rng(seed)
    segments = Segments(rng.integers(0, 40, size=rng.integers(1, 15)))
    values = rng.normal(size=segments.size) * rng.choice([1e-3, 1.0, 1e6])
    values[rng.random(segments.size) < 0.05 * (seed % 3)] = np.nan
    values[rng.random(segments.size) < 0.03 * (seed % 2)] = np.inf
    if seed % 4 == 0:
        values = np.round(values, 1)  # ties
    mask = rng.random(segments.size) < 0.7
    parts, masks = segments.split(values), segments.split(mask)
    assert _equal(segments.median(values), [median(p) for p in parts])
    assert _equal(segments.median(values, mask), [median(p[m]) for p, m in zip(parts, masks)])
    centre, scale = segments.robust_location_scale(values, mask)
    expected = [robust_location_scale(p[m]) for p, m in zip(parts, masks)]
    assert _equal(centre, [e[0] for e in expected]) and _equal(scale, [e[1] for e in expected])
    assert _equal(segments.first(values, np.isfinite(values), -1.0),
                  [p[np.isfinite(p)][0] if np.isfinite(p).any() else -1.0 for p in parts])
    assert segments.counts(mask).tolist() == [int(m.sum()) for m in masks]


def _lightcurve(rng, n, optional=("ra", "dec", "limiting_mag", "chi", "sharp")) -> Lightcurve:
    flux = rng.normal(100.0, rng.choice([1.0, 3.0]), n)  # errors below are 0.5-2: some lightcurves have more scatter
    if rng.random() < 0.6:  # an event: a few epochs well above or below the baseline
        start = int(rng.integers(0, n))
        flux[start:start + int(rng.integers(1, 5))] += rng.choice([-1.0, 1.0]) * rng.uniform(5, 30)
    if rng.random() < 0.2:
        flux[rng.random(n) < 0.1] = np.nan
    columns = {"mjd": np.sort(rng.uniform(0, 100, n)), "flux": flux, "fluxerr": rng.uniform(0.5, 2.0, n),
               "mag": 25 - 2.5 * np.log10(np.abs(flux) + 1), "magerr": np.full(n, 0.01),
               "flag": rng.choice([0, 0, 0, 0, 1], n), "exptime": np.full(n, 30.0),
               "ra": 120 + rng.normal(0, 2e-5, n), "dec": 20 + rng.normal(0, 2e-5, n),
               "limiting_mag": rng.normal(21, 1, n), "chi": rng.uniform(0, 5, n), "sharp": rng.normal(0, 0.3, n)}
    keep = set(optional) | {"mjd", "flux", "fluxerr", "mag", "magerr", "flag", "exptime"}
    return Lightcurve("demo", "g", 0, {k: v for k, v in columns.items() if k in keep})


def _batch(seed, count=12):
    rng = np.random.default_rng(seed)
    choices = [("ra", "dec", "limiting_mag", "chi", "sharp"), ("ra", "dec"), (), ("chi", "sharp")]
    return [_lightcurve(rng, int(rng.integers(1, 80)), choices[int(rng.integers(0, 4))]) for _ in range(count)]


@pytest.mark.parametrize("seed", range(10))
def test_quality_of_a_batch_equals_one_lightcurve_at_a_time(seed):
    lightcurves = _batch(seed)  # mixed optional columns: checked in groups, returned in order
    checker = QualityChecker(QualityParameters(max_chi=3.0, max_abs_sharp=0.5))
    for lc, together in zip(lightcurves, checker.check_many(lightcurves)):
        alone = checker.check(lc)
        assert together.values.keys() == alone.values.keys()
        assert all(_equal(together.values[k], alone.values[k]) for k in alone.values)
        assert all(np.array_equal(together.failed[k], alone.failed[k]) for k in alone.failed)
        assert np.array_equal(together.flag, alone.flag) and np.array_equal(together.good, alone.good)
        assert together.flag.size == lc.mjds.size


@pytest.mark.parametrize("detrend", ["none", "biweight"])
@pytest.mark.parametrize("widths", [[], [2.0, 8.0]])
@pytest.mark.parametrize("seed", range(4))
def test_scores_and_detections_of_a_batch_equal_one_lightcurve_at_a_time(seed, widths, detrend):
    lightcurves = _batch(seed + 100)
    # A low significance for the excess scatter, so that both of its paths are taken.
    parameters = AnalysisParameters(widths_days=widths, threshold=4.0, min_good_epochs=3, detrend=detrend,
                                    detrend_window_days=30.0, excess_scatter_sigma=1.0)
    qualities = QualityChecker().check_many(lightcurves)
    found = excess = 0
    for lc, quality, (scores, detections) in zip(lightcurves, qualities,
                                                 find_events_many(lightcurves, parameters, qualities)):
        alone, alone_detections = find_events(lc, parameters, quality)
        assert _equal(scores.snr, alone.snr) and _equal(scores.delta_mag, alone.delta_mag)
        assert scores.filtered.keys() == alone.filtered.keys()
        assert all(_equal(scores.filtered[w], alone.filtered[w]) for w in alone.filtered)
        assert [repr(d) for d in detections] == [repr(d) for d in alone_detections]
        found += len(detections)
        # The definitions, written out one epoch and one window at a time (tests/reference_scores.py).
        snr, filtered, scatter = reference_scores(lc, parameters, quality.good)
        assert np.allclose(scores.snr, snr, rtol=1e-9, atol=1e-9, equal_nan=True)
        assert all(np.allclose(scores.filtered[w], filtered[w], rtol=1e-9, atol=1e-9, equal_nan=True)
                   for w in filtered)
        assert scores.scatter == pytest.approx(scatter, rel=1e-9, abs=1e-12)
        excess += scatter > 0
    assert found > 0  # the batches hold events, so the detection path is exercised
    assert excess > 0  # and lightcurves with a significant excess scatter


def test_analysing_many_sources_equals_one_at_a_time_and_isolates_a_failure():
    lightcurves = _batch(7, count=9)
    sources = [Source(name=f"s{i}", ra=1.0, dec=2.0) for i in range(5)]
    for i, source in enumerate(sources):
        source.id = i + 1
    unloaded = Lightcurve("demo", "r", 0)  # no columns: cannot be analysed
    grouped = [(sources[0], lightcurves[:3]), (sources[1], []), (sources[2], lightcurves[3:4] + [unloaded]),
               (sources[3], lightcurves[4:8]), (sources[4], lightcurves[8:])]
    analysis = Analysis(AnalysisParameters(threshold=4.0))
    outcomes = analysis.analyse_sources(grouped, "demo", "v1")
    assert isinstance(outcomes[2], DataError) and "not loaded" in str(outcomes[2])
    for (source, mine), outcome in zip(grouped, outcomes):
        if source is sources[2]:
            continue
        results, summary = outcome
        alone_results, alone_summary = analysis.analyse_source(source, mine, "demo", "v1")
        assert summary == alone_summary == summarise(source, alone_results, "demo", "v1")
        assert [repr(d) for r in results for d in r.detections] == [repr(d) for r in alone_results
                                                                    for d in r.detections]
    empty = outcomes[1][1]
    assert (empty.num_lightcurves, empty.num_epochs, empty.mag_median, empty.best_snr) == (0, 0, None, None)


@pytest.mark.parametrize("noise_model", ["sky", "source"])
def test_injecting_many_equals_injecting_each(noise_model):
    from virtualobserver.domain.events import DIMMING_KINDS, EVENT_KINDS, InjectedEvent
    from virtualobserver.domain.simulator import _generator, inject, inject_many

    rng = np.random.default_rng(5)
    lightcurves = []
    for i in range(24):
        lc = _lightcurve(rng, int(rng.integers(5, 60)))
        columns = dict(lc.columns)
        if i % 4 == 0:  # epochs without a usable magnitude take the lightcurve's typical zero point
            columns["mag"] = columns["mag"].copy()
            columns["mag"][:2] = np.nan
        lc.set_columns(columns)
        lightcurves.append(lc)
    kinds = list(EVENT_KINDS)
    events = [InjectedEvent.create(kinds[i % len(kinds)], lc.mjds[len(lc.mjds) // 2] + 0.1, 2.0,
                                   None if kinds[i % len(kinds)] == "microlensing" else
                                   (-0.3 if kinds[i % len(kinds)] in DIMMING_KINDS else 0.5), u0=0.3)
              for i, lc in enumerate(lightcurves)]
    assert {e.kind for e in events} == set(EVENT_KINDS)  # every shape, evaluated many at once
    rngs = [_generator(0, i, 0, 2) for i in range(len(lightcurves))] if noise_model == "source" else None
    together = inject_many(lightcurves, events, rngs, noise_model)
    changed = 0
    for i, (lc, event, copy) in enumerate(zip(lightcurves, events, together)):
        alone = inject(lc, event, _generator(0, i, 0, 2) if rngs else None, noise_model)
        for name in ("flux", "fluxerr", "mag", "magerr"):
            assert _equal(copy.columns[name], alone.columns[name]), (event.kind, name)
        changed += not np.array_equal(copy.flux, lc.flux, equal_nan=True)
        assert not copy.flux.flags.writeable
    assert changed >= len(lightcurves) // 2  # most events fall on epochs (a narrow one may fall between)


def test_medians_of_very_different_lengths_are_exact_and_not_padded_to_the_longest(monkeypatch):
    rng = np.random.default_rng(8)
    lengths = [5000] + [int(n) for n in rng.integers(1, 12, size=400)] + [0, 700]
    segments = Segments(lengths)
    values = rng.normal(size=segments.size)
    mask = rng.random(segments.size) < 0.8
    widest = []
    padded = Segments._padded
    monkeypatch.setattr(Segments, "_padded", lambda self, v: widest.append(self.count * self.width) or padded(self, v))
    parts, masks = segments.split(values), segments.split(mask)
    assert _equal(segments.median(values, mask), [median(p[m]) for p, m in zip(parts, masks)])
    assert _equal(segments.median(values), [median(p) for p in parts])
    # Padding all 403 segments to 5000 would be 2 million elements for 12 thousand values.
    assert max(widest) <= 4 * segments.size


def test_medians_of_many_empty_segments():
    segments = Segments([0] * 50 + [1, 0, 3])
    values = np.array([2.0, 5.0, 1.0, 3.0])
    expected = [np.nan] * 50 + [2.0, np.nan, 3.0]
    assert _equal(segments.median(values), expected)
    assert _equal(segments.median(values, np.array([True, False, True, True])), [np.nan] * 50 + [2.0, np.nan, 2.0])
