"""Fast paths of the analysis equal the straightforward computation they replace, count for count and bit for bit."""

import numpy as np
import pytest

from virtualobserver.domain.analysis.analysis import SCANNED, Analysis, summarise_many
from virtualobserver.domain.analysis.finder import AnalysisParameters
from virtualobserver.domain.histograms import Axis, Binned, Histograms
from virtualobserver.domain.source import Source
from virtualobserver.domain.statistics import median
from tests.unit.test_batch_analysis import _batch

_AXES = [Axis.numeric(0, 10, 0.5), Axis.numeric(-6, 2, 0.25), Axis.numeric(0, 1, 0.05), Axis.numeric(10, 22, 0.5),
         Axis.numeric(-1e-3, 1e-3, 1e-5), Axis.numeric(1e6, 1e6 + 1000, 1), Axis.from_edges([0, 15, 45, 100, 300])]


def _searchsorted_index(axis, values):
    # The definition of a numeric axis's bins: a binary search, NaN in the last bin.
    idx = np.searchsorted(np.asarray(axis.edges), values, side="right")
    idx[np.isnan(values)] = axis.size - 1
    return idx


def _awkward_values(axis, rng, n=5000):
    edges = np.asarray(axis.edges)
    width = edges[-1] - edges[0]
    special = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),
                              [np.inf, -np.inf, np.nan, 1e308, -1e308, 0.0, -0.0, 5e-324]])
    on_grid = edges[0] + rng.integers(-5, edges.size + 5, n) * (width / (edges.size - 1))
    return np.concatenate([np.tile(special, 10), rng.uniform(edges[0] - width, edges[-1] + width, n), on_grid,
                           rng.normal(edges[0], width, n)])


@pytest.mark.parametrize("axis", _AXES)
def test_binning_many_values_equals_a_binary_search(axis):
    values = _awkward_values(axis, np.random.default_rng(1))
    with np.errstate(all="raise"):  # no warning from values beyond float range or NaN
        assert np.array_equal(axis.index(values), _searchsorted_index(axis, values))
    assert np.array_equal(axis.index(values[:10]), _searchsorted_index(axis, values[:10]))


def _histograms():
    return Histograms({"x": Axis.numeric(0, 10, 0.5), "band": Axis.categorical(["g", "r", "i"])},
                      variables=("all", "some"))


def test_pre_binned_values_count_as_the_values():
    rng = np.random.default_rng(2)
    x = _awkward_values(Axis.numeric(0, 10, 0.5), rng, 300)
    band = rng.choice(np.array(["g", "r", "i", "z", "other", ""]), x.size)
    some = rng.random(x.size) < 0.3
    raw, binned = _histograms(), _histograms()
    raw.fill("all", x=x, band=band)
    raw.fill("some", x=x[some], band=band[some])
    axes = binned.axes
    bx, bband = axes["x"].bin(x), axes["band"].bin(band)
    binned.fill("all", x=bx, band=band)  # mixed: one axis binned, one raw
    binned.fill("some", x=bx[some], band=bband[some])
    assert binned == raw and raw.total("all") == x.size


def test_repeated_bins_of_per_lightcurve_values_count_as_repeated_values():
    per_lightcurve = np.array([12.3, np.nan, 25.0, 9.0, 12.3])
    bands = ["g", "z", "r", "g", "i"]
    sizes = [3, 0, 2, 5, 1]
    axis = Axis.numeric(10, 22, 0.5)
    raw = Histograms({"mag": axis, "filter": Axis.categorical(["g", "r", "i"])})
    binned = raw.empty_like()
    raw.fill("counts", mag=np.repeat(per_lightcurve, sizes), filter=np.repeat(bands, sizes))
    binned.fill("counts", mag=axis.bin(per_lightcurve).repeat(sizes),
                filter=Axis.categorical(["g", "r", "i"]).bin(bands).repeat(sizes))
    assert binned == raw


def test_bad_pre_binned_values_raise_and_leave_counts_untouched():
    h = _histograms()
    h.fill("all", x=[1.0], band=["g"])
    before = h.copy()
    axis = h.axes["x"]
    with pytest.raises(ValueError, match="another axis"):
        h.fill("all", x=Axis.numeric(0, 10, 1).bin([1.0]), band=["g"])
    with pytest.raises(ValueError):
        h.fill("all", x=Binned(axis, [axis.size]), band=["g"])
    with pytest.raises(ValueError):
        h.fill("all", x=Binned(axis, [-1]), band=["g"])
    with pytest.raises(ValueError, match="integers"):
        Binned(axis, [1.0])
    with pytest.raises(ValueError, match="equal length"):
        h.fill("all", x=axis.bin([1.0, 2.0]), band=["g", "r", "i"])
    assert h == before


def _fill_per_epoch(histograms, results):
    # The straightforward fill: every per-lightcurve value repeated to each epoch, then binned.
    good = np.concatenate([r.quality.good for r in results])
    sizes = [r.lightcurve.mjds.size for r in results]
    mag = np.repeat([r.lightcurve.mag_median if r.lightcurve.mag_median is not None else np.nan
                     for r in results], sizes).astype(float)
    band = np.repeat(np.array([str(r.lightcurve.filter) for r in results]), sizes)
    exptime = np.concatenate([r.lightcurve.exptime for r in results])
    snr = np.concatenate([r.scores.snr for r in results])
    histograms[SCANNED].fill("epochs", mag=mag[good], filter=band[good], exptime=exptime[good], snr=snr[good])
    for cut in ("offset", "limiting_mag", "chi", "sharp"):
        values = np.concatenate([r.quality.values[cut] for r in results])
        failed = np.concatenate([r.quality.failed[cut] for r in results])
        histograms[f"cut_{cut}"].fill("epochs", **{cut: values, "filter": band})
        histograms[f"cut_{cut}"].fill("failed", **{cut: values[failed], "filter": band[failed]})


@pytest.mark.parametrize("seed", range(6))
def test_filling_many_equals_filling_every_epoch(seed):
    analysis = Analysis(AnalysisParameters())
    lightcurves = _batch(seed, count=40)
    rng = np.random.default_rng(seed)
    for lc in lightcurves:
        lc.filter = str(rng.choice(["g", "r", "i", "z"]))  # z: an unknown filter
        if rng.random() < 0.2:
            lc.mag_median = None
    results = analysis.analyse_many(lightcurves)
    fast, slow = analysis.new_histograms(), analysis.new_histograms()
    analysis.fill_many(fast, results)
    _fill_per_epoch(slow, results)
    assert fast == slow


def _strongest(items, snr_of):
    # The item of largest |S/N|, the first of ties (max keeps the first maximum); None if there is none.
    return max(items, key=lambda item: abs(snr_of(item)), default=None)


def _filter_fields(results):
    # The straightforward statistics of one filter of a source, epoch by epoch, and its strongest event and epoch.
    mags, epochs = [], []
    for r in results:
        for mag, flux, snr, mjd, good in zip(r.lightcurve.mag, r.lightcurve.flux, r.scores.snr, r.lightcurve.mjds,
                                             r.quality.good):
            if good and not np.isnan(mag):
                mags.append(float(mag))
            elif good and flux <= 0:
                mags.append(np.inf)  # no magnitude: fainter than every epoch with one
            if good and not np.isnan(snr):
                epochs.append((float(snr), float(mjd)))
    mag_median = median(mags) if mags else float("nan")
    rms = [r.lightcurve.flux_rms / r.scores.baseline for r in results
           if r.lightcurve.flux_rms is not None and r.scores.baseline and np.isfinite(r.scores.baseline)]
    event = _strongest([d for r in results for d in r.detections], lambda d: d.snr)
    epoch = _strongest(epochs, lambda e: e[0])
    fields = dict(num_lightcurves=len(results), num_epochs=sum(r.lightcurve.num_epochs for r in results),
                  num_good=int(sum(r.quality.good.sum() for r in results)),
                  mag_median=float(mag_median) if np.isfinite(mag_median) else None,
                  rms=median(rms) if rms else None,
                  best_snr=event.snr if event else (epoch[0] if epoch else None),
                  num_detections=sum(len(r.detections) for r in results))
    return fields, event, epoch


def _summary_fields(source, results):
    # The straightforward summary of one source: each filter's, then the source's from its filters.
    bands = sorted({str(r.lightcurve.filter) for r in results})
    per_filter, events, epochs = {}, [], []
    for band in bands:
        fields, event, epoch = _filter_fields([r for r in results if str(r.lightcurve.filter) == band])
        per_filter[band] = fields
        events += [event] if event else []
        epochs += [epoch] if epoch else []
    with_mag = [(-f["num_good"], band) for band, f in per_filter.items() if f["mag_median"] is not None]
    event, epoch = _strongest(events, lambda d: d.snr), _strongest(epochs, lambda e: e[0])
    rms = [r.lightcurve.flux_rms / r.scores.baseline for r in results
           if r.lightcurve.flux_rms is not None and r.scores.baseline and np.isfinite(r.scores.baseline)]
    return dict(source_id=source.id, num_lightcurves=len(results),
                num_epochs=sum(r.lightcurve.num_epochs for r in results),
                num_good=int(sum(r.quality.good.sum() for r in results)),
                mag_median=per_filter[min(with_mag)[1]]["mag_median"] if with_mag else None,
                rms=median(rms) if rms else None,
                best_snr=event.snr if event else (epoch[0] if epoch else None),
                num_detections=sum(len(r.detections) for r in results),
                best_kind=event.kind if event else None,
                best_peak_mjd=event.peak_mjd if event else (epoch[1] if epoch else None),
                per_filter=per_filter, detections_dropped=sum(r.detections_dropped for r in results))


@pytest.mark.parametrize("seed", range(6))
def test_summaries_of_many_sources_equal_the_straightforward_summary(seed):
    rng = np.random.default_rng(seed)
    analysis = Analysis(AnalysisParameters())
    results = analysis.analyse_many(_batch(seed, count=30))
    for r in results:
        lc = r.lightcurve
        lc.filter = str(rng.choice(["g", "r", "zg", "i"]))
        if rng.random() < 0.2:  # a faint source: fluxes <= 0 have no magnitude
            columns = {name: values.copy() for name, values in lc.columns.items()}
            columns["flux"] -= 100.0
            with np.errstate(invalid="ignore", divide="ignore"):
                columns["mag"] = np.where(columns["flux"] > 0, 25 - 2.5 * np.log10(columns["flux"]), np.nan)
            lc.columns = columns
        # Missing values: no scatter, no usable baseline; detections a cap left out.
        if rng.random() < 0.15:
            lc.flux_rms = None
        if rng.random() < 0.15:
            r.scores.baseline = float(rng.choice([np.nan, 0.0, np.inf]))
        r.detections_dropped = int(rng.choice([0, 0, 0, 2]))
    sources, start = [], 0
    for i in range(12):
        count = int(rng.choice([0, 1, 1, 2, 3, 5])) if seed % 2 else 1
        source = Source(name=f"s{i}", ra=0.0, dec=0.0)
        source.id = i
        sources.append((source, results[start:start + count]))
        start += count
    summaries = summarise_many(sources, "demo", "v1")
    assert any(s.best_kind for s in summaries) and any(s.best_snr and not s.best_kind for s in summaries)
    for (source, mine), summary in zip(sources, summaries):
        expected = _summary_fields(source, mine)
        got = {k: v for k, v in summary.as_dict().items() if k in expected}
        assert got == expected
        assert all(type(got[k]) is type(expected[k]) for k in expected)
        for band, fields in expected["per_filter"].items():
            assert all(type(got["per_filter"][band][k]) is type(v) for k, v in fields.items())
