"""Simulator: draw events, inject them into real lightcurves, and match the finder's detections to them."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from domain.detection import Detection
from domain.errors import ConfigError, DataError
from domain.events import DIMMING_KINDS, EVENT_KINDS, InjectedEvent, event_factor
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.segments import Segments
from domain.seeding import generator_from_state, stream_states
from domain.statistics import median, robust_location_scale

__all__ = ["SimulationParameters", "Simulator", "inject", "inject_many", "NOISE_MODELS", "PEAK_TIMES",
           "EVENT_KINDS", "InjectedEvent"]

NOISE_MODELS = ("sky", "source")
PEAK_TIMES = ("span", "epochs")
_MAG_PER_LN_FLUX = 2.5 / np.log(10.0)


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


def _baseline_noise_cadence(lightcurve: Lightcurve) -> tuple[float, float, float]:
    """Return the robust baseline flux, the noise per epoch and the median epoch spacing of good epochs."""
    return lightcurve.derived("injection_baseline_noise_cadence", _compute_baseline_noise_cadence)


def _compute_baseline_noise_cadence(lightcurve: Lightcurve) -> tuple[float, float, float]:
    good = lightcurve.good
    if good.sum() < 2:
        raise DataError(f"lightcurve {lightcurve.label}: fewer than 2 good epochs, nothing to inject into")
    baseline, spread = robust_location_scale(lightcurve.flux[good])
    # max(spread, typical error) is the finder's per-epoch sigma with excess scatter:
    # sqrt(err² + max(spread² - err², 0)); so the drawn S/N is the S/N the finder sees.
    noise = max(spread, median(lightcurve.fluxerr[good]))
    if not baseline > 0:
        raise DataError(f"lightcurve {lightcurve.label}: baseline flux {baseline} is not positive, "
                        "so a fractional flux change is undefined")
    cadence = median(np.diff(lightcurve.mjds[good]))
    return baseline, noise, cadence


def inject(lightcurve: Lightcurve, event: InjectedEvent | Sequence[InjectedEvent],
           rng: np.random.Generator | None = None, noise_model: str = "sky") -> Lightcurve:
    """Return a new lightcurve with events added at its own epochs; the input is not modified.

    ``flux += baseline * (factor - 1)`` where ``baseline`` is the median flux of good
    epochs and ``factor`` the product of the events' factors (identical to their sum
    for events that do not overlap). Magnitudes of changed epochs are recomputed on
    each epoch's own zero point (``mag + 2.5 log10(flux)``); ``magerr`` follows from
    ``fluxerr / flux``, as in reduction. Flags, times and exposure times are copied.

    Parameters
    ----------
    lightcurve : Lightcurve
        Loaded lightcurve (real or synthetic).
    event : InjectedEvent or sequence of InjectedEvent
        What to inject.
    rng : numpy.random.Generator, optional
        Source of the extra noise; required for ``noise_model="source"``.
    noise_model : {"sky", "source"}
        ``"sky"`` keeps flux errors (background-limited); ``"source"`` adds Gaussian noise of
        variance ``fluxerr² (factor - 1)`` for brightening and scales errors by ``sqrt(factor)``,
        as photon noise of the added flux would.

    Returns
    -------
    Lightcurve
        Same survey, filter, season and source name; not persisted (no id, file or key).

    Raises
    ------
    ValueError
        If ``noise_model`` is unknown or ``"source"`` is asked for without ``rng``.
    DataError
        If the lightcurve has fewer than 2 good epochs or a non-positive baseline.
    """
    _check_noise_model(noise_model, [rng])
    events = [event] if isinstance(event, InjectedEvent) else list(event)
    mjd = lightcurve.columns["mjd"]
    factor = np.ones(mjd.size)
    for each in events:
        factor *= each.factor(mjd)
    return _with_factors([lightcurve], factor, [rng], noise_model)[0]


def inject_many(lightcurves: Sequence[Lightcurve], events: Sequence[InjectedEvent],
                rngs: Sequence[np.random.Generator | None] | None = None,
                noise_model: str = "sky") -> list[Lightcurve]:
    """Inject one event into each of many lightcurves: as :func:`inject` on each, one numpy pass for all.

    Parameters
    ----------
    lightcurves : sequence of Lightcurve
        Loaded lightcurves (a lightcurve may appear several times, once per event).
    events : sequence of InjectedEvent
        The event for each lightcurve.
    rngs : sequence of numpy.random.Generator, optional
        Source of the extra noise of each, required for ``noise_model="source"``.
    noise_model : {"sky", "source"}
        As for :func:`inject`.

    Returns
    -------
    list of Lightcurve
        The lightcurves with their events, in order.

    Raises
    ------
    ValueError
        If ``noise_model`` is unknown or ``"source"`` is asked for without generators.
    DataError
        If a lightcurve has fewer than 2 good epochs or a non-positive baseline.
    """
    _check_noise_model(noise_model, rngs)
    if not lightcurves:
        return []
    segments = Segments([lc.columns["mjd"].size for lc in lightcurves])
    mjd = np.concatenate([lc.columns["mjd"] for lc in lightcurves])
    factor = np.ones(segments.size)
    codes = {kind: code for code, kind in enumerate(dict.fromkeys(e.kind for e in events))}
    code_of_epoch = segments.spread([codes[e.kind] for e in events])
    # One row of parameters per event (u0 NaN where there is none), read at the epochs of each kind.
    values = np.array([(e.peak_mjd, e.amplitude, e.width, np.nan if e.u0 is None else e.u0) for e in events])
    columns = dict(zip(("peak_mjd", "amplitude", "width", "u0"), values.T))
    for kind, code in codes.items():
        at = code_of_epoch == code
        of_epoch = segments.ids[at]
        names = ("peak_mjd", "width", "u0") if kind == "microlensing" else ("peak_mjd", "amplitude", "width")
        factor[at] = event_factor(kind, mjd[at], **{name: columns[name][of_epoch] for name in names})
    return _with_factors(lightcurves, factor, rngs, noise_model, segments)


def _robust_fluxes(lightcurves: Sequence[Lightcurve], segments: Segments, flux: np.ndarray,
                   good: np.ndarray) -> tuple[list[float], list[float]]:
    # robust_location_scale of each lightcurve's good fluxes. Each lightcurve's summary holds them, bit for
    # bit, unless it was not summarised (or the statistic is NaN): then they are computed for all.
    summaries = [(lc.flux_median, lc.flux_rms) for lc in lightcurves]
    if all(median is not None and rms is not None for median, rms in summaries):
        return [float(median) for median, _ in summaries], [float(rms) for _, rms in summaries]
    baselines, spreads = segments.robust_location_scale(flux, good)
    return baselines.tolist(), spreads.tolist()


def _check_noise_model(noise_model: str, rngs: Sequence[np.random.Generator | None] | None) -> None:
    if noise_model not in NOISE_MODELS:
        raise ValueError(f"unknown noise_model {noise_model!r} (known: {', '.join(NOISE_MODELS)})")
    if noise_model == "source" and (rngs is None or any(rng is None for rng in rngs)):
        raise ValueError("noise_model 'source' needs an rng")


def _with_factors(lightcurves: Sequence[Lightcurve], factor: np.ndarray,
                  rngs: Sequence[np.random.Generator | None] | None, noise_model: str,
                  segments: Segments | None = None) -> list[Lightcurve]:
    # The lightcurves (laid end to end as ``segments``) with their flux multiplied by ``factor``
    # relative to each one's baseline: the common part of inject and inject_many.
    segments = segments or Segments([lc.columns["mjd"].size for lc in lightcurves])
    columns = [lc.columns for lc in lightcurves]
    baselines = [_baseline_noise_cadence(lc)[0] for lc in lightcurves]
    old_flux = np.concatenate([c["flux"] for c in columns])
    flux = old_flux + segments.spread(baselines) * (factor - 1.0)
    fluxerr = np.concatenate([c["fluxerr"] for c in columns])
    if noise_model == "source":
        extra = fluxerr * np.sqrt(np.maximum(factor - 1.0, 0.0))
        # Draw for every epoch (not only brightened ones) so the stream does not depend on the event;
        # each lightcurve from its own generator.
        flux += extra * np.concatenate([rng.standard_normal(n) for rng, n in zip(rngs, segments.lengths.tolist())])
        fluxerr = fluxerr * np.sqrt(np.maximum(factor, 1.0))
    # NaN fluxes stay NaN and keep their magnitudes; so do epochs the event leaves unchanged.
    changed = (flux != old_flux) & np.isfinite(flux)
    photometry = {"flux": flux, "fluxerr": fluxerr, "mag": np.concatenate([c["mag"] for c in columns]),
                  "magerr": np.concatenate([c["magerr"] for c in columns])}
    _update_magnitudes(photometry, old_flux, changed, segments)
    # Times, flags and the rest are shared (read-only); the copies are searched and dropped, so they have
    # no robust summary.
    flux, fluxerr, mag, magerr = (segments.split(photometry[name]) for name in ("flux", "fluxerr", "mag", "magerr"))
    return [lc.with_photometry(flux=f, fluxerr=e, mag=m, magerr=me)
            for lc, f, e, m, me in zip(lightcurves, flux, fluxerr, mag, magerr)]


def _update_magnitudes(columns: dict[str, np.ndarray], old_flux: np.ndarray, changed: np.ndarray,
                       segments: Segments | None = None) -> None:
    # segments: the lightcurves laid end to end in the columns (default: one).
    segments = segments or Segments([old_flux.size])
    with np.errstate(invalid="ignore", divide="ignore"):
        zero_point = columns["mag"] + _MAG_PER_LN_FLUX * np.log(old_flux)
        known = np.isfinite(zero_point)
        # Epochs without a usable old magnitude (non-positive flux) take their lightcurve's typical zero point.
        if not known.all():
            mixed = segments.any(known) & segments.any(~known)
            if mixed.any():
                typical = segments.spread(segments.median(zero_point, known))
                zero_point = np.where(known | ~segments.spread(mixed), zero_point, typical)
        flux = columns["flux"][changed]
        positive = flux > 0
        columns["mag"][changed] = np.where(positive, zero_point[changed] - _MAG_PER_LN_FLUX * np.log(flux), np.nan)
        columns["magerr"][changed] = np.where(positive, _MAG_PER_LN_FLUX * columns["fluxerr"][changed] / flux,
                                              np.nan)


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
