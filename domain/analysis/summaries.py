"""Per-source summaries of an analysis: per filter, and the signed strongest event for the follow-up list.

A source's lightcurves are laid end to end in order of (source, filter), so that each filter's epochs
are one segment and every statistic takes one numpy call per batch (see :mod:`domain.segments`);
only the choice of the strongest event and the per-filter dictionaries are made per source.

Definitions (also in :class:`~domain.summary.SourceSummary`):

* ``mag_median`` of a filter is the median magnitude of its good epochs, an epoch whose flux is <= 0
  (whose magnitude is undefined, NaN) counting as fainter than any other: it is then the magnitude
  of the median flux (of an even count, the mean of the two middle magnitudes), not the median of
  the positive fluxes only, which is biased bright for sources near the survey limit; None if that
  median flux is <= 0. The source's ``mag_median`` is that of one filter, never a mix: the
  filter with most good epochs among those with a median magnitude (ties: the first filter by name).
* ``best_snr`` is signed: the S/N of the strongest detection (largest ``|snr|``) if there is one,
  otherwise the signed single-epoch S/N of the strongest good epoch. ``best_kind`` is the
  detection's kind (None without a detection) and ``best_peak_mjd`` the time of ``best_snr``: the
  detection's peak, or that epoch's time. Ties go to the first (by filter name, then lightcurve
  order, then detection or epoch order).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from virtualobserver.domain.segments import Segments
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary

if TYPE_CHECKING:  # analysis.py imports this module
    from virtualobserver.domain.analysis.analysis import LightcurveResult

__all__ = ["summarise", "summarise_many"]


def summarise(source: Source, results: Sequence[LightcurveResult], survey: str, version: str) -> SourceSummary:
    """Return the per-source summary of an analysis.

    Parameters
    ----------
    source : Source
        The source.
    results : sequence of LightcurveResult
        Results of its lightcurves.
    survey, version : str
        Survey and analysis version.

    Returns
    -------
    SourceSummary
        Epoch counts, median magnitude, typical relative scatter, the signed strongest event and the
        number of detections, in total and per filter.
    """
    return summarise_many([(source, results)], survey, version)[0]


def summarise_many(sources: Sequence[tuple[Source, Sequence[LightcurveResult]]], survey: str,
                   version: str) -> list[SourceSummary]:
    """Return the summaries of many sources: as :func:`summarise` on each, one numpy call per step for all.

    Parameters
    ----------
    sources : sequence of (Source, sequence of LightcurveResult)
        Each source with the results of its lightcurves.
    survey, version : str
        Survey and analysis version.

    Returns
    -------
    list of SourceSummary
        One per source, in order.
    """
    layout = _Layout(sources)
    results = layout.results
    goods = [r.quality.good for r in results]
    by_filter = Segments(_sums([g.size for g in goods], layout.filter_sizes))
    good = _concatenate(goods, bool)
    mag = _concatenate([r.lightcurve.mag for r in results], float)
    flux = _concatenate([r.lightcurve.flux for r in results], float)
    # A good epoch without a magnitude because its flux is <= 0 is fainter than every other one.
    ranked_mag = np.where(np.isnan(mag) & (flux <= 0.0), np.inf, mag)
    mag_medians = by_filter.median(ranked_mag, good & ~np.isnan(ranked_mag)).tolist()
    num_good = by_filter.counts(good).tolist()
    snr = np.where(good, _concatenate([r.scores.snr for r in results], float), np.nan)
    best_epoch, best_at = _strongest_epoch_each(snr, by_filter)
    num_epochs = _sums([r.lightcurve.num_epochs for r in results], layout.filter_sizes)
    num_detections = _sums([len(r.detections) for r in results], layout.filter_sizes)
    best_event = _strongest_detection_each(results, layout.filter_sizes)
    rms = [_relative_rms(r) for r in results]
    summaries, lc, group = [], 0, 0
    for (source, mine), filters in zip(sources, layout.filters_per_source):
        per_filter = {}
        for f in range(group, group + filters):
            event, count = best_event[f], layout.filter_sizes[f]
            per_filter[layout.filter_names[f]] = {
                "num_lightcurves": count, "num_epochs": num_epochs[f], "num_good": num_good[f],
                "mag_median": _finite_or_none(mag_medians[f]), "rms": _median_of_known(rms[lc:lc + count]),
                "best_snr": event.snr if event is not None else _finite_or_none(best_epoch[f]),
                "num_detections": num_detections[f],
            }
            lc += count
        summary = SourceSummary(
            source_id=source.id, survey=survey, version=version, num_lightcurves=len(mine),
            num_epochs=sum(num_epochs[group:group + filters]), num_good=sum(num_good[group:group + filters]),
            mag_median=_reference_magnitude(per_filter), rms=_median_of_known(rms[lc - len(mine):lc]),
            num_detections=sum(num_detections[group:group + filters]), per_filter=per_filter,
            detections_dropped=int(sum(r.detections_dropped for r in mine)))
        _set_strongest(summary, range(group, group + filters), best_event, best_epoch, best_at, layout)
        group += filters
        summaries.append(summary)
    return summaries


class _Layout:
    # The results of every source in order of (source, filter name), stable within a filter, and the
    # filters of each source: how many lightcurves each has, and their names.

    def __init__(self, sources: Sequence[tuple[Source, Sequence[LightcurveResult]]]):
        self.results: list[LightcurveResult] = []
        self.filter_sizes: list[int] = []
        self.filter_names: list[str] = []
        self.filters_per_source: list[int] = []
        for _, mine in sources:
            by_filter: dict[str, list[LightcurveResult]] = {}
            for result in mine:
                by_filter.setdefault(str(result.lightcurve.filter), []).append(result)
            for band in sorted(by_filter):
                self.results.extend(by_filter[band])
                self.filter_sizes.append(len(by_filter[band]))
                self.filter_names.append(band)
            self.filters_per_source.append(len(by_filter))
        #: Index (in ``results``) of the first lightcurve of each filter group.
        self.filter_starts = np.concatenate([[0], np.cumsum(self.filter_sizes, dtype=np.intp)]).tolist()

    def lightcurve_of(self, group: int, position: int) -> tuple[LightcurveResult, int]:
        """Return the lightcurve of filter group ``group`` holding its ``position``-th epoch, and the epoch's index."""
        for result in self.results[self.filter_starts[group]:self.filter_starts[group + 1]]:
            size = result.quality.good.size
            if position < size:
                return result, position
            position -= size
        raise IndexError(position)


def _set_strongest(summary: SourceSummary, filters: range, best_event: list, best_epoch: list[float],
                   best_at: list[int], layout: _Layout) -> None:
    # The source's signed strongest event from its filters': a detection if any, else the strongest epoch.
    events = [best_event[f] for f in filters if best_event[f] is not None]
    if events:
        event = max(events, key=lambda d: abs(d.snr))  # max keeps the first of ties
        summary.best_snr, summary.best_kind, summary.best_peak_mjd = event.snr, event.kind, event.peak_mjd
        return
    known = [f for f in filters if not math.isnan(best_epoch[f])]
    if known:
        f = max(known, key=lambda f: abs(best_epoch[f]))
        result, index = layout.lightcurve_of(f, best_at[f])
        summary.best_snr, summary.best_peak_mjd = best_epoch[f], float(result.lightcurve.mjds[index])


def _reference_magnitude(per_filter: dict[str, dict]) -> float | None:
    # The magnitude of the filter that stands for the source: most good epochs among those with a
    # magnitude, the first by name of ties (the filters are in name order).
    best, most = None, -1
    for values in per_filter.values():
        if values["mag_median"] is not None and values["num_good"] > most:
            best, most = values["mag_median"], values["num_good"]
    return best


def _strongest_detection_each(results: list[LightcurveResult], sizes: list[int]) -> list:
    # Per group of ``sizes`` consecutive lightcurves, its detection of largest |S/N| (the first of ties), or None.
    best: list = [None] * len(sizes)
    group, stop = 0, sizes[0] if sizes else 0
    for i, result in enumerate(results):
        while i >= stop:
            group += 1
            stop += sizes[group]
        for detection in result.detections:
            if best[group] is None or abs(detection.snr) > abs(best[group].snr):
                best[group] = detection
    return best


def _strongest_epoch_each(snr: np.ndarray, segments: Segments) -> tuple[list[float], list[int]]:
    # Per segment, the signed S/N of the first epoch of largest |S/N| and its position in the segment
    # (NaN and -1 for a segment without a value).
    if not segments.count:
        return [], []
    size = np.abs(snr)
    size[np.isnan(size)] = -1.0
    if (segments.lengths > 0).all():
        top = np.maximum.reduceat(size, segments.starts)
    else:
        top = np.array([part.max() if part.size else -1.0 for part in segments.split(size)])
    first = segments.first(np.arange(segments.size, dtype=float), (size == segments.spread(top)) & (size >= 0),
                           -1.0).astype(np.intp)
    known = first >= 0
    values = np.where(known, snr[np.where(known, first, 0)] if segments.size else np.nan, np.nan)
    return values.tolist(), np.where(known, first - segments.starts, -1).tolist()


def _sums(values: list[int], sizes: list[int]) -> list[int]:
    # The sum of each run of ``sizes`` consecutive values (every size is at least 1).
    if not sizes:
        return []
    starts = np.concatenate([[0], np.cumsum(sizes[:-1], dtype=np.intp)])
    return np.add.reduceat(np.asarray(values, dtype=np.int64), starts).tolist()


def _concatenate(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


def _relative_rms(result: LightcurveResult) -> float | None:
    # A lightcurve's robust flux scatter relative to its baseline, None where either is unknown.
    rms, baseline = result.lightcurve.flux_rms, result.scores.baseline
    if rms is None or not baseline or not math.isfinite(baseline):
        return None
    return rms / baseline


def _median_of_known(values: list[float | None]) -> float | None:
    # statistics.median of the values that are not None (None if none is), in Python: the lists are short.
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    if any(math.isnan(v) for v in known):
        return float("nan")
    half = len(known) // 2
    return float(known[half]) if len(known) % 2 else float((known[half - 1] + known[half]) / 2.0)


def _finite_or_none(value: float) -> float | None:
    # NaN: no good epoch with a magnitude; infinity: the median flux is <= 0 (no magnitude either).
    return value if math.isfinite(value) else None
