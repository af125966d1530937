"""Analysis: quality cuts, finder, per-source summary and histograms of the epochs scanned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from virtualobserver.domain.analysis.finder import AnalysisParameters, Scores, find_events_many
from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters, QualityResult
from virtualobserver.domain.analysis.summaries import summarise, summarise_many
from virtualobserver.domain.detection import Detection
from virtualobserver.domain.errors import ConfigError, VOError
from virtualobserver.domain.histograms import Axis, Binned, Histograms
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary

__all__ = ["HistogramParameters", "Analysis", "LightcurveResult", "SCANNED", "HISTOGRAM_NAMES"]

#: Name of the histogram of scanned epochs; quality histograms are named ``cut_<name>``.
SCANNED = "scanned"
_HISTOGRAM_CUTS = ("offset", "limiting_mag", "chi", "sharp")
#: Names of every histogram an analysis writes.
HISTOGRAM_NAMES = (SCANNED,) + tuple(f"cut_{cut}" for cut in _HISTOGRAM_CUTS)


#: Most bins of one histogram (every axis's bins multiplied, under- and overflow included): 10⁷ cells
#: are 80 MB per variable, already far beyond any useful binning; a binning of 10⁹ would take the
#: run's memory (12.9 GiB was seen) before the first source is analysed.
MAX_HISTOGRAM_CELLS = 10_000_000
#: Most edges of one numeric axis (so that building its edges never allocates without bound).
MAX_AXIS_BINS = 100_000


def _range(default: list[float], what: str) -> Param:
    return Param(default, list, f"Bins of {what}: [start, stop, step].", item_kind=float)


class HistogramParameters(Parameters):
    """Binning of the histograms of scanned epochs (under- and overflow bins are always added)."""

    SPECS = {
        "mag": _range([10.0, 22.0, 0.5], "source magnitude (median of its good epochs in the lightcurve)"),
        "snr": _range([-10.0, 10.0, 0.5], "single-epoch S/N"),
        "exptime": Param([0.0, 15.0, 45.0, 100.0, 300.0, 1000.0], list, "Edges of exposure time (s).",
                         item_kind=float),
        "filters": Param(["g", "r", "i"], list, "Filter categories (others go to an 'other' bin); a survey that "
                         "names its filters sets them instead (demo: its download filters; ztf: zg, zr, zi).",
                         item_kind=str),
        "offset": _range([0.0, 10.0, 0.5], "the position-offset cut (robust sigmas)"),
        "limiting_mag": _range([-6.0, 2.0, 0.25], "the lightcurve's baseline mag minus the epoch's limiting "
                               "magnitude"),
        "chi": _range([0.0, 10.0, 0.5], "PSF-fit chi"),
        "sharp": _range([0.0, 1.0, 0.05], "|PSF-fit sharpness|"),
    }

    def check(self, *, source: str | None, prefix: str) -> None:
        """Refuse a binning that cannot be built or is too large, naming its key (see :class:`Parameters`)."""
        def key(name: str) -> str:
            return f"{prefix}.{name}" if prefix else name

        sizes = {}
        for name in ("mag", "snr", *_HISTOGRAM_CUTS):
            values = getattr(self, name)
            if len(values) == 3 and values[2] > 0 and (values[1] - values[0]) / values[2] > MAX_AXIS_BINS:
                raise ConfigError(f"{values} makes more than {MAX_AXIS_BINS:,} bins; use a larger step",
                                  key=key(name), source=source)
            sizes[name] = _checked(lambda v=values: _axis(v), key(name), source).size
        if len(self.exptime) > MAX_AXIS_BINS:
            raise ConfigError(f"more than {MAX_AXIS_BINS:,} edges", key=key("exptime"), source=source)
        sizes["exptime"] = _checked(lambda: Axis.from_edges(self.exptime), key("exptime"), source).size
        filters = _checked(lambda: Axis.categorical(self.filters), key("filters"), source).size
        for name, cells in ((SCANNED, sizes["mag"] * filters * sizes["exptime"] * sizes["snr"]),
                            *((cut, sizes[cut] * filters) for cut in _HISTOGRAM_CUTS)):
            if cells > MAX_HISTOGRAM_CELLS:
                raise ConfigError(f"the {name} histogram would have {cells:,} bins (at most "
                                  f"{MAX_HISTOGRAM_CELLS:,}); use fewer or larger bins",
                                  key=key(name if name in sizes else "mag"), source=source)


def _checked(build, key: str, source: str | None) -> Axis:
    # Axis raises ValueError for what cannot be a binning (stop before start, repeated filters...).
    try:
        return build()
    except ValueError as exc:
        raise ConfigError(str(exc), key=key, source=source) from None


def _axis(values: list[float]) -> Axis:
    if len(values) != 3:
        raise ValueError(f"expected [start, stop, step], got {values}")
    return Axis.numeric(*values)


@dataclass
class LightcurveResult:
    """What the analysis found in one lightcurve."""

    lightcurve: Lightcurve
    quality: QualityResult
    scores: Scores
    detections: list[Detection] = field(default_factory=list)
    #: Detections found but left out by the per-lightcurve cap ``max_detections`` (the weakest ones).
    detections_dropped: int = 0

    def epoch_table(self) -> dict[str, np.ndarray]:
        """Return the per-epoch products: scores, the quality flag and the value of every cut.

        Returns
        -------
        dict of str to numpy.ndarray
            ``mjd``, ``snr``, ``delta_mag``, ``best_score`` and ``best_width`` (the strongest of the
            single-epoch and matched-filter scores, and its width in days), ``trend`` (the baseline flux
            each epoch was measured against), ``quality_flag`` (bit i
            for cut i of ``domain.analysis.quality.CUTS``) and ``cut_<name>`` for each cut.
        """
        best, width = self.scores.best
        table = {"mjd": self.lightcurve.mjds, "snr": self.scores.snr, "delta_mag": self.scores.delta_mag,
                 "best_score": best, "best_width": width, "quality_flag": self.quality.flag}
        if self.scores.trend is not None:
            table["trend"] = self.scores.trend
        table.update({f"cut_{name}": values for name, values in self.quality.values.items()})
        return table


class Analysis:
    """Runs quality cuts and the finder over the lightcurves of a source and accounts for what was scanned.

    Parameters
    ----------
    parameters : AnalysisParameters
        Finder parameters.
    quality : QualityParameters
        Thresholds of the cuts.
    histograms : HistogramParameters
        Binning of the histograms.
    """

    def __init__(self, parameters: AnalysisParameters, quality: QualityParameters | None = None,
                 histograms: HistogramParameters | None = None):
        self.parameters = parameters
        self.checker = QualityChecker(quality)
        self.binning = histograms or HistogramParameters()

    def new_histograms(self) -> dict[str, Histograms]:
        """Return empty histograms: ``scanned`` (mag, filter, exptime, snr) and one per cut (value, filter)."""
        b = self.binning
        filters = Axis.categorical(b.filters)
        result = {SCANNED: Histograms({
            "mag": _axis(b.mag), "filter": filters, "exptime": Axis.from_edges(b.exptime), "snr": _axis(b.snr),
        }, variables=("epochs",))}
        for cut in _HISTOGRAM_CUTS:
            result[f"cut_{cut}"] = Histograms({cut: _axis(getattr(b, cut)), "filter": filters},
                                              variables=("epochs", "failed"))
        return result

    def analyse_lightcurve(self, lightcurve: Lightcurve) -> LightcurveResult:
        """Apply the cuts and the finder to one loaded lightcurve.

        Parameters
        ----------
        lightcurve : Lightcurve
            Loaded lightcurve.

        Returns
        -------
        LightcurveResult
            Quality, scores and detections.
        """
        return self.analyse_many([lightcurve])[0]

    def analyse_many(self, lightcurves: Sequence[Lightcurve]) -> list[LightcurveResult]:
        """Apply the cuts and the finder to many loaded lightcurves: as :meth:`analyse_lightcurve` on each.

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Loaded lightcurves.

        Returns
        -------
        list of LightcurveResult
            One per lightcurve, in order.
        """
        qualities = self.checker.check_many(lightcurves)
        found = find_events_many(lightcurves, self.parameters, qualities)
        return [LightcurveResult(lc, quality, scores, detections, scores.detections_dropped)
                for lc, quality, (scores, detections) in zip(lightcurves, qualities, found)]

    def analyse_source(self, source: Source, lightcurves: Sequence[Lightcurve], survey: str, version: str,
                       histograms: dict[str, Histograms] | None = None) -> tuple[list[LightcurveResult], SourceSummary]:
        """Analyse every lightcurve of a source; fill ``histograms`` (if given) and summarise.

        Parameters
        ----------
        source : Source
            The source (persisted, with an id).
        lightcurves : sequence of Lightcurve
            Its loaded lightcurves in this survey.
        survey, version : str
            Survey and analysis version, recorded in the summary.
        histograms : dict, optional
            From :meth:`new_histograms`; filled in place.

        Returns
        -------
        tuple
            Per-lightcurve results and the source's summary.
        """
        results = self.analyse_many(lightcurves)
        if histograms is not None:
            self.fill_many(histograms, results)
        return results, summarise(source, results, survey, version)

    def analyse_sources(self, sources: Sequence[tuple[Source, Sequence[Lightcurve]]], survey: str,
                        version: str) -> list[tuple[list[LightcurveResult], SourceSummary] | VOError]:
        """Analyse the lightcurves of many sources in one pass: as :meth:`analyse_source` on each.

        Parameters
        ----------
        sources : sequence of (Source, sequence of Lightcurve)
            Each source with its loaded lightcurves in this survey.
        survey, version : str
            Survey and analysis version, recorded in the summaries.

        Returns
        -------
        list
            Per source, in order: its results and summary, or the error that stopped its analysis
            (a lightcurve that cannot be analysed fails its own source only).
        """
        try:
            results = self.analyse_many([lc for _, lightcurves in sources for lc in lightcurves])
        except VOError:
            # One pass failed: analyse source by source, so that the error is only its source's.
            return [_or_error(self.analyse_source, source, lightcurves, survey, version)
                    for source, lightcurves in sources]
        grouped, start = [], 0
        for source, lightcurves in sources:
            grouped.append((source, results[start:start + len(lightcurves)]))
            start += len(lightcurves)
        try:
            summaries = summarise_many(grouped, survey, version)
        except VOError:
            return [_or_error(lambda s, r: (r, summarise(s, r, survey, version)), source, mine)
                    for source, mine in grouped]
        return [(mine, summary) for (_, mine), summary in zip(grouped, summaries)]

    def fill(self, histograms: dict[str, Histograms], result: LightcurveResult) -> None:
        """Add one lightcurve's epochs to the histograms (scanned = good epochs, every cut = all epochs)."""
        self.fill_many(histograms, [result])

    def fill_many(self, histograms: dict[str, Histograms], results: Sequence[LightcurveResult]) -> None:
        """Add the epochs of many lightcurves to the histograms in one pass per histogram.

        Counts are the same as filling each lightcurve in turn (integer addition is
        exact), but the per-call cost of binning is paid once per batch instead of once
        per lightcurve, which dominated the analysis of short lightcurves.

        Parameters
        ----------
        histograms : dict
            From :meth:`new_histograms`; filled in place.
        results : sequence of LightcurveResult
            Results whose epochs are counted (scanned = good epochs, every cut = all epochs).
        """
        if not results:
            return
        sizes = [r.lightcurve.mjds.size for r in results]
        good = np.concatenate([r.quality.good for r in results])
        mag = [r.lightcurve.mag_median if r.lightcurve.mag_median is not None else np.nan for r in results]
        bands = [str(r.lightcurve.filter) for r in results]
        exptime = np.concatenate([r.lightcurve.exptime for r in results])
        snr = np.concatenate([r.scores.snr for r in results])
        scanned = histograms[SCANNED]
        # Magnitude and filter are per lightcurve: binned once per lightcurve, not once per epoch.
        epoch_mag = scanned.axes["mag"].bin(np.asarray(mag, dtype=float)).repeat(sizes)
        epoch_band = _PerEpoch(bands, sizes)
        scanned.fill("epochs", mag=epoch_mag[good], filter=epoch_band.on(scanned.axes["filter"])[good],
                     exptime=exptime[good], snr=snr[good])
        for cut in _HISTOGRAM_CUTS:
            histogram = histograms[f"cut_{cut}"]
            axes = histogram.axes
            # Binned once for both variables: the failed epochs are a subset of all of them.
            values = axes[cut].bin(np.concatenate([r.quality.values[cut] for r in results]))
            band = epoch_band.on(axes["filter"])
            failed = np.concatenate([r.quality.failed[cut] for r in results])
            histogram.fill("epochs", **{cut: values, "filter": band})
            histogram.fill("failed", **{cut: values[failed], "filter": band[failed]})


class _PerEpoch:
    # Per-lightcurve values repeated to every epoch, binned on each axis asked for once per batch.

    def __init__(self, values: list, sizes: list[int]):
        self.values, self.sizes = values, sizes
        self._binned: dict[Axis, Binned] = {}

    def on(self, axis: Axis) -> Binned:
        if axis not in self._binned:
            self._binned[axis] = axis.bin(self.values).repeat(self.sizes)
        return self._binned[axis]


def _or_error(function, *args):
    try:
        return function(*args)
    except VOError as exc:
        return exc
