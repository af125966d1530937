"""Images of the demo survey: a small synthetic cutout per lightcurve, built from the epoch table on demand.

Each demo source has a neighbour about 3 pixels away (its position, brightness and, for a fraction of
sources, one flare drawn from the source's name and the survey's seed, never from Python's ``hash``).
Every epoch of a lightcurve becomes an 11x11 image: the target's measured flux in a Gaussian PSF at the
centre, the neighbour's flux in the same PSF at its position, and pixel noise. A neighbour's flare
leaks into the target's aperture through the PSF's wing, so it shows in the target's lightcurve as it
does in real data: the download adds that wing flux to the target's photometry, and the images put
the flare where it happened, on the neighbour. Nothing here is stored: the cubes are rebuilt from the
raw data whenever they are asked for (5 ms for the six cubes of a 200-epoch source).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters, split_seasons

__all__ = ["Neighbour", "STAMP_SIZE", "PIXEL_SCALE_ARCSEC", "PSF_SIGMA_PX", "neighbour_of", "target_aperture",
           "pixel_psf", "with_neighbour_flare", "demo_cubes"]

#: Side of a demo cutout (pixels); the target is at the centre pixel.
STAMP_SIZE = 11
#: Sky size of a demo pixel (a Kepler-like 4 arcsec).
PIXEL_SCALE_ARCSEC = 4.0
#: Standard deviation of the Gaussian PSF (pixels).
PSF_SIGMA_PX = 1.2
#: The target's photometric aperture: the pixels whose centre is within this distance of it (a 3x3 block).
APERTURE_RADIUS_PX = 1.5
#: Per-pixel noise as a fraction of the epoch's photometric error (9 aperture pixels add about one error).
PIXEL_NOISE_FRACTION = 1.0 / 3.0
_CENTRE = (STAMP_SIZE - 1) / 2.0


@dataclass(frozen=True)
class Neighbour:
    """The star next to a demo target, and its flare if it has one.

    Attributes
    ----------
    d_row, d_col : float
        Position relative to the target (pixels).
    brightness : float
        Quiescent flux relative to the target's.
    flares : bool
        Whether it has one flare in the survey's time span.
    peak_mjd, rise_days, decay_days : float
        The flare's peak epoch and its exponential rise and decay times.
    amplitude : float
        The flare's peak flux **inside the target's aperture**, relative to the target's quiescent flux
        (the neighbour itself brightens by ``amplitude / wing`` target fluxes).
    """

    d_row: float
    d_col: float
    brightness: float
    flares: bool
    peak_mjd: float
    rise_days: float
    decay_days: float
    amplitude: float

    @property
    def pixel(self) -> tuple[float, float]:
        """``(row, col)`` of the neighbour in the cutout."""
        return _CENTRE + self.d_row, _CENTRE + self.d_col

    @property
    def wing(self) -> float:
        """Fraction of the neighbour's flux that falls inside the target's aperture."""
        return float(pixel_psf(*self.pixel)[target_aperture()].sum())

    def flare_profile(self, mjd: np.ndarray) -> np.ndarray:
        """The flare's shape (1 at the peak; fast rise, exponential decay), zero without a flare."""
        mjd = np.asarray(mjd, dtype=float)
        if not self.flares:
            return np.zeros(mjd.shape)
        dt = mjd - self.peak_mjd
        return np.exp(np.clip(np.where(dt < 0, dt / self.rise_days, -dt / self.decay_days), -50.0, 0.0))


def _generator(*parts) -> np.random.Generator:
    # A stream of its own per purpose: the epoch table's draws (demo.py) are not disturbed by these.
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "little")))


def neighbour_of(name: str, seed: int, mjd: np.ndarray, flare_fraction: float) -> Neighbour:
    """Return the neighbour of source ``name`` (the same for the same name, seed and epochs).

    Parameters
    ----------
    name : str
        Source name.
    seed : int
        The survey's seed.
    mjd : numpy.ndarray
        Every epoch of the source (the flare peaks at one of them, so that it is observed).
    flare_fraction : float
        Chance that the neighbour flares.

    Returns
    -------
    Neighbour
        Between 2.7 and 3.3 pixels away at a random angle, 0.2-1 times as bright as the target.
    """
    rng = _generator(seed, name, "neighbour")
    # Every number is drawn whatever the outcome, in one order: a change of fraction changes no position.
    angle, separation, brightness = rng.uniform(0.0, 2 * math.pi), rng.uniform(2.7, 3.3), rng.uniform(0.2, 1.0)
    flares = bool(rng.random() < flare_fraction)
    mjd = np.asarray(mjd, dtype=float)
    peak = float(mjd[rng.integers(0, mjd.size)]) if mjd.size else math.nan
    rise, decay, amplitude = rng.uniform(0.01, 0.1), rng.uniform(2.0, 8.0), rng.uniform(0.5, 2.0)
    return Neighbour(d_row=separation * math.sin(angle), d_col=separation * math.cos(angle), brightness=brightness,
                     flares=flares, peak_mjd=peak, rise_days=rise, decay_days=decay, amplitude=amplitude)


def target_aperture() -> np.ndarray:
    """The target's aperture: boolean ``(STAMP_SIZE, STAMP_SIZE)``, the pixels within 1.5 px of the centre."""
    rows, cols = np.indices((STAMP_SIZE, STAMP_SIZE))
    return np.hypot(rows - _CENTRE, cols - _CENTRE) <= APERTURE_RADIUS_PX


def pixel_psf(row: float, col: float) -> np.ndarray:
    """A unit-flux Gaussian PSF centred at ``(row, col)``, integrated over each pixel of the cutout.

    Parameters
    ----------
    row, col : float
        Centre, 0-based pixel coordinates (pixel centres at integers).

    Returns
    -------
    numpy.ndarray
        ``(STAMP_SIZE, STAMP_SIZE)``; sums to the PSF's flux inside the cutout (below 1 near an edge).
    """
    return np.outer(_integral(row), _integral(col))


def _integral(centre: float) -> np.ndarray:
    edges = (np.arange(STAMP_SIZE + 1) - 0.5 - centre) / (PSF_SIGMA_PX * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + np.array([math.erf(x) for x in edges]))
    return np.diff(cdf)


def with_neighbour_flare(raw: RawData, neighbour: Neighbour, quiescent_flux: np.ndarray,
                         zero_point: float) -> RawData:
    """Add the wing of the neighbour's flare to the target's photometry (in place) and return the raw data.

    Parameters
    ----------
    raw : RawData
        A demo epoch table (with a ``flux`` column, or magnitudes only).
    neighbour : Neighbour
        The source's neighbour; nothing changes when it does not flare.
    quiescent_flux : numpy.ndarray
        The target's true flux per epoch without events (the demo's flux scale).
    zero_point : float
        Magnitude of unit flux.

    Returns
    -------
    RawData
        ``raw``, its flux raised by ``amplitude x quiescent x profile`` and its magnitudes recomputed.
    """
    if not neighbour.flares:
        return raw
    c = raw.columns
    extra = neighbour.amplitude * np.asarray(quiescent_flux, dtype=float) * neighbour.flare_profile(c["mjd"])
    if "flux" in c:
        flux = c["flux"] + extra
        positive = flux > 0.0
        safe = np.where(positive, flux, 1.0)
        c["flux"] = flux
        c["mag"] = np.where(positive, zero_point - 2.5 * np.log10(safe), np.nan)
        c["magerr"] = np.where(positive, 2.5 / math.log(10.0) * c["fluxerr"] / safe, np.nan)
    else:
        measured = 10.0 ** (-0.4 * (c["mag"] - zero_point))
        c["mag"] = c["mag"] - 2.5 * np.log10(1.0 + extra / measured)
        c["magerr"] = c["magerr"] * measured / (measured + extra)
    return raw


def demo_cubes(raw: RawData, seed: int, flare_fraction: float, zero_point: float,
               bad_bits: int) -> dict[tuple[str, int], tuple[PixelCube, int]]:
    """Return a synthetic cube per lightcurve of a demo source, by ``(filter, season)``.

    Seasons are split as the reduction splits them with its default gap (90 days); the demo's seasonal
    gaps are months long, so any gap setting between a season's longest internal gap and that gives
    the same seasons.

    Parameters
    ----------
    raw : RawData
        Loaded demo raw data (downloaded with ``images: true``).
    seed : int
        The survey's seed.
    flare_fraction : float
        The survey's ``neighbour_flare_fraction``.
    zero_point : float
        Magnitude of unit flux of the raw table.
    bad_bits : int
        Flag bits of bad images (the frames not to use).

    Returns
    -------
    dict
        ``(filter, season)`` -> (PixelCube, ``bad_bits``).
    """
    c = raw.columns
    mjd = np.asarray(c["mjd"], dtype=float)
    neighbour = neighbour_of(raw.source_name, seed, mjd, flare_fraction)
    flux = (np.asarray(c["flux"], dtype=float) if "flux" in c
            else 10.0 ** (-0.4 * (np.asarray(c["mag"], dtype=float) - zero_point)))
    flux_err = (np.asarray(c["fluxerr"], dtype=float) if "fluxerr" in c
                else flux * np.asarray(c["magerr"], dtype=float) * math.log(10.0) / 2.5)
    flux, flux_err = np.nan_to_num(flux), np.nan_to_num(flux_err)
    target_psf, neighbour_psf = pixel_psf(_CENTRE, _CENTRE), pixel_psf(*neighbour.pixel)
    wing, profile = neighbour.wing, neighbour.flare_profile(mjd)
    filters = np.asarray(c["filter"]).astype(str)
    gap = ReductionParameters().season_gap_days
    cubes = {}
    for band in np.unique(filters):
        in_band = np.flatnonzero(filters == band)
        in_band = in_band[np.argsort(mjd[in_band], kind="stable")]
        quiescent = float(np.median(flux[in_band]))
        seasons = split_seasons(mjd[in_band], gap)
        for season in np.unique(seasons):
            rows = in_band[seasons == season]
            wing_flux = neighbour.amplitude * quiescent * profile[rows] if neighbour.flares else np.zeros(rows.size)
            target = flux[rows] - wing_flux
            other = neighbour.brightness * quiescent + (wing_flux / wing if wing > 0 else 0.0)
            noise = PIXEL_NOISE_FRACTION * flux_err[rows]
            rng = _generator(seed, raw.source_name, "pixels", band, int(season))
            images = (target[:, None, None] * target_psf + other[:, None, None] * neighbour_psf
                      + noise[:, None, None] * rng.standard_normal((rows.size, STAMP_SIZE, STAMP_SIZE)))
            errors = np.broadcast_to(noise[:, None, None], images.shape)
            quality = np.asarray(c["flag"])[rows].astype(np.int64) if "flag" in c else np.zeros(rows.size, np.int64)
            cube = PixelCube(times=mjd[rows], flux=images, flux_err=errors, quality=quality,
                             aperture=target_aperture(), target_pixel=(_CENTRE, _CENTRE),
                             pixel_scale_arcsec=PIXEL_SCALE_ARCSEC)
            cubes[(str(band), int(season))] = (cube, int(bad_bits))
    return cubes
