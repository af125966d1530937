"""Event rates per source per year: real events, minus expected false alarms, over efficiency times time observed.

``R = (N_obs - N_fa) / (eff * T)``:

* ``N_obs``: real events of the kind's direction (brightening for flares, bumps and microlensing; dimming
  for dips and occultations) that survive triage. Detections of one source whose spans, widened by
  one cadence of their lightcurves, overlap are **one event** (a flare seen in g and r counts once,
  as an injection found in both filters does), and an event counts when found in as many lightcurves
  as the recovery rule asks of an injection;
* ``N_fa``: false alarms of that sign expected from noise over the searched lightcurves, half of
  ``erfc(T / sqrt 2) * (N_good + sum over widths of span / w)`` per lightcurve (the README's "False
  alarms");
* ``eff``: recovered / injected of the kind, over each source's whole span (gaps included, so the
  duty cycle is in it with ``peak_time: span``), for the amplitudes and widths the simulation drew;
* ``T``: the sum over analysed sources of their observed span (first to last epoch), in Julian years.

The interval: the count's signal ``N_obs - N_fa`` by Feldman–Cousins (a Poisson count over a known
background; or Garwood's central interval of ``N_obs`` minus ``N_fa``, clipped at 0), the efficiency by
Wilson's score interval; the two are combined conservatively by Bonferroni's inequality: with a
share ``efficiency_share`` of the non-coverage ``alpha = 1 - confidence`` given to the efficiency, the
count's interval is taken at ``1 - (1 - share) alpha`` and the efficiency's at ``1 - share alpha``, and
``[s_lo / (eff_hi T), s_hi / (eff_lo T)]`` then covers the true rate with probability at least
``confidence`` (whenever both cover, it does). A lower end of 0 is reported as an upper limit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

from virtualobserver.domain.detection import BRIGHTENING, DIMMING
from virtualobserver.domain.errors import ConfigError, DataError
from virtualobserver.domain.intervals import feldman_cousins_interval, garwood_interval, wilson_interval
from virtualobserver.domain.vocabulary import DIMMING_KINDS, EVENT_KINDS, INTERVAL_METHODS, LABEL_RULES

__all__ = [
    "DAYS_PER_YEAR", "LABEL_RULES", "INTERVAL_METHODS", "EFFICIENCY_SHARE", "Exposure", "Candidate",
    "InjectionCounts", "EventRate", "direction_of", "keeps_label", "count_events", "false_alarms", "check_options",
    "measure_rate",
]

#: Julian year in days.
DAYS_PER_YEAR = 365.25
#: Share of the non-coverage given to the efficiency's interval (the rest goes to the count's).
EFFICIENCY_SHARE = 0.1


def direction_of(kind: str) -> str:
    """Return the detection kind (``brightening`` or ``dimming``) events of ``kind`` are found as.

    Parameters
    ----------
    kind : str
        One of the Simulator's event kinds.

    Returns
    -------
    str
        ``dimming`` for dips and occultations, ``brightening`` otherwise.

    Raises
    ------
    ConfigError
        If ``kind`` is not an event kind.
    """
    if kind not in EVENT_KINDS:
        raise ConfigError(f"unknown event kind {kind!r}; use one of {', '.join(EVENT_KINDS)}")
    return DIMMING if kind in DIMMING_KINDS else BRIGHTENING


def keeps_label(rule: str, label: str | None) -> bool:
    """Return whether a detection with triage ``label`` counts under ``rule`` (one of :data:`LABEL_RULES`).

    Parameters
    ----------
    rule : str
        ``not-artifact`` (unjudged, real and unsure count), ``real`` or ``all``.
    label : str or None
        The detection's label (None: not judged yet).

    Returns
    -------
    bool
        Whether it counts.

    Raises
    ------
    ConfigError
        If ``rule`` is unknown.
    """
    if rule == "not-artifact":
        return label != "artifact"
    if rule == "real":
        return label == "real"
    if rule == "all":
        return True
    raise ConfigError(f"unknown label rule {rule!r}; use one of {', '.join(LABEL_RULES)}")


@dataclass(frozen=True)
class Exposure:
    """What was searched: the analysed sources' observed time and the searched lightcurves.

    Attributes
    ----------
    sources : int
        Sources analysed at the analysis version.
    observed_sources : int
        Those with a lightcurve of at least two good epochs (an observed span).
    source_days : float
        Sum over those of their span, first to last epoch of all their lightcurves (days).
    lightcurves : int
        Lightcurves searched (at least ``min_good_epochs`` good epochs).
    good_epochs : int
        Their good (unflagged, finite) epochs, each a single-epoch trial of the finder.
    lightcurve_days : float
        Sum of their spans (days), for the matched filter's trials.
    """

    sources: int = 0
    observed_sources: int = 0
    source_days: float = 0.0
    lightcurves: int = 0
    good_epochs: int = 0
    lightcurve_days: float = 0.0

    @property
    def years(self) -> float:
        """Observed time ``T`` in Julian years."""
        return self.source_days / DAYS_PER_YEAR


@dataclass(frozen=True)
class Candidate:
    """A real detection as counting needs it.

    Attributes
    ----------
    source_id, lightcurve_id : int
        Where it was found.
    start_mjd, end_mjd : float
        Its extent.
    label : str or None
        Its triage label.
    cadence : float
        Typical step between epochs of its lightcurve (days): detections of one source closer than this
        are one event, as an injection's match is widened by one cadence.
    """

    source_id: int
    lightcurve_id: int
    start_mjd: float
    end_mjd: float
    label: str | None = None
    cadence: float = 0.0


@dataclass(frozen=True)
class InjectionCounts:
    """Injections of one kind at a simulation version.

    Attributes
    ----------
    injected, recovered : int
        Counts.
    in_gaps : int
        Injections that covered no lightcurve (their peak fell in a gap between seasons).
    overlapping_real : int
        Injections a detection of the un-injected data overlapped.
    """

    injected: int = 0
    recovered: int = 0
    in_gaps: int = 0
    overlapping_real: int = 0


def count_events(candidates: Sequence[Candidate], *, min_lightcurves: int = 1,
                 spans: Mapping[int, Sequence[tuple[float, float]]] | None = None) -> int:
    """Return the number of events: detections of a source that overlap (within a cadence) are one.

    Parameters
    ----------
    candidates : sequence of Candidate
        Detections of one direction that survived triage.
    min_lightcurves : int
        An event counts when found in at least this many lightcurves (filters); 0: in every searched
        lightcurve of its source whose span overlaps it (the recovery rule of the injections).
    spans : mapping, optional
        Source id -> (first, last) epoch of each searched lightcurve; needed with ``min_lightcurves=0``.

    Returns
    -------
    int
        Events.
    """
    by_source: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        by_source.setdefault(candidate.source_id, []).append(candidate)
    events = 0
    for source_id, found in by_source.items():
        found.sort(key=lambda c: (c.start_mjd - c.cadence, c.end_mjd))
        mine = (spans or {}).get(source_id, ())
        cluster, end = [], -math.inf
        for candidate in found:  # spans widened by a cadence each: overlapping ones make one event
            if cluster and candidate.start_mjd - candidate.cadence > end:
                events += _counts(cluster, min_lightcurves, mine)
                cluster, end = [], -math.inf
            cluster.append(candidate)
            end = max(end, candidate.end_mjd + candidate.cadence)
        events += _counts(cluster, min_lightcurves, mine)
    return events


def _counts(cluster: list[Candidate], min_lightcurves: int, spans: Sequence[tuple[float, float]]) -> bool:
    found_in = len({c.lightcurve_id for c in cluster})
    if min_lightcurves > 0:
        return found_in >= min_lightcurves
    start, end = min(c.start_mjd for c in cluster), max(c.end_mjd for c in cluster)
    covered = sum(1 for first, last in spans if first <= end and last >= start)
    return found_in >= max(1, covered)


def false_alarms(exposure: Exposure, threshold: float, widths_days: Sequence[float]) -> float:
    """Return the false alarms of one sign expected from noise over the searched lightcurves.

    Per lightcurve ``erfc(T / sqrt 2) / 2 * (N_good + sum over widths of span / w)``: the single-epoch
    trials plus about ``span / w`` independent matched-filter windows per width. Where the finder also
    asks ``min_consecutive`` > 1 epochs in a row at ``consecutive_threshold``, noise seldom gives that
    and this count is an upper bound: the background subtracted is then conservative.

    Parameters
    ----------
    exposure : Exposure
        Searched lightcurves (good epochs and spans summed).
    threshold : float
        The finder's threshold ``T``.
    widths_days : sequence of float
        Matched-filter widths.

    Returns
    -------
    float
        Expected count.
    """
    trials = exposure.good_epochs + sum(exposure.lightcurve_days / float(w) for w in widths_days)
    return 0.5 * math.erfc(threshold / math.sqrt(2.0)) * trials


@dataclass(frozen=True)
class EventRate:
    """The rate of events of one kind per source per year, its interval and every number it came from.

    Attributes
    ----------
    kind, direction : str
        Event kind and the detection kind counted.
    rate : float
        Best estimate ``max(N_obs - N_fa, 0) / (eff T)`` (NaN when nothing was recovered).
    lower, upper : float
        Confidence interval (``upper`` is infinite when the efficiency could be 0).
    upper_limit : bool
        Whether the signal is consistent with zero (``lower`` is 0): quote ``upper`` as an upper limit.
    confidence : float
        Joint confidence level of the interval.
    method : str
        Interval of the count (``feldman-cousins`` or ``garwood``).
    observed : int
        ``N_obs``: events counted (detections merged per event).
    detections : int
        Detections of the direction that survived triage (before merging).
    false_alarms : float
        ``N_fa``.
    signal_lower, signal_upper : float
        Interval of the signal count ``N_obs - N_fa`` at ``count_confidence``.
    count_confidence : float
        Level of the count's interval.
    efficiency, efficiency_lower, efficiency_upper : float
        ``eff`` and its Wilson interval at ``efficiency_confidence``.
    efficiency_confidence : float
        Level of the efficiency's interval.
    injections : InjectionCounts
        Injected and recovered events of the kind.
    exposure : Exposure
        Sources, years and searched lightcurves.
    labels : str
        Which triage labels counted.
    sources_simulated : int
        Sources the efficiency was measured on.
    includes : tuple of str
        What the efficiency includes (duty cycle, recovery rule, the drawn amplitudes and widths).
    notes : tuple of str
        Caveats of this result.
    survey, analysis_version, simulation_version : str
        Where the numbers come from.
    """

    kind: str
    direction: str
    rate: float
    lower: float
    upper: float
    upper_limit: bool
    confidence: float
    method: str
    observed: int
    detections: int
    false_alarms: float
    signal_lower: float
    signal_upper: float
    count_confidence: float
    efficiency: float
    efficiency_lower: float
    efficiency_upper: float
    efficiency_confidence: float
    injections: InjectionCounts
    exposure: Exposure
    labels: str = "not-artifact"
    sources_simulated: int = 0
    includes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    survey: str = ""
    analysis_version: str = ""
    simulation_version: str = ""
    unit: str = field(default="per source per year", init=False)

    @property
    def years(self) -> float:
        """Observed time ``T`` (Julian years)."""
        return self.exposure.years

    def summary(self) -> str:
        """Return the result in one line, e.g. ``flare: 0.012 per source per year, 90% CL [0.004, 0.03]``."""
        level = f"{self.confidence:.0%} CL"
        if self.upper_limit:
            return f"{self.kind}: < {_number(self.upper)} {self.unit} ({level} upper limit)"
        return f"{self.kind}: {_number(self.rate)} {self.unit}, {level} [{_number(self.lower)}, {_number(self.upper)}]"

    def as_dict(self) -> dict:
        """Return every field as JSON-safe values (non-finite numbers become None)."""
        values = asdict(self)
        values["years"] = self.years
        values["summary"] = self.summary()
        return _finite(values)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "inf" if value > 0 else "n/a"
    return f"{value:.3g}"


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_options(confidence: float, method: str, efficiency_share: float = EFFICIENCY_SHARE) -> None:
    """Raise ConfigError unless the interval options are valid (before any counting is done).

    Parameters
    ----------
    confidence : float
        Joint confidence level, in (0, 1).
    method : str
        One of :data:`INTERVAL_METHODS`.
    efficiency_share : float
        In (0, 1).

    Raises
    ------
    ConfigError
        If an option is out of range.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if method not in INTERVAL_METHODS:
        raise ConfigError(f"unknown interval method {method!r}; use one of {', '.join(INTERVAL_METHODS)}")
    if not 0.0 < efficiency_share < 1.0:
        raise ConfigError(f"efficiency_share must be between 0 and 1 (exclusive), got {efficiency_share}")


def measure_rate(kind: str, observed: int, expected_false_alarms: float, injections: InjectionCounts,
                 exposure: Exposure, *, confidence: float = 0.9, method: str = "feldman-cousins",
                 efficiency_share: float = EFFICIENCY_SHARE, **context) -> EventRate:
    """Return the rate of ``kind`` per source per year with its conservative confidence interval.

    Parameters
    ----------
    kind : str
        Event kind.
    observed : int
        ``N_obs``, events counted.
    expected_false_alarms : float
        ``N_fa``.
    injections : InjectionCounts
        Injected and recovered events of the kind (at least one injected).
    exposure : Exposure
        With ``source_days > 0``.
    confidence : float
        Joint confidence level, in (0, 1).
    method : str
        ``feldman-cousins`` (default) or ``garwood`` for the count.
    efficiency_share : float
        Share of ``1 - confidence`` given to the efficiency's interval, in (0, 1).
    **context
        Other :class:`EventRate` fields (``detections``, ``labels``, ``includes``, ``notes``, versions).

    Returns
    -------
    EventRate
        The rate, its interval and its inputs.

    Raises
    ------
    ConfigError
        If ``confidence``, ``method`` or ``efficiency_share`` is out of range.
    DataError
        If there are no injections or no observed time.

    Examples
    --------
    >>> r = measure_rate("flare", 0, 0.0, InjectionCounts(1000, 1000), Exposure(100, 100, 100 * DAYS_PER_YEAR))
    >>> r.upper_limit, round(r.upper, 4)  # FC at 91 %: 2.58 events, over 0.993 x 100 source-years
    (True, 0.0259)
    """
    check_options(confidence, method, efficiency_share)
    if injections.injected <= 0:
        raise DataError(f"no injections of kind {kind!r}: the efficiency is unknown")
    years = exposure.years
    if not years > 0:
        raise DataError("no observed time: no analysed source has a lightcurve with two good epochs")
    alpha = 1.0 - confidence
    count_level, efficiency_level = 1.0 - (1.0 - efficiency_share) * alpha, 1.0 - efficiency_share * alpha
    background = max(0.0, float(expected_false_alarms))
    if method == "feldman-cousins":
        signal_lower, signal_upper = feldman_cousins_interval(int(observed), background, count_level)
    else:
        low, high = garwood_interval(int(observed), count_level)
        signal_lower, signal_upper = max(0.0, low - background), max(0.0, high - background)
    efficiency = injections.recovered / injections.injected
    efficiency_lower, efficiency_upper = wilson_interval(injections.recovered, injections.injected,
                                                         efficiency_level)
    signal = max(0.0, observed - background)
    rate = signal / (efficiency * years) if efficiency > 0 else math.nan
    lower = signal_lower / (efficiency_upper * years)
    upper = signal_upper / (efficiency_lower * years) if efficiency_lower > 0 else math.inf
    context.setdefault("detections", int(observed))
    return EventRate(
        kind=kind, direction=direction_of(kind), rate=rate, lower=lower, upper=upper,
        upper_limit=signal_lower == 0.0, confidence=confidence, method=method, observed=int(observed),
        false_alarms=background, signal_lower=signal_lower, signal_upper=signal_upper,
        count_confidence=count_level, efficiency=efficiency, efficiency_lower=efficiency_lower,
        efficiency_upper=efficiency_upper, efficiency_confidence=efficiency_level, injections=injections,
        exposure=exposure, **context)
