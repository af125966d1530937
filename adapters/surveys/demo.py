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
    #: What every download with the current parameters shares; rebuilt when ``parameters`` is replaced.
    _constants: _Constants | None = None

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
        # Every draw below happens in the same order as it always has: the table of a source must not
        # change. What is skipped is only work whose result is known without it (see _Constants).
        p = self.parameters
        c = self._constants
        if c is None or c.parameters is not p:
            c = self._constants = _Constants(p)
        fault_point("download.source")
        if c.latency:
            time.sleep(c.latency)
        name, ra0, dec0, mag0 = source.name, source.ra, source.dec, source.mag  # mapped: reads cost
        rng = np.random.Generator(np.random.PCG64(_seed(name, c.seed)))  # what default_rng builds
        if rng.random() < c.failure_fraction:
            raise SurveyError(f"demo survey has no data for {name!r} (simulated failure)")
        mjd = _epochs(rng, p) if c.even_mjd is None else c.even_mjd.copy()
        n = mjd.size
        if mag0 is None:
            mag0 = 18.0
        if c.filter_column is None:
            band = rng.integers(0, len(c.filters), n)
            filters = c.filters[band]
            base = mag0 + c.offsets[band]
        else:  # one filter: integers(0, 1, n) is all zeros and draws nothing
            filters = c.filter_column.copy()
            base = np.full(n, mag0 + c.offsets[0])
        flux_ratio = None
        if rng.random() < c.flare_fraction:
            flux_ratio = np.ones(n)
            flux_ratio += _flare(rng, mjd)
        if rng.random() < c.dip_fraction:
            if flux_ratio is None:
                flux_ratio = np.ones(n)
            flux_ratio -= _dip(rng, mjd)
        seeing = rng.lognormal(0.0, 0.2, n)
        if c.magerr_range is None:
            magerr = np.sqrt(c.error_floor**2 + (0.2 * seeing * 10 ** (0.4 * (base - c.limiting_mag))) ** 2)
        else:
            magerr = rng.uniform(c.magerr_range[0], c.magerr_range[1], n)
        bad = rng.random(n) < c.flag_fraction
        # Without bad epochs the np.where terms below are 0 or 1.0 or 0.0, and x * 1.0, x - 0.0 and (for
        # the values here, never -0.0) x + 0.0 are exactly x: skip them.
        any_bad = c.flag_fraction > 0.0 and bool(bad.any())
        flag = np.where(bad, BAD_IMAGE_FLAG, 0) if any_bad else np.zeros(n, dtype=int)
        scatter = magerr * np.where(bad, 5.0, 1.0) if any_bad else magerr
        # log10(1.0) is 0.0 exactly, so without an event the true magnitude is the base itself.
        true_mag = base if flux_ratio is None else base - 2.5 * np.log10(np.clip(flux_ratio, 1e-3, None))
        mag = true_mag + rng.normal(0.0, 1.0, n) * scatter
        if c.exptime_column is None:
            exptime = c.exptimes[rng.integers(0, len(c.exptimes), n)]
        else:  # one exposure time: integers(0, 1, n) is all zeros and draws nothing
            exptime = c.exptime_column.copy()
        jitter = 0.1 / 3600.0 * seeing
        # Like ZTF: a per-epoch 5-sigma limit that worsens with seeing and on bad images, and PSF-fit
        # chi/sharp that are near 1 and 0 for a clean point source but not on bad images.
        limiting_mag = c.limiting_mag - 2.5 * np.log10(seeing)
        chi = np.abs(rng.normal(0.0, 0.2, n))
        chi += 1.0
        chi_bad = rng.uniform(1.0, 5.0, n)
        sharp = rng.normal(0.0, 0.05, n)
        sharp_bad = rng.normal(0.0, 0.5, n)
        if any_bad:
            limiting_mag -= np.where(bad, 1.5, 0.0)
            chi += np.where(bad, chi_bad, 0.0)
            sharp += np.where(bad, sharp_bad, 0.0)
        # normal(0, jitter) is 0.0 + jitter * z per epoch; (0.0 + z) * jitter is the same number,
        # and the scalar-scale draw is much cheaper than the broadcasting one.
        ra = rng.normal(0.0, 1.0, n)
        ra *= jitter
        ra /= max(np.cos(np.radians(dec0)), 1e-3)
        ra += ra0
        dec = rng.normal(0.0, 1.0, n)
        dec *= jitter
        dec += dec0
        columns = {
            "mjd": mjd, "mag": mag, "magerr": magerr, "filter": filters, "flag": flag,
            "exptime": exptime, "limiting_mag": limiting_mag, "chi": chi, "sharp": sharp, "ra": ra, "dec": dec,
        }
        return RawData(self.name, name, "", columns, ra=ra0, dec=dec0)

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


class _Constants:
    """Values and arrays of one set of parameters that every download reuses.

    Reading a parameter goes through ``Parameters.__getattr__`` and rebuilding a small array costs
    more than the arithmetic on it, so both are done once. The arrays are read-only: a column built
    from one is a copy, so no two tables share memory.
    """

    def __init__(self, p: DemoParameters):
        self.parameters = p
        self.latency = p.latency
        self.seed = p.seed
        self.failure_fraction = p.failure_fraction
        self.flare_fraction = p.flare_fraction
        self.dip_fraction = p.dip_fraction
        self.flag_fraction = p.flag_fraction
        self.error_floor = p.error_floor
        self.limiting_mag = p.limiting_mag
        self.magerr_range = (min(p.magerr_range), max(p.magerr_range)) if len(p.magerr_range) == 2 else None
        self.even_mjd = _readonly(_even_epochs(p)) if p.cadence == "even" else None
        self.filters = _readonly(np.array(p.filters).astype("U8"))
        self.offsets = _readonly(np.array([_FILTER_OFFSETS[f] for f in p.filters], dtype=float))
        self.exptimes = _readonly(np.array(p.exptimes, dtype=float))
        # A random index into one value is always 0 and consumes no draw, so with one filter or one
        # exposure time the column is a constant, copied per download.
        self.filter_column = _readonly(np.repeat(self.filters, p.num_points)) if len(p.filters) == 1 else None
        self.exptime_column = (_readonly(np.repeat(self.exptimes, p.num_points)) if len(p.exptimes) == 1
                               else None)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _seed(name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def _epochs(rng: np.random.Generator, p: DemoParameters) -> np.ndarray:
    if p.cadence == "even":
        return _even_epochs(p)
    # Draw within observable windows (one per year), so seasonal gaps look like a ground survey's.
    years = int(np.ceil(p.duration_days / _YEAR))
    phase = rng.uniform(0, _YEAR - p.season_days) if p.season_days < _YEAR else 0.0
    windows = [(p.mjd_start + phase + k * _YEAR, p.mjd_start + phase + k * _YEAR + p.season_days)
               for k in range(years)]
    end = p.mjd_start + p.duration_days
    windows = [(a, min(b, end)) for a, b in windows if a < end] or [(p.mjd_start, end)]
    lengths = np.array([b - a for a, b in windows])
    which = _weighted_choice(rng, lengths / lengths.sum(), p.num_points)
    starts = np.array([a for a, _ in windows])[which]
    return np.sort(starts + rng.uniform(0, 1, p.num_points) * lengths[which])


def _weighted_choice(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    # rng.choice(len(probabilities), size, p=probabilities) without its checks, which cost more
    # than the draw itself (the window weights here are valid by construction): the same uniform
    # draws, the same cumulative sums, the same indices. A unit test pins the equality.
    cdf = probabilities.cumsum()
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(size), side="right")


def _even_epochs(p: DemoParameters) -> np.ndarray:
    return np.linspace(p.mjd_start, p.mjd_start + p.duration_days, p.num_points)


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
