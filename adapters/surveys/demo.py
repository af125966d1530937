"""VirtualDemoObs: a synthetic survey that needs no network yet looks like real photometry."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from adapters.faults import fault_point
from domain.errors import SurveyError
from domain.lightcurve import Lightcurve
from domain.parameters import Param, Parameters
from domain.rawdata import RawData
from domain.reduction import ReductionParameters, reduce_photometry
from domain.source import Source
from services.ports import SurveyClient

__all__ = ["DemoParameters", "VirtualDemoObs"]

_YEAR = 365.25
#: Colour offsets of the demo filters relative to the catalog magnitude.
_FILTER_OFFSETS = {"g": 0.35, "r": 0.0, "i": -0.2, "z": -0.3, "V": 0.2, "B": 0.6, "TESS": -0.5}
#: Flag bit of an epoch from a bad image (as ZTF catflags bit 15).
BAD_IMAGE_FLAG = 32768


class DemoParameters(Parameters):
    """Download parameters of the demo survey."""

    SPECS = {
        "num_points": Param(200, int, "Epochs per source over all filters.", minimum=1, maximum=10**7),
        "filters": Param(["g", "r"], list, "Filters observed.", item_kind=str, choices=tuple(_FILTER_OFFSETS)),
        "mjd_start": Param(58000.0, float, "First possible epoch (MJD).", minimum=0.0, maximum=1e5),
        "duration_days": Param(1000.0, float, "Time span of the survey (days).", minimum=0.1, maximum=1e5),
        "season_days": Param(200.0, float, "Observable part of each year (days); the rest is a seasonal gap.",
                             minimum=0.1, maximum=_YEAR),
        "limiting_mag": Param(20.5, float, "Magnitude at which errors reach ~0.2 mag (5-sigma).",
                              minimum=5.0, maximum=30.0),
        "error_floor": Param(0.01, float, "Systematic error floor (mag).", minimum=0.0, maximum=1.0),
        "flag_fraction": Param(0.02, float, "Fraction of epochs from bad images (flagged, extra scatter).",
                               minimum=0.0, maximum=1.0),
        "flare_fraction": Param(0.03, float, "Fraction of sources with one genuine flare.", minimum=0.0, maximum=1.0),
        "dip_fraction": Param(0.03, float, "Fraction of sources with one genuine dip.", minimum=0.0, maximum=1.0),
        "exptimes": Param([30.0], list, "Exposure times (s), drawn per epoch.", item_kind=float),
        "cadence": Param("seasons", str, "'seasons': random epochs within yearly observing seasons; 'even': "
                         "evenly spaced over the whole span (the scale benchmark's reference workload).",
                         choices=("seasons", "even")),
        "magerr_range": Param([], list, "If two values [min, max]: magnitude errors drawn uniformly in this "
                              "range instead of the sky-limited noise model.", item_kind=float),
        "seed": Param(0, int, "Survey-wide seed mixed with each source name.", minimum=0, maximum=2**31),
        "latency": Param(0.0, float, "Simulated download latency per source (s).", minimum=0.0, maximum=60.0,
                         science=False),
        "failure_fraction": Param(0.0, float, "Fraction of sources whose download fails (for testing).",
                                  minimum=0.0, maximum=1.0, science=False),
    }


class VirtualDemoObs(SurveyClient):
    """Synthetic survey: deterministic per source (seeded by name), with seasons, noise and events.

    Each source gets ``num_points`` epochs spread over the observable part of
    each year, in random filters; magnitude errors grow with magnitude (a
    sky-limited noise model) and vary with a per-epoch seeing factor; a
    fraction of epochs come from bad images and are flagged; a fraction of
    sources have one flare (fast rise, exponential decay) or one dip.
    """

    name = "demo"
    parameters_class = DemoParameters

    @property
    def waits_on_network(self) -> bool:
        """Only with a simulated latency: otherwise download threads just contend for the interpreter."""
        return self.parameters.latency > 0

    def download(self, source: Source) -> RawData:
        """Return the synthetic epoch table of ``source``.

        Parameters
        ----------
        source : Source
            Target; its ``mag`` (default 18) sets the brightness.

        Returns
        -------
        RawData
            Columns mjd, mag, magerr, filter, flag, exptime, limiting_mag, chi, sharp, ra, dec.

        Raises
        ------
        SurveyError
            For the sources chosen to fail by ``failure_fraction``.
        """
        p = self.parameters
        fault_point("download.source")
        if p.latency:
            time.sleep(p.latency)
        rng = np.random.default_rng(_seed(source.name, p.seed))
        if rng.random() < p.failure_fraction:
            raise SurveyError(f"demo survey has no data for {source.name!r} (simulated failure)")
        mjd = _epochs(rng, p)
        n = mjd.size
        band = rng.integers(0, len(p.filters), n)
        filters = np.array(p.filters)[band]
        base = (source.mag if source.mag is not None else 18.0) + np.array(
            [_FILTER_OFFSETS[f] for f in p.filters], dtype=float)[band]
        flux_ratio = np.ones(n)
        if rng.random() < p.flare_fraction:
            flux_ratio += _flare(rng, mjd)
        if rng.random() < p.dip_fraction:
            flux_ratio -= _dip(rng, mjd)
        seeing = rng.lognormal(0.0, 0.2, n)
        magerr = np.sqrt(p.error_floor**2 + (0.2 * seeing * 10 ** (0.4 * (base - p.limiting_mag))) ** 2)
        if len(p.magerr_range) == 2:
            magerr = rng.uniform(min(p.magerr_range), max(p.magerr_range), n)
        flag = np.where(rng.random(n) < p.flag_fraction, BAD_IMAGE_FLAG, 0)
        scatter = magerr * np.where(flag > 0, 5.0, 1.0)
        true_mag = base - 2.5 * np.log10(np.clip(flux_ratio, 1e-3, None))
        mag = true_mag + rng.normal(0.0, 1.0, n) * scatter
        exptime = np.array(p.exptimes, dtype=float)[rng.integers(0, len(p.exptimes), n)]
        jitter = 0.1 / 3600.0 * seeing
        bad = flag > 0
        # Like ZTF: a per-epoch 5-sigma limit that worsens with seeing and on bad images, and PSF-fit
        # chi/sharp that are near 1 and 0 for a clean point source but not on bad images.
        limiting_mag = p.limiting_mag - 2.5 * np.log10(seeing) - np.where(bad, 1.5, 0.0)
        chi = 1.0 + np.abs(rng.normal(0.0, 0.2, n)) + np.where(bad, rng.uniform(1.0, 5.0, n), 0.0)
        sharp = rng.normal(0.0, 0.05, n) + np.where(bad, rng.normal(0.0, 0.5, n), 0.0)
        columns = {
            "mjd": mjd, "mag": mag, "magerr": magerr, "filter": filters.astype("U8"), "flag": flag,
            "exptime": exptime, "limiting_mag": limiting_mag, "chi": chi, "sharp": sharp,
            "ra": source.ra + rng.normal(0, jitter, n) / max(np.cos(np.radians(source.dec)), 1e-3),
            "dec": source.dec + rng.normal(0, jitter, n),
        }
        return RawData(self.name, source.name, "", columns, ra=source.ra, dec=source.dec)

    def reduce(self, raw: RawData, parameters: ReductionParameters) -> list[Lightcurve]:
        """Split the demo epoch table into lightcurves per filter and season.

        Parameters
        ----------
        raw : RawData
            Loaded raw data from :meth:`download`.
        parameters : ReductionParameters
            Reduction parameters.

        Returns
        -------
        list of Lightcurve
            One per filter and season.
        """
        return reduce_photometry(raw.columns, parameters, survey=self.name, source_name=raw.source_name)


def _seed(name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def _epochs(rng: np.random.Generator, p: DemoParameters) -> np.ndarray:
    if p.cadence == "even":
        return np.linspace(p.mjd_start, p.mjd_start + p.duration_days, p.num_points)
    # Draw within observable windows (one per year), so seasonal gaps look like a ground survey's.
    years = int(np.ceil(p.duration_days / _YEAR))
    phase = rng.uniform(0, _YEAR - p.season_days) if p.season_days < _YEAR else 0.0
    windows = [(p.mjd_start + phase + k * _YEAR, p.mjd_start + phase + k * _YEAR + p.season_days)
               for k in range(years)]
    end = p.mjd_start + p.duration_days
    windows = [(a, min(b, end)) for a, b in windows if a < end] or [(p.mjd_start, end)]
    lengths = np.array([b - a for a, b in windows])
    which = rng.choice(len(windows), size=p.num_points, p=lengths / lengths.sum())
    starts = np.array([a for a, _ in windows])[which]
    return np.sort(starts + rng.uniform(0, 1, p.num_points) * lengths[which])


def _flare(rng: np.random.Generator, mjd: np.ndarray) -> np.ndarray:
    peak = rng.choice(mjd)
    amplitude = rng.uniform(0.5, 3.0)
    rise, decay = rng.uniform(0.01, 0.1), rng.uniform(0.5, 5.0)
    dt = mjd - peak
    # Clip the exponent: far from the peak the profile is zero, and exp must not overflow.
    return amplitude * np.exp(np.clip(np.where(dt < 0, dt / rise, -dt / decay), -50.0, 0.0))


def _dip(rng: np.random.Generator, mjd: np.ndarray) -> np.ndarray:
    centre = rng.choice(mjd)
    depth, width = rng.uniform(0.3, 0.8), rng.uniform(0.5, 10.0)
    return depth * np.exp(-0.5 * ((mjd - centre) / width) ** 2)
