"""Simulator: events placed over a source's whole observed span, injected into every lightcurve they cover.

For rates the efficiency must be that of the survey as it observed: an event happens at any time, in
a season or in a gap, and in every filter at once. So, per source (all of its lightcurves in a survey):

* the peak is drawn uniformly over the source's observed span, from its first to its last searched
  epoch, gaps between seasons included (``peak_time: span``; the efficiency then includes the duty
  cycle), or within half a cadence of a random searched epoch (``epochs``: the efficiency given the
  event was observed);
* the amplitude is drawn in units of the finder's single-epoch uncertainty in a **reference
  lightcurve**: among those observing at the peak (first to last epoch), the one with the smallest
  uncertainty relative to its baseline; for a peak in a gap, the one nearest in time;
* the event goes into **every lightcurve with a searched epoch in its span**, its fractional change
  scaled per filter by ``colours`` (achromatic by default for every kind), averaged over each epoch's
  exposure, multiplying the finder's own baseline (the trend) of that epoch;
* it is **recovered** when a detection it caused (:mod:`domain.recovery`) is found in at least
  ``recovery_filters`` of the lightcurves it covers (0: in all of them); an event in a gap covers none
  and is not recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from virtualobserver.domain.errors import ConfigError
from virtualobserver.domain.events import DIMMING_KINDS, EVENT_KINDS, WIDTH_MEANINGS, InjectedEvent
from virtualobserver.domain.injecting import NOISE_MODELS, inject, inject_many
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.recovery import Reference, new_detection, overlapping
from virtualobserver.domain.seeding import generator_from_state, stream_states

__all__ = ["SimulationParameters", "Simulator", "Planned", "inject", "inject_many", "NOISE_MODELS", "PEAK_TIMES",
           "EVENT_KINDS", "InjectedEvent"]

PEAK_TIMES = ("span", "epochs")


class SimulationParameters(Parameters):
    """Parameters of simulation mode: which events to inject, how many and how strong.

    Invariants: every ``*_min`` is at most its ``*_max``, ``kinds`` is a non-empty list without
    repeats and ``colours`` entries read ``KIND:FILTER=FACTOR``; a violation raises ``ConfigError``.

    Parameters
    ----------
    source : str, optional
        File the values came from, for error messages.
    prefix : str
        Dotted position of this block in the configuration, for error messages.
    **values
        Values that override the defaults (see ``SPECS``).
    """

    SPECS = {
        "enabled": Param(False, bool, "Inject simulated events and record their (hidden) detections.",
                         science=False),
        "injections_per_source": Param(10, int, "Events injected per source, one at a time, each into every "
                                       "lightcurve (filter) it covers.", minimum=1, maximum=10**6),
        "kinds": Param(list(EVENT_KINDS), list, "Event models to draw from (uniformly).",
                       item_kind=str, choices=EVENT_KINDS),
        "amplitude_min": Param(3.0, float, "Smallest peak amplitude in units of the finder's single-epoch "
                               "uncertainty in the reference lightcurve (the peak S/N); not used by "
                               "microlensing.", minimum=0.01, maximum=1e6),
        "amplitude_max": Param(20.0, float, "Largest peak amplitude in those units.", minimum=0.01, maximum=1e6),
        "amplitude_scale": Param("log", str, "Draw amplitudes uniformly in log or in linear.",
                                 choices=("log", "linear")),
        "width_min": Param(0.01, float, "Shortest width in days: " + WIDTH_MEANINGS, minimum=1e-6, maximum=1e5),
        "width_max": Param(10.0, float, "Longest width in days (same meaning per kind).", minimum=1e-6,
                           maximum=1e5),
        "width_scale": Param("log", str, "Draw widths uniformly in log or in linear.",
                             choices=("log", "linear")),
        "u0_min": Param(0.01, float, "Smallest microlensing impact parameter (Einstein radii).",
                        minimum=1e-4, maximum=10.0),
        "u0_max": Param(1.0, float, "Largest microlensing impact parameter (drawn uniformly, as for random "
                        "lens-source geometry).", minimum=1e-4, maximum=10.0),
        "noise_model": Param("sky", str, "'sky': errors unchanged by the event (background-limited); 'source': "
                             "photon noise of the added flux is added too.", choices=NOISE_MODELS),
        "peak_time": Param("span", str, "'span': peak uniform over the source's whole observed span (first to "
                           "last epoch of all its lightcurves), gaps between seasons included: the efficiency "
                           "includes the duty cycle, as a rate needs; 'epochs': peak within half a cadence of a "
                           "random searched epoch (the efficiency given the event was observed).",
                           choices=PEAK_TIMES),
        "colours": Param([], list, "Per-filter scale of an event's fractional change, as 'KIND:FILTER=FACTOR' "
                         "(e.g. 'flare:g=1.0', 'flare:r=0.45'); unlisted filters and kinds get 1: every kind "
                         "is achromatic by default (right for microlensing; flares are bluer and dips of "
                         "dust redder, which these entries state).", item_kind=str),
        "recovery_filters": Param(1, int, "An injection is recovered when found in at least this many of the "
                                  "lightcurves (filters) it covers; 0 = in all of them.", minimum=0, maximum=100),
        "recovery_margin": Param(2.0, float, "A detection that a detection of the un-injected data already "
                                 "explains recovers the injection only if stronger by this much |S/N|.",
                                 minimum=0.0, maximum=1000.0),
        "seed": Param(0, int, "Seed of the random draws (combined with a per-source seed).",
                      minimum=0, maximum=2**63 - 1),
    }

    def __init__(self, *, source: str | None = None, prefix: str = "", **values):
        super().__init__(source=source, prefix=prefix, **values)
        where = f"{prefix}." if prefix else ""
        for name in ("amplitude", "width", "u0"):
            low, high = self._values[f"{name}_min"], self._values[f"{name}_max"]
            if low > high:
                raise ConfigError(f"{name}_min {low} is above {name}_max {high}", key=f"{where}{name}_min",
                                  source=source)
        kinds = self._values["kinds"]
        if not kinds or len(set(kinds)) != len(kinds):
            raise ConfigError(f"needs at least one kind and no repeats, got {kinds}", key=f"{where}kinds",
                              source=source)
        self.colour_factors = _colours(self._values["colours"], key=f"{where}colours", source=source)


def _colours(entries: list[str], *, key: str, source: str | None) -> dict[tuple[str, str], float]:
    factors = {}
    for entry in entries:
        kind, _, rest = entry.partition(":")
        band, _, value = rest.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = float("nan")
        if kind not in EVENT_KINDS or not band or not np.isfinite(factor) or factor < 0:
            raise ConfigError(f"{entry!r} is not KIND:FILTER=FACTOR with a known kind and a factor >= 0",
                              key=key, source=source)
        factors[(kind, band)] = factor
    return factors


class _Range(NamedTuple):
    # A range to draw a value from uniformly, in log (the bounds kept as their logs) or in linear.
    low: float
    high: float
    log: bool

    @classmethod
    def of(cls, low: float, high: float, scale: str) -> "_Range":
        if scale == "log":
            return cls(np.log(low), np.log(high), True)
        return cls(low, high, False)

    def draw(self, rng: np.random.Generator) -> float:
        value = rng.uniform(self.low, self.high)
        return float(np.exp(value)) if self.log else float(value)


@dataclass(frozen=True)
class Planned:
    """One event planned for a source: the truth, its reference lightcurve and the lightcurves it goes into.

    Attributes
    ----------
    number : int
        Index of the injection among the source's (its identity with the version).
    event : InjectedEvent
        The truth; ``amplitude`` and ``snr_amplitude`` are those in the reference lightcurve.
    reference : int
        Index of the reference lightcurve.
    targets : tuple of (int, float)
        Every lightcurve with a searched epoch in the event's span, with the scale of the event's
        fractional change in its filter; empty for an event in a gap.
    noise : numpy.random.Generator or None
        Generator of the extra noise (``noise_model: source``), drawn for the targets in order.
    """

    number: int
    event: InjectedEvent
    reference: int
    targets: tuple[tuple[int, float], ...]
    noise: np.random.Generator | None = None


class Simulator:
    """Plans events for sources, makes the injected copies and decides which injections were recovered.

    Parameters
    ----------
    parameters : SimulationParameters
        What to draw, how to add noise and how to count a recovery.
    """

    def __init__(self, parameters: SimulationParameters):
        self.parameters = parameters

    @property
    def parameters(self) -> SimulationParameters:
        """What to draw and how to add noise."""
        return self._parameters

    @parameters.setter
    def parameters(self, parameters: SimulationParameters) -> None:
        self._parameters = parameters
        # Every draw reads these: kept as plain values, the logs of the ranges taken once.
        self._kinds = list(parameters.kinds)
        self._widths = _Range.of(parameters.width_min, parameters.width_max, parameters.width_scale)
        self._amplitudes = _Range.of(parameters.amplitude_min, parameters.amplitude_max,
                                     parameters.amplitude_scale)
        self._u0s = _Range(parameters.u0_min, parameters.u0_max, False)
        self._states: dict = {}

    def prepare_seeds(self, seeds: Iterable[int]) -> None:
        """Seed, in one pass, the generators :meth:`plan` makes for many per-source seeds.

        Optional: the generators are the same, made one at a time when not prepared. Replaces the
        seeds of an earlier call.

        Parameters
        ----------
        seeds : iterable of int
            Per-source seeds (non-negative) about to be planned for.
        """
        seeds = list(dict.fromkeys(seeds))
        streams = (0, 1) if self.parameters.noise_model == "source" else (0,)
        keys = [(number, stream) for number in range(self.parameters.injections_per_source) for stream in streams]
        self._states = stream_states(self.parameters.seed, seeds[:_MAX_PREPARED_STREAMS // len(keys)], keys)

    def _generator(self, seed: int, number: int, stream: int) -> np.random.Generator:
        state = self._states.get((seed, number, stream))
        if state is None:
            return _generator(self.parameters.seed, seed, number, stream)
        return generator_from_state(state)

    def plan(self, lightcurves: Sequence[Lightcurve], references: Sequence[Reference],
             seed: int = 0) -> list[Planned]:
        """Draw ``injections_per_source`` events for one source over its whole observed span.

        Each injection draws from its own generator, spawned from ``(parameters.seed, seed, number)``:
        reproducible, independent of how many follow, and different for different sources.

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            The source's loaded lightcurves in one survey (filters and seasons); never modified.
        references : sequence of Reference
            The finder's result on each, un-injected (:func:`domain.recovery.reference_of`).
        seed : int
            Per-source seed (non-negative).

        Returns
        -------
        list of Planned
            Empty when no lightcurve is usable (fewer than two searched epochs, or no positive
            baseline and noise).
        """
        usable = [i for i, ref in enumerate(references) if ref.usable]
        if not usable:
            return []
        first = min(references[i].first for i in usable)
        last = max(references[i].last for i in usable)
        noise = self.parameters.noise_model == "source"
        plans = []
        for number in range(self.parameters.injections_per_source):
            rng = self._generator(seed, number, 0)
            kind = str(self._kinds[rng.integers(len(self._kinds))])
            peak = self._draw_peak(rng, references, usable, first, last)
            reference = _reference(references, usable, peak)
            event = self._draw_event(rng, kind, peak, references[reference])
            targets = tuple((i, self._colour(kind, lightcurves[i].filter)) for i in usable
                            if _covers(event, references[i]))
            plans.append(Planned(number, event, reference, targets,
                                 self._generator(seed, number, 1) if noise else None))
        return plans

    def _draw_peak(self, rng: np.random.Generator, references: Sequence[Reference], usable: list[int],
                   first: float, last: float) -> float:
        if self.parameters.peak_time == "span":
            return float(rng.uniform(first, last))
        # Given observed: a searched epoch drawn uniformly among all of them, then half a cadence around it.
        counts = np.array([references[i].good_mjds.size for i in usable])
        index = int(rng.integers(counts.sum()))
        which = int(np.searchsorted(np.cumsum(counts), index, side="right"))
        ref = references[usable[which]]
        epoch = ref.good_mjds[index - int(counts[:which].sum())]
        return float(epoch + rng.uniform(-0.5, 0.5) * ref.cadence)

    def _draw_event(self, rng: np.random.Generator, kind: str, peak: float, ref: Reference) -> InjectedEvent:
        width = self._widths.draw(rng)
        if kind == "microlensing":
            event = InjectedEvent.create(kind, peak, width, u0=self._u0s.draw(rng), cadence=ref.cadence)
            return replace(event, snr_amplitude=event.amplitude * ref.baseline / ref.noise)
        amplitude = self._amplitudes.draw(rng) * ref.noise / ref.baseline
        if kind in DIMMING_KINDS:
            amplitude = -min(amplitude, 1.0)  # deeper than the whole flux: a total occultation
        return InjectedEvent.create(kind, peak, width, amplitude, cadence=ref.cadence,
                                    snr_amplitude=amplitude * ref.baseline / ref.noise)

    def _colour(self, kind: str, band: str) -> float:
        return self.parameters.colour_factors.get((kind, str(band)), 1.0)

    def copies(self, lightcurves: Sequence[Lightcurve], references: Sequence[Reference],
               plans: Sequence[Planned]) -> list[tuple[int, int, Lightcurve]]:
        """Return every injected copy of one source: (plan index, target lightcurve index, copy).

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            The source's lightcurves, as given to :meth:`plan`.
        references : sequence of Reference
            Their references, as given to :meth:`plan`.
        plans : sequence of Planned
            From :meth:`plan`.

        Returns
        -------
        list of tuple
            One entry per (plan, target), in order.
        """
        return self.copies_many([(lightcurves, references, plans)])[0]

    def copies_many(self, sources: Sequence[tuple[Sequence[Lightcurve], Sequence[Reference], Sequence[Planned]]]
                    ) -> list[list[tuple[int, int, Lightcurve]]]:
        """Return the injected copies of many sources, made in one pass: as :meth:`copies` on each.

        Parameters
        ----------
        sources : sequence of (lightcurves, references, plans)
            Per source, what :meth:`copies` takes.

        Returns
        -------
        list of list of tuple
            Per source, its copies as :meth:`copies` returns them.
        """
        pairs = [(s, p, index, scale) for s, (_, _, plans) in enumerate(sources)
                 for p, plan in enumerate(plans) for index, scale in plan.targets]
        made: list[list] = [[] for _ in sources]
        if not pairs:
            return made
        # Each plan's one noise generator draws for its targets in order.
        copies = inject_many([sources[s][0][index] for s, _, index, _ in pairs],
                             [sources[s][2][p].event for s, p, _, _ in pairs],
                             [sources[s][2][p].noise for s, p, _, _ in pairs], self.parameters.noise_model,
                             scales=[scale for *_, scale in pairs],
                             baselines=[sources[s][1][index].trend for s, _, index, _ in pairs])
        for (s, p, index, _), copy in zip(pairs, copies):
            made[s].append((p, index, copy))
        return made

    def outcome(self, plan: Planned, found: dict[int, Sequence], references: Sequence[Reference]
                ) -> tuple[Injection, int | None]:
        """Return the injection record of a plan and the lightcurve its recovering detection is in.

        Parameters
        ----------
        plan : Planned
            The planned event.
        found : dict of int to sequence of Detection
            Detections of each target's injected copy, by lightcurve index.
        references : sequence of Reference
            The un-injected references of the source's lightcurves.

        Returns
        -------
        tuple
            The :class:`~domain.injection.Injection` (its ``detection``: the strongest detection the
            event caused, None if none) and the index of that detection's lightcurve (or None).
        """
        p = self.parameters
        caused = {}
        for index, _ in plan.targets:
            ref = references[index]
            detection = new_detection(plan.event, found.get(index, ()), ref.detections, ref.cadence,
                                      p.recovery_margin)
            if detection is not None:
                caused[index] = detection
        covered = len(plan.targets)
        needed = covered if p.recovery_filters == 0 else p.recovery_filters
        recovered = covered > 0 and len(caused) >= needed
        overlaps_real = any(overlapping(plan.event, references[index].detections, references[index].cadence)
                            for index, _ in plan.targets)
        best = max(caused, key=lambda i: abs(caused[i].snr), default=None)
        injection = plan.event.to_injection(plan.number, caused[best] if recovered else None)
        # Made just now, in no session: one dict update rather than an attribute event per field.
        injection.__dict__.update(recovered=recovered, covered=covered, found_in=len(caused),
                                  overlaps_real=overlaps_real,
                                  params={**injection.params, "targets": [[i, scale] for i, scale in plan.targets]})
        return injection, best if recovered else None


def _reference(references: Sequence[Reference], usable: list[int], peak: float) -> int:
    # The lightcurve observing at the peak with the best relative precision; in a gap, the nearest one.
    observing = [i for i in usable if references[i].first <= peak <= references[i].last]
    if observing:
        return min(observing, key=lambda i: (references[i].noise / references[i].baseline, i))
    return min(usable, key=lambda i: (min(abs(references[i].first - peak), abs(references[i].last - peak)), i))


def _covers(event: InjectedEvent, ref: Reference) -> bool:
    # A searched epoch whose exposure overlaps the event's span: the event changed it.
    return ref.covers(event.start_mjd, event.end_mjd)


def _generator(base_seed: int, seed: int, number: int, stream: int) -> np.random.Generator:
    # Equal to SeedSequence([base_seed, seed]).spawn(n)[number].spawn(k)[stream], built from its spawn key
    # without making the siblings (spawning costs several times a generator).
    return np.random.default_rng(np.random.SeedSequence([base_seed, seed], spawn_key=(number, stream)))


#: Most streams :meth:`Simulator.prepare_seeds` computes at once (their states stay in memory).
_MAX_PREPARED_STREAMS = 1 << 17
