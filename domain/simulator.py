"""Simulator: draw events, inject them into real lightcurves, and match the finder's detections to them."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from domain.detection import Detection
from domain.errors import ConfigError
from domain.events import DIMMING_KINDS, EVENT_KINDS, InjectedEvent
from domain.injecting import NOISE_MODELS, _baseline_noise_cadence, _robust_fluxes, inject, inject_many
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.segments import Segments
from domain.seeding import generator_from_state, stream_states
from domain.statistics import median

__all__ = ["SimulationParameters", "Simulator", "inject", "inject_many", "NOISE_MODELS", "PEAK_TIMES",
           "EVENT_KINDS", "InjectedEvent"]

PEAK_TIMES = ("span", "epochs")


class SimulationParameters(Parameters):
    """Parameters of simulation mode: which events to inject, how many and how strong.

    Invariants: every ``*_min`` is at most its ``*_max`` and ``kinds`` is a
    non-empty list without repeats; a violation raises ``ConfigError``.

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
        "injections_per_source": Param(10, int, "Events injected per source, one at a time, each into one of "
                                       "its lightcurves (chosen in proportion to time span).",
                                       minimum=1, maximum=10**6),
        "kinds": Param(list(EVENT_KINDS), list, "Event models to draw from (uniformly).",
                       item_kind=str, choices=EVENT_KINDS),
        "amplitude_min": Param(3.0, float, "Smallest peak amplitude in units of the lightcurve's robust "
                               "noise (the peak S/N); not used by microlensing.", minimum=0.01, maximum=1e6),
        "amplitude_max": Param(20.0, float, "Largest peak amplitude in noise units.", minimum=0.01, maximum=1e6),
        "amplitude_scale": Param("log", str, "Draw amplitudes uniformly in log or in linear.",
                                 choices=("log", "linear")),
        "width_min": Param(0.01, float, "Shortest width or timescale in days (decay time, sigma, duration, tE).",
                           minimum=1e-6, maximum=1e5),
        "width_max": Param(10.0, float, "Longest width or timescale in days.", minimum=1e-6, maximum=1e5),
        "width_scale": Param("log", str, "Draw widths uniformly in log or in linear.",
                             choices=("log", "linear")),
        "u0_min": Param(0.01, float, "Smallest microlensing impact parameter (Einstein radii).",
                        minimum=1e-4, maximum=10.0),
        "u0_max": Param(1.0, float, "Largest microlensing impact parameter (drawn uniformly, as for random "
                        "lens-source geometry).", minimum=1e-4, maximum=10.0),
        "noise_model": Param("sky", str, "'sky': errors unchanged by the event (background-limited); 'source': "
                             "photon noise of the added flux is added too.", choices=NOISE_MODELS),
        "peak_time": Param("span", str, "'span': peak uniform over the observed span, gaps included (the "
                           "efficiency then includes the duty cycle, as a rate needs); 'epochs': peak within "
                           "half a cadence of a random good epoch (efficiency given the event was observed).",
                           choices=PEAK_TIMES),
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


class Simulator:
    """Draws events, injects them into lightcurves and decides which detections recover them.

    Parameters
    ----------
    parameters : SimulationParameters
        What to draw and how to add noise.
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

    def prepare(self, lightcurves: Sequence[Lightcurve]) -> None:
        """Compute, for many lightcurves in one pass, what drawing and injecting needs of each.

        The baseline, noise, cadence, time span and good epoch times of every loaded lightcurve
        with at least two good epochs and a positive baseline are computed together (one numpy
        call per step for all; the baselines are read from the lightcurves' robust summaries when
        they all have one) and kept on each lightcurve, exactly as :meth:`draw`, :func:`inject` and
        :meth:`source_injections` would compute them one lightcurve at a time. Optional: they
        compute what is missing themselves (and raise for lightcurves they cannot use).

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Lightcurves about to get injections; unloaded ones are left alone.
        """
        loaded = [lc for lc in lightcurves if lc.is_loaded]
        if not loaded:
            return
        columns = [lc.columns for lc in loaded]
        segments = Segments([c["mjd"].size for c in columns])
        good = np.concatenate([lc.good for lc in loaded])
        baselines, spreads = _robust_fluxes(loaded, segments, np.concatenate([c["flux"] for c in columns]), good)
        typical_errs = segments.median(np.concatenate([c["fluxerr"] for c in columns]), good)
        # Gaps between consecutive good epochs of the same lightcurve.
        good_mjd, good_ids = np.concatenate([c["mjd"] for c in columns])[good], segments.ids[good]
        same = good_ids[1:] == good_ids[:-1]
        cadences = Segments(np.bincount(good_ids[1:][same], minlength=segments.count)).median(
            np.diff(good_mjd)[same])
        good_mjds = Segments(segments.counts(good)).split(good_mjd)
        # As _compute_baseline_noise_cadence and _compute_span, on Python floats.
        for lc, mjd, baseline, spread, typical_err, cadence in zip(
                loaded, good_mjds, baselines, spreads, typical_errs.tolist(), cadences.tolist()):
            if mjd.size < 2 or not baseline > 0:
                continue  # draw and inject raise their own errors for it
            drawn_from = (baseline, max(spread, typical_err), cadence)
            span = float(mjd[-1] - mjd[0] + cadence)
            lc.derived("injection_baseline_noise_cadence", lambda _, value=drawn_from: value)
            lc.derived("injection_span", lambda _, value=span: value)
            lc.derived("injection_good_mjds", lambda _, value=mjd: value)

    def prepare_seeds(self, seeds: Iterable[int]) -> None:
        """Seed, in one pass, the generators :meth:`source_events` makes for many per-source seeds.

        Optional, like :meth:`prepare`: the generators are the same, made one at a time when not
        prepared. Replaces the seeds of an earlier call.

        Parameters
        ----------
        seeds : iterable of int
            Per-source seeds (non-negative) about to be drawn for.
        """
        seeds = list(dict.fromkeys(seeds))
        streams = (0, 1, 2) if self.parameters.noise_model == "source" else (0, 1)
        keys = [(number, stream) for number in range(self.parameters.injections_per_source) for stream in streams]
        self._states = stream_states(self.parameters.seed, seeds[:_MAX_PREPARED_STREAMS // len(keys)], keys)

    def _generator(self, seed: int, number: int, stream: int) -> np.random.Generator:
        state = self._states.get((seed, number, stream))
        if state is None:
            return _generator(self.parameters.seed, seed, number, stream)
        return generator_from_state(state)

    def draw(self, lightcurve: Lightcurve, rng: np.random.Generator) -> InjectedEvent:
        """Draw one event for ``lightcurve``.

        The amplitude is drawn in noise units (peak S/N) and converted to a fractional
        flux change with the lightcurve's robust baseline and noise; a dip deeper than
        the whole flux is capped at -1 (total occultation) and its S/N recorded as capped.
        Microlensing draws ``u0`` (uniform) and ``tE``; its amplitude is ``A(u0) - 1``.

        Parameters
        ----------
        lightcurve : Lightcurve
            Loaded lightcurve the event is meant for.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        InjectedEvent
            The drawn event, with its span and the lightcurve's cadence.

        Raises
        ------
        DataError
            If the lightcurve has fewer than 2 good epochs or a non-positive baseline.
        """
        baseline, noise, cadence = _baseline_noise_cadence(lightcurve)
        kind = str(self._kinds[rng.integers(len(self._kinds))])
        peak_mjd = self._draw_peak(lightcurve, rng, cadence)
        width = self._widths.draw(rng)
        if kind == "microlensing":
            u0 = self._u0s.draw(rng)
            event = InjectedEvent.create(kind, peak_mjd, width, u0=u0, cadence=cadence)
            return replace(event, snr_amplitude=event.amplitude * baseline / noise)
        snr = self._amplitudes.draw(rng)
        amplitude = snr * noise / baseline
        if kind in DIMMING_KINDS:
            amplitude = -min(amplitude, 1.0)
        return InjectedEvent.create(kind, peak_mjd, width, amplitude, cadence=cadence,
                                    snr_amplitude=amplitude * baseline / noise)

    def _draw_peak(self, lightcurve: Lightcurve, rng: np.random.Generator, cadence: float) -> float:
        mjd = _good_mjds(lightcurve)
        if self.parameters.peak_time == "span":
            return float(rng.uniform(mjd[0], mjd[-1]))
        return float(mjd[rng.integers(mjd.size)] + rng.uniform(-0.5, 0.5) * cadence)

    def injections(self, lightcurve: Lightcurve, seed: int = 0) -> Iterator[tuple[InjectedEvent, Lightcurve]]:
        """Yield ``injections_per_source`` (event, lightcurve with that event injected) pairs.

        Each injection gets its own generator spawned from ``(parameters.seed, seed)``, so
        the sequence is reproducible, the i-th event does not depend on how many follow,
        and different ``seed`` values (e.g. source ids) give independent streams.

        Parameters
        ----------
        lightcurve : Lightcurve
            Loaded lightcurve; never modified.
        seed : int
            Per-lightcurve seed (non-negative).

        Yields
        ------
        tuple of (InjectedEvent, Lightcurve)
            The event and a new lightcurve containing it.
        """
        noise = self.parameters.noise_model == "source"
        for number in range(self.parameters.injections_per_source):
            # Streams 0 and 1 of each injection draw the event and its noise (not made when no noise is drawn).
            event = self.draw(lightcurve, _generator(self.parameters.seed, seed, number, 0))
            noise_rng = _generator(self.parameters.seed, seed, number, 1) if noise else None
            yield event, inject(lightcurve, event, noise_rng, self.parameters.noise_model)

    def source_injections(self, lightcurves: Sequence[Lightcurve],
                          seed: int = 0) -> Iterator[tuple[int, InjectedEvent, Lightcurve]]:
        """Yield ``injections_per_source`` injections for one source, spread over its lightcurves.

        Each injection goes into one lightcurve (of the source's filters and
        seasons) chosen with probability proportional to its time span, so that
        injected events fall uniformly in the time the source was observed.
        Reproducible like :meth:`injections`.

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Loaded lightcurves of the source; never modified. Lightcurves with fewer than
            two good epochs get no injection.
        seed : int
            Per-source seed (non-negative).

        Yields
        ------
        tuple of (int, InjectedEvent, Lightcurve)
            Index of the lightcurve, the event, and a new lightcurve containing it.
        """
        for index, event, noise_rng in self.source_events(lightcurves, seed):
            yield index, event, inject(lightcurves[index], event, noise_rng, self.parameters.noise_model)

    def source_events(self, lightcurves: Sequence[Lightcurve],
                      seed: int = 0) -> list[tuple[int, InjectedEvent, np.random.Generator | None]]:
        """Draw the events of :meth:`source_injections` without injecting them (for :func:`inject_many`).

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Loaded lightcurves of the source.
        seed : int
            Per-source seed (non-negative).

        Returns
        -------
        list of tuple
            Per injection: index of the lightcurve, the event, and the generator of its noise
            (None unless ``noise_model`` is ``"source"``).
        """
        usable = [i for i, lc in enumerate(lightcurves) if np.count_nonzero(lc.good) >= 2]
        if not usable:
            return []
        if len(usable) > 1:
            weights = np.array([_span(lightcurves[i]) for i in usable])
            chances = weights / weights.sum()
        noise = self.parameters.noise_model == "source"
        events = []
        for number in range(self.parameters.injections_per_source):
            # Streams 0, 1, 2 of each injection choose the lightcurve, draw the event and draw its noise;
            # a stream that is not needed (one usable lightcurve, no noise drawn) is not made.
            index = usable[0]
            if len(usable) > 1:
                index = usable[int(self._generator(seed, number, 0).choice(len(usable), p=chances))]
            event = self.draw(lightcurves[index], self._generator(seed, number, 1))
            events.append((index, event, self._generator(seed, number, 2) if noise else None))
        return events

    def match(self, event: InjectedEvent, detections: Sequence[Detection]) -> Detection | None:
        """Return the detection that recovers ``event``, or None.

        Rule: the detection has the event's direction (brightening for bumps, flares and
        microlensing; dimming for dips and occultations) and its peak lies in
        ``[start_mjd - cadence, end_mjd + cadence]``. The event's span already holds every
        epoch where it exceeds 1 % of its peak; one cadence more admits the neighbouring
        epoch, which noise can make the peak of a run the event seeded, or which is the
        nearest epoch to an event shorter than the cadence. Among several, the strongest wins.

        Parameters
        ----------
        event : InjectedEvent
            The injected truth.
        detections : sequence of Detection
            Detections found in the lightcurve with the event injected.

        Returns
        -------
        Detection or None
            The matching detection of largest ``|snr|``.
        """
        low, high = event.start_mjd - event.cadence, event.end_mjd + event.cadence
        direction = event.direction
        found = [d for d in detections if d.kind == direction and low <= d.peak_mjd <= high]
        return max(found, key=lambda d: abs(d.snr), default=None)


def _generator(base_seed: int, seed: int, number: int, stream: int) -> np.random.Generator:
    # Equal to SeedSequence([base_seed, seed]).spawn(n)[number].spawn(k)[stream], built from its spawn key
    # without making the siblings (spawning costs several times a generator).
    return np.random.default_rng(np.random.SeedSequence([base_seed, seed], spawn_key=(number, stream)))


#: Most streams :meth:`Simulator.prepare_seeds` computes at once (their states stay in memory).
_MAX_PREPARED_STREAMS = 1 << 17


def _good_mjds(lightcurve: Lightcurve) -> np.ndarray:
    return lightcurve.derived("injection_good_mjds", lambda lc: lc.mjds[lc.good])


def _span(lightcurve: Lightcurve) -> float:
    return lightcurve.derived("injection_span", _compute_span)


def _compute_span(lightcurve: Lightcurve) -> float:
    # Time span plus one typical cadence, so a short season still gets its share.
    mjd = lightcurve.mjds[lightcurve.good]
    return float(mjd[-1] - mjd[0] + median(np.diff(mjd)))
