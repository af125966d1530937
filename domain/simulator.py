"""Simulator: draw events, inject them into real lightcurves, and match the finder's detections to them."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator, Sequence

import numpy as np

from domain.detection import Detection
from domain.errors import ConfigError, DataError
from domain.events import DIMMING_KINDS, EVENT_KINDS, InjectedEvent, event_factor
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.segments import Segments
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
    kinds = [e.kind for e in events]
    kind_of_epoch = segments.spread(kinds)
    for kind in dict.fromkeys(kinds):
        at = kind_of_epoch == kind
        names = ("peak_mjd", "width", "u0") if kind == "microlensing" else ("peak_mjd", "amplitude", "width")
        per_epoch = {name: segments.spread([getattr(e, name) if e.kind == kind else np.nan for e in events])[at]
                     for name in names}
        factor[at] = event_factor(kind, mjd[at], **per_epoch)
    return _with_factors(lightcurves, factor, rngs, noise_model, segments)


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
    parts = {name: segments.split(values) for name, values in photometry.items()}
    return [lc.with_photometry(**{name: split[i] for name, split in parts.items()})
            for i, lc in enumerate(lightcurves)]


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


def _uniform(rng: np.random.Generator, low: float, high: float, scale: str) -> float:
    if scale == "log":
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(low, high))


class Simulator:
    """Draws events, injects them into lightcurves and decides which detections recover them.

    Parameters
    ----------
    parameters : SimulationParameters
        What to draw and how to add noise.
    """

    def __init__(self, parameters: SimulationParameters):
        self.parameters = parameters

    def prepare(self, lightcurves: Sequence[Lightcurve]) -> None:
        """Compute, for many lightcurves in one pass, what drawing and injecting needs of each.

        The baseline, noise, cadence and time span of every loaded lightcurve with at least two
        good epochs and a positive baseline are computed together (one numpy call per step for
        all) and kept on each lightcurve, exactly as :meth:`draw`, :func:`inject` and
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
        segments = Segments([lc.mjds.size for lc in loaded])
        good = np.concatenate([lc.good for lc in loaded])
        flux = np.concatenate([lc.flux for lc in loaded])
        baselines, spreads = segments.robust_location_scale(flux, good)
        typical_errs = segments.median(np.concatenate([lc.fluxerr for lc in loaded]), good)
        # Gaps between consecutive good epochs of the same lightcurve.
        good_mjd, good_ids = np.concatenate([lc.mjds for lc in loaded])[good], segments.ids[good]
        same = good_ids[1:] == good_ids[:-1]
        cadences = Segments(np.bincount(good_ids[1:][same], minlength=segments.count)).median(
            np.diff(good_mjd)[same])
        counts = segments.counts(good)
        last = np.cumsum(counts) - 1
        for i, lc in enumerate(loaded):
            baseline = float(baselines[i])
            if counts[i] < 2 or not baseline > 0:
                continue  # draw and inject raise their own errors for it
            cadence = float(cadences[i])
            # As _compute_baseline_noise_cadence and _compute_span, on Python floats.
            drawn_from = (baseline, max(float(spreads[i]), float(typical_errs[i])), cadence)
            span = float(good_mjd[last[i]] - good_mjd[last[i] - counts[i] + 1] + cadence)
            lc.derived("injection_baseline_noise_cadence", lambda _, value=drawn_from: value)
            lc.derived("injection_span", lambda _, value=span: value)

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
        p = self.parameters
        baseline, noise, cadence = _baseline_noise_cadence(lightcurve)
        kind = str(p.kinds[rng.integers(len(p.kinds))])
        peak_mjd = self._draw_peak(lightcurve, rng, cadence)
        width = _uniform(rng, p.width_min, p.width_max, p.width_scale)
        if kind == "microlensing":
            u0 = float(rng.uniform(p.u0_min, p.u0_max))
            event = InjectedEvent.create(kind, peak_mjd, width, u0=u0, cadence=cadence)
            return replace(event, snr_amplitude=event.amplitude * baseline / noise)
        snr = _uniform(rng, p.amplitude_min, p.amplitude_max, p.amplitude_scale)
        amplitude = snr * noise / baseline
        if kind in DIMMING_KINDS:
            amplitude = -min(amplitude, 1.0)
        return InjectedEvent.create(kind, peak_mjd, width, amplitude, cadence=cadence,
                                    snr_amplitude=amplitude * baseline / noise)

    def _draw_peak(self, lightcurve: Lightcurve, rng: np.random.Generator, cadence: float) -> float:
        mjd = lightcurve.mjds[lightcurve.good]
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
        usable = [i for i, lc in enumerate(lightcurves) if lc.good.sum() >= 2]
        if not usable:
            return []
        weights = np.array([_span(lightcurves[i]) for i in usable])
        noise = self.parameters.noise_model == "source"
        events = []
        for number in range(self.parameters.injections_per_source):
            # Streams 0, 1, 2 of each injection choose the lightcurve, draw the event and draw its noise;
            # a stream that is not needed (one usable lightcurve, no noise drawn) is not made.
            index = usable[0]
            if len(usable) > 1:
                choice_rng = _generator(self.parameters.seed, seed, number, 0)
                index = usable[int(choice_rng.choice(len(usable), p=weights / weights.sum()))]
            event = self.draw(lightcurves[index], _generator(self.parameters.seed, seed, number, 1))
            events.append((index, event, _generator(self.parameters.seed, seed, number, 2) if noise else None))
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


def _span(lightcurve: Lightcurve) -> float:
    return lightcurve.derived("injection_span", _compute_span)


def _compute_span(lightcurve: Lightcurve) -> float:
    # Time span plus one typical cadence, so a short season still gets its share.
    mjd = lightcurve.mjds[lightcurve.good]
    return float(mjd[-1] - mjd[0] + median(np.diff(mjd)))
