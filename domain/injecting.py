"""Injecting events into lightcurves: flux multiplied by each event's factor around the lightcurve's baseline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.events import InjectedEvent, event_factor
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.segments import Segments
from virtualobserver.domain.statistics import median

__all__ = ["inject", "inject_many", "injected_model", "NOISE_MODELS"]

NOISE_MODELS = ("sky", "source")
_MAG_PER_LN_FLUX = 2.5 / np.log(10.0)


def _median_baseline(lightcurve: Lightcurve) -> float:
    """Return the robust median flux of the good epochs (cached with the columns)."""
    return lightcurve.derived("injection_median_baseline", _compute_median_baseline)


def _compute_median_baseline(lightcurve: Lightcurve) -> float:
    good = lightcurve.good
    if good.sum() < 2:
        raise DataError(f"lightcurve {lightcurve.label}: fewer than 2 good epochs, nothing to inject into")
    baseline = lightcurve.flux_median if lightcurve.flux_median is not None else median(lightcurve.flux[good])
    if not baseline > 0:
        raise DataError(f"lightcurve {lightcurve.label}: baseline flux {baseline} is not positive, "
                        "so a fractional flux change is undefined")
    return float(baseline)


def injected_model(lightcurve: Lightcurve, injection, mjd: np.ndarray) -> np.ndarray:
    """Return the noise-free flux an injection gives a lightcurve at ``mjd``: its baseline times the event's factor.

    This is what :func:`inject` adds to the epochs (``baseline * (factor - 1)``) on top of the baseline,
    sampled at any times (a figure draws it on a fine grid), at the instant (no exposure average).

    Parameters
    ----------
    lightcurve : Lightcurve
        The loaded lightcurve the event was injected into.
    injection : Injection or InjectedEvent
        Its ``kind``, ``peak_mjd``, ``width``, ``amplitude`` and (microlensing) ``u0``.
    mjd : numpy.ndarray
        Times (MJD).

    Returns
    -------
    numpy.ndarray
        Flux in the lightcurve's units.

    Raises
    ------
    DataError
        If the lightcurve has fewer than 2 good epochs or a non-positive baseline.
    """
    factor = event_factor(injection.kind, np.asarray(mjd, dtype=float), peak_mjd=injection.peak_mjd,
                          width=injection.width, amplitude=injection.amplitude, u0=getattr(injection, "u0", None))
    return _median_baseline(lightcurve) * factor


def inject(lightcurve: Lightcurve, event: InjectedEvent | Sequence[InjectedEvent],
           rng: np.random.Generator | None = None, noise_model: str = "sky") -> Lightcurve:
    """Return a new lightcurve with events added at its own epochs; the input is not modified.

    ``flux += baseline * (factor - 1)`` where ``baseline`` is the median flux of good
    epochs and ``factor`` the product of the events' factors, each averaged over the epoch's
    exposure (identical to their sum for events that do not overlap). Magnitudes of changed epochs are recomputed on
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
    mjd, exptime = lightcurve.columns["mjd"], lightcurve.columns["exptime"]
    factor = np.ones(mjd.size)
    for each in events:
        factor *= each.factor(mjd, exptime=exptime)
    return _with_factors([lightcurve], factor, [rng], noise_model)[0]


def inject_many(lightcurves: Sequence[Lightcurve], events: Sequence[InjectedEvent],
                rngs: Sequence[np.random.Generator | None] | None = None,
                noise_model: str = "sky", *, scales: Sequence[float] | None = None,
                baselines: Sequence[np.ndarray] | None = None) -> list[Lightcurve]:
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
    scales : sequence of float, optional
        Per copy, the scale of the event's fractional change (its colour in that filter); default 1.
    baselines : sequence of numpy.ndarray, optional
        Per copy, the baseline flux of each epoch the change multiplies (the finder's trend, NaN where
        the epoch was not searched, which then takes the lightcurve's median); default the median.

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
    exptime = np.concatenate([lc.columns["exptime"] for lc in lightcurves])
    for kind, code in codes.items():
        at = code_of_epoch == code
        of_epoch = segments.ids[at]
        names = ("peak_mjd", "width", "u0") if kind == "microlensing" else ("peak_mjd", "amplitude", "width")
        # Each epoch is the mean over its exposure, as the detector integrates it.
        factor[at] = event_factor(kind, mjd[at], exptime=exptime[at],
                                  **{name: columns[name][of_epoch] for name in names})
    if scales is not None:
        factor = 1.0 + (factor - 1.0) * segments.spread(np.asarray(scales, dtype=float))
    return _with_factors(lightcurves, factor, rngs, noise_model, segments, baselines)


def _check_noise_model(noise_model: str, rngs: Sequence[np.random.Generator | None] | None) -> None:
    if noise_model not in NOISE_MODELS:
        raise ValueError(f"unknown noise_model {noise_model!r} (known: {', '.join(NOISE_MODELS)})")
    if noise_model == "source" and (rngs is None or any(rng is None for rng in rngs)):
        raise ValueError("noise_model 'source' needs an rng")


def _with_factors(lightcurves: Sequence[Lightcurve], factor: np.ndarray,
                  rngs: Sequence[np.random.Generator | None] | None, noise_model: str,
                  segments: Segments | None = None,
                  baselines: Sequence[np.ndarray] | None = None) -> list[Lightcurve]:
    # The lightcurves (laid end to end as ``segments``) with their flux multiplied by ``factor``
    # relative to their baseline (per epoch where given, else each one's median): the common part
    # of inject and inject_many.
    segments = segments or Segments([lc.columns["mjd"].size for lc in lightcurves])
    columns = [lc.columns for lc in lightcurves]
    medians = segments.spread([_median_baseline(lc) for lc in lightcurves])
    if baselines is None:
        baseline = medians
    else:
        baseline = np.concatenate([np.asarray(b, dtype=float) for b in baselines])
        baseline = np.where(np.isfinite(baseline), baseline, medians)
    old_flux = np.concatenate([c["flux"] for c in columns])
    flux = old_flux + baseline * (factor - 1.0)
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
