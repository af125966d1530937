"""VirtualDemoObs: a synthetic survey that needs no network yet looks like real photometry."""

from __future__ import annotations

import hashlib
import time
from typing import Sequence

import numpy as np

from virtualobserver.adapters.faults import fault_point
from virtualobserver.adapters.surveys.demo_pixels import demo_cubes, neighbour_of, with_neighbour_flare
from virtualobserver.domain.errors import SurveyError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import ReductionParameters, reduce_photometry
from virtualobserver.domain.seeding import generator_from_state, seed_states
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import SurveyClient

__all__ = ["DemoParameters", "VirtualDemoObs"]

_YEAR = 365.25
#: Colour offsets of the demo filters relative to the catalog magnitude.
_FILTER_OFFSETS = {"g": 0.35, "r": 0.0, "i": -0.2, "z": -0.3, "V": 0.2, "B": 0.6, "TESS": -0.5}
#: Flag bit of an epoch from a bad image (as ZTF catflags bit 15).
BAD_IMAGE_FLAG = 32768
#: Magnitude of unit flux in the demo's ``flux`` column (the reduction's default zero point).
DEMO_ZERO_POINT = 25.0
#: d(flux)/flux per magnitude, and magnitudes per d(flux)/flux: magerr = 1.0857 fluxerr / flux.
_LN10_OVER_2P5 = np.log(10.0) / 2.5
_MAG_PER_RELATIVE_FLUX = 2.5 / np.log(10.0)


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
                              "range (at the epoch's true flux) instead of the sky-limited noise model.", item_kind=float),
        "noise": Param("flux", str, "'flux': Gaussian noise in flux with the flux error the survey reports (as a "
                       "detector measures; magnitudes derived, NaN where the flux is <= 0); 'mag': Gaussian in "
                       "magnitude (the demo before flux noise; its flux S/N is lopsided for faint sources).",
                       choices=("flux", "mag")),
        "images": Param(False, bool, "Give every lightcurve synthetic images (11x11 cutouts of the target and a "
                        "neighbour 3 px away, built on demand), so that detections get a centroid shift and "
                        "stamps."),
        "neighbour_flare_fraction": Param(0.03, float, "With images: fraction of sources whose neighbour has one "
                                          "flare, which leaks into the target's lightcurve through the PSF's wing.",
                                          minimum=0.0, maximum=1.0),
        "seed": Param(0, int, "Survey-wide seed mixed with each source name.", minimum=0, maximum=2**31),
        "latency": Param(0.0, float, "Simulated download latency per source (s).", minimum=0.0, maximum=60.0,
                         science=False),
        "failure_fraction": Param(0.0, float, "Fraction of sources whose download fails (for testing).",
                                  minimum=0.0, maximum=1.0, science=False),
    }

    def section_defaults(self) -> dict[str, dict]:
        """Return the histograms' filter categories: the filters this survey observes.

        Returns
        -------
        dict
            ``{"histograms": {"filters": [...]}}``.
        """
        return {"histograms": {"filters": list(self.filters)}}


class VirtualDemoObs(SurveyClient):
    """Synthetic survey: deterministic per source (seeded by name), with seasons, noise and events.

    Each source gets ``num_points`` epochs spread over the observable part of
    each year, in random filters; errors grow with magnitude (a sky-limited
    noise model) and vary with a per-epoch seeing factor; a fraction of epochs
    come from bad images and are flagged; a fraction of sources have one flare
    (fast rise, exponential decay) or one dip.

    The noise is Gaussian in flux (``noise: flux``), as a detector measures:
    ``flux`` is the epoch's true flux plus a normal draw of the ``fluxerr``
    reported (five times that on bad images, whose errors are understated),
    on the scale ``flux = 10**(-0.4 (mag - 25))``. The flux error is the
    magnitude-error model at the epoch's true magnitude converted to flux:
    ``fluxerr = sqrt((error_floor F)**2 + (0.2 seeing F_lim)**2) / 1.0857``
    with ``F`` the true flux and ``F_lim`` that of ``limiting_mag`` (or
    ``magerr_range``'s draw times ``F / 1.0857``). Magnitudes follow from the
    measured flux, ``mag = 25 - 2.5 log10(flux)`` and ``magerr = 1.0857
    fluxerr / flux``; where the measured flux is <= 0 both are NaN, as for
    TESS and as surveys report no magnitude for a non-positive flux. Such an
    epoch is not flagged: it is a valid measurement (its flux and error are
    searched), and cutting it would remove exactly the downward fluctuations
    and make the false alarms of faint sources lopsided again.
    """

    name = "demo"
    parameters_class = DemoParameters
    #: What every download with the current parameters shares; rebuilt when ``parameters`` is replaced.
    _constants: _Constants | None = None

    @property
    def has_images(self) -> bool:
        """Whether the lightcurves have images (``images: true``)."""
        return bool(self.parameters.images)

    def pixel_cubes(self, raw: RawData) -> dict[tuple[str, int], tuple[PixelCube, int]]:
        """Return a synthetic 11x11 cube per lightcurve of the raw data (none without ``images: true``).

        Parameters
        ----------
        raw : RawData
            Loaded raw data of this survey.

        Returns
        -------
        dict
            ``(filter, season)`` -> its cube (see :mod:`adapters.surveys.demo_pixels`) and the bad-image
            flag bit.
        """
        if not self.has_images or raw.num_epochs == 0:
            return {}
        p = self.parameters
        return demo_cubes(raw, p.seed, p.neighbour_flare_fraction, DEMO_ZERO_POINT, BAD_IMAGE_FLAG)

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
            Columns mjd, mag, magerr, flux, fluxerr (with ``noise: flux``), filter, flag, exptime,
            limiting_mag, chi, sharp, ra, dec.

        Raises
        ------
        SurveyError
            For the sources chosen to fail by ``failure_fraction``.
        """
        # Every draw below happens in the same order as it always has: the table of a source must not
        # change. What is skipped is only work whose result is known without it (see _Constants).
        p = self.parameters
        c = self._current_constants()
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
        flux_ratio = _event_ratio(rng, c, mjd)
        seeing = rng.lognormal(0.0, 0.2, n)
        if c.magerr_range is not None:
            magerr = rng.uniform(c.magerr_range[0], c.magerr_range[1], n)
        elif not c.flux_noise:  # with flux noise the model is evaluated in flux, below
            magerr = np.sqrt(c.error_floor**2 + (0.2 * seeing * 10 ** (0.4 * (base - c.limiting_mag))) ** 2)
        bad = rng.random(n) < c.flag_fraction
        # Without bad epochs the np.where terms below are 0 or 1.0 or 0.0, and x * 1.0, x - 0.0 and (for
        # the values here, never -0.0) x + 0.0 are exactly x: skip them.
        any_bad = c.flag_fraction > 0.0 and bool(bad.any())
        flag = np.where(bad, BAD_IMAGE_FLAG, 0) if any_bad else np.zeros(n, dtype=int)
        noise = rng.normal(0.0, 1.0, n)
        if c.flux_noise:
            true_flux = 10.0 ** (-0.4 * (base - DEMO_ZERO_POINT))
            if flux_ratio is not None:
                true_flux = true_flux * np.clip(flux_ratio, 1e-3, None)
            photometry = _flux_photometry(c, true_flux, seeing, None if c.magerr_range is None else magerr, noise,
                                          bad if any_bad else None)
        else:
            scatter = magerr * np.where(bad, 5.0, 1.0) if any_bad else magerr
            # log10(1.0) is 0.0 exactly, so without an event the true magnitude is the base itself.
            true_mag = base if flux_ratio is None else base - 2.5 * np.log10(np.clip(flux_ratio, 1e-3, None))
            photometry = {"mag": true_mag + noise * scatter, "magerr": magerr}
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
            "mjd": mjd, **photometry, "filter": filters, "flag": flag,
            "exptime": exptime, "limiting_mag": limiting_mag, "chi": chi, "sharp": sharp, "ra": ra, "dec": dec,
        }
        raw = RawData(self.name, name, "", columns, ra=ra0, dec=dec0)
        return _neighbour_flare(c, raw, mag0) if c.images else raw

    def download_many(self, sources: Sequence[Source]) -> list:
        """Return what :meth:`download` returns (or raises) for each source, computed for many at once.

        With evenly spaced epochs every source has the same number of them, so each source's numbers
        are drawn from its own generator, in :meth:`download`'s order, into a row of a block, and the
        arithmetic is done once per block. Every table is bit for bit the one :meth:`download` gives.

        Parameters
        ----------
        sources : sequence of Source
            Targets; see :meth:`download`.

        Returns
        -------
        list
            Per source, in order: its RawData, or the SurveyError of a source chosen to fail.
        """
        c = self._current_constants()
        if c.even_mjd is None or c.latency:  # epochs differ per source, or a download is mostly waiting
            return super().download_many(sources)
        sources = list(sources)
        rows = max(1, _BLOCK_EPOCHS // c.even_mjd.size)
        results = []
        for start in range(0, len(sources), rows):
            results += _download_block(self.name, c, sources[start:start + rows])
        if c.images:
            results = [_neighbour_flare(c, r, 18.0 if s.mag is None else s.mag) if isinstance(r, RawData) else r
                       for s, r in zip(sources, results)]
        return results

    def _current_constants(self) -> _Constants:
        c = self._constants
        if c is None or c.parameters is not self.parameters:
            c = self._constants = _Constants(self.parameters)
        return c

    def reduce(self, raw: RawData, parameters: ReductionParameters) -> list[Lightcurve]:
        """Split the demo epoch table into lightcurves per filter and season.

        The flux (and its error) is rescaled from the demo's zero point to the reduction's
        ``zero_point``; tables without a flux (``noise: mag``) get theirs from the magnitudes.

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
        columns = raw.columns
        if "flux" in columns and parameters.zero_point != DEMO_ZERO_POINT:
            scale = 10.0 ** (0.4 * (parameters.zero_point - DEMO_ZERO_POINT))
            columns = {**columns, "flux": columns["flux"] * scale, "fluxerr": columns["fluxerr"] * scale}
        return reduce_photometry(columns, parameters, survey=self.name, source_name=raw.source_name)


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
        self.flux_noise = p.noise == "flux"
        self.images = p.images
        self.neighbour_flare_fraction = p.neighbour_flare_fraction
        #: The sky-limited flux error at seeing 1: a source at the limiting magnitude has magerr 0.2.
        self.sky_flux_error = 0.2 * 10.0 ** (-0.4 * (p.limiting_mag - DEMO_ZERO_POINT))
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


#: Epochs per block of a batched download: enough sources to share each numpy call's fixed cost,
#: few enough that the block's arrays stay in cache.
_BLOCK_EPOCHS = 1 << 14
_COLUMNS = ("mjd", "filter", "flag", "exptime", "limiting_mag", "chi", "sharp", "ra", "dec")


def _download_block(survey: str, c: _Constants, sources: list[Source]) -> list:
    draws = _BlockDraws(c, len(sources))
    results, drawn = [], []
    for source, state in zip(sources, _seed_states(c.seed, [s.name for s in sources])):
        fault_point("download.source")
        rng = generator_from_state(state)
        if rng.random() < c.failure_fraction:
            results.append(SurveyError(f"demo survey has no data for {source.name!r} (simulated failure)"))
        else:
            draws.draw(rng)
            results.append(None)
            drawn.append(source)
    if not drawn:
        return results
    tables = iter(_block_tables(survey, c, draws, drawn))
    return [next(tables) if result is None else result for result in results]


def _seed_states(seed: int, names: list[str]) -> np.ndarray:
    # The states PCG64(_seed(name, seed)) starts from, for the whole block in one pass.
    return seed_states([_seed(name, seed) for name in names])


class _BlockDraws:
    """The random numbers of a block of sources: one row per source, drawn in :meth:`download`'s order.

    Only draws that give the numbers of the original call are made into a row: ``random`` and
    ``standard_normal`` fill it, and the block arithmetic then does what ``uniform(a, b)`` (a + (b - a) *
    u) and ``normal(0.0, s)`` (0.0 + s * z) do to each draw. The others (lognormal, whose exp is not
    numpy's, and integers) are copied. Consecutive draws of one kind share a call: a generator's
    ``k * n`` numbers are its next ``n``, then the ``n`` after. A unit test pins the equality.
    """

    def __init__(self, c: _Constants, size: int):
        n = c.even_mjd.size
        self.c, self.rows = c, 0
        #: Rows of the sources with a flare or dip, and their flux ratio.
        self.events: dict[int, np.ndarray] = {}
        self.band = np.empty((size, n), dtype=np.int64) if c.filter_column is None else None
        self.which_exptime = np.empty((size, n), dtype=np.int64) if c.exptime_column is None else None
        self.seeing, self.chi_bad = np.empty((2, size, n))
        # Per row, the columns of one call side by side: row r of uniforms is magerr's draws then bad's.
        self.uniforms, self.normals, self.tail = (np.empty((size, k, n)) for k in (2, 2, 4))
        self.magerr, self.bad = self.uniforms.transpose(1, 0, 2)
        self.noise, self.chi = self.normals.transpose(1, 0, 2)
        self.sharp, self.sharp_bad, self.ra, self.dec = self.tail.transpose(1, 0, 2)

    def draw(self, rng: np.random.Generator) -> None:
        """Draw the numbers of one source (after its failure draw) into the next row."""
        c, row = self.c, self.rows
        self.rows += 1
        if self.band is not None:
            self.band[row] = rng.integers(0, len(c.filters), c.even_mjd.size)
        ratio = _event_ratio(rng, c, c.even_mjd)
        if ratio is not None:
            self.events[row] = ratio
        self.seeing[row] = rng.lognormal(0.0, 0.2, c.even_mjd.size)
        rng.random(out=self.uniforms[row] if c.magerr_range is not None else self.bad[row])
        if self.which_exptime is None:
            rng.standard_normal(out=self.normals[row])
        else:
            rng.standard_normal(out=self.noise[row])
            self.which_exptime[row] = rng.integers(0, len(c.exptimes), c.even_mjd.size)
            rng.standard_normal(out=self.chi[row])
        rng.random(out=self.chi_bad[row])
        rng.standard_normal(out=self.tail[row])


def _block_tables(survey: str, c: _Constants, d: _BlockDraws, sources: list[Source]) -> list[RawData]:
    # download's arithmetic on the rows of a block: each row's numbers are those of its source.
    m, n = d.rows, c.even_mjd.size
    bad = d.bad[:m] < c.flag_fraction if c.flag_fraction > 0.0 else None
    flag, photometry = _block_photometry(c, d, sources, bad)
    exptime = (c.exptimes[d.which_exptime[:m]] if d.which_exptime is not None
               else np.broadcast_to(c.exptime_column, (m, n)).copy())
    filters = c.filters[d.band[:m]] if d.band is not None else np.broadcast_to(c.filter_column, (m, n)).copy()
    names = ("mjd", *photometry, *_COLUMNS[1:])
    blocks = (np.broadcast_to(c.even_mjd, (m, n)).copy(), *photometry.values(), filters, flag, exptime,
              *_block_psf(c, d, bad), *_block_positions(d, sources))
    return [RawData(survey, s.name, "", dict(zip(names, columns)), ra=s.ra, dec=s.dec)
            for s, *columns in zip(sources, *blocks)]


def _block_photometry(c: _Constants, d: _BlockDraws, sources: list[Source], bad: np.ndarray | None) -> tuple:
    m, n = d.rows, c.even_mjd.size
    mag0 = np.array([18.0 if s.mag is None else s.mag for s in sources], dtype=float)[:, None]
    base = mag0 + (c.offsets[0] if d.band is None else c.offsets[d.band[:m]])
    if c.magerr_range is None:
        magerr = (None if c.flux_noise else
                  np.sqrt(c.error_floor**2 + (0.2 * d.seeing[:m] * 10 ** (0.4 * (base - c.limiting_mag))) ** 2))
    else:
        magerr = d.magerr[:m]
        magerr *= c.magerr_range[1] - c.magerr_range[0]
        magerr += c.magerr_range[0]
    # A row without bad epochs gets flag 0 and scatter magerr * 1.0, exactly what download gives it.
    flag = np.zeros((m, n), dtype=int) if bad is None else np.where(bad, BAD_IMAGE_FLAG, 0)
    noise = d.noise[:m]
    noise += 0.0  # normal(0.0, 1.0) turns a -0.0 draw into 0.0
    if c.flux_noise:
        true_flux = 10.0 ** (-0.4 * (base - DEMO_ZERO_POINT))
        if d.events:
            true_flux = np.broadcast_to(true_flux, (m, n)).copy()
            for row, ratio in d.events.items():
                true_flux[row] = true_flux[row] * np.clip(ratio, 1e-3, None)
        return flag, _flux_photometry(c, true_flux, d.seeing[:m], magerr, noise, bad)
    scatter = magerr if bad is None else magerr * np.where(bad, 5.0, 1.0)
    true_mag = base
    if d.events:
        true_mag = np.broadcast_to(base, (m, n)).copy()
        for row, ratio in d.events.items():
            true_mag[row] -= 2.5 * np.log10(np.clip(ratio, 1e-3, None))
    return flag, {"mag": true_mag + noise * scatter, "magerr": magerr}


def _flux_photometry(c: _Constants, true_flux: np.ndarray, seeing: np.ndarray, magerr: np.ndarray | None,
                     noise: np.ndarray, bad: np.ndarray | None) -> dict[str, np.ndarray]:
    # Gaussian noise in flux, for the epochs of one source (1-D) or the rows of a block (2-D): the same
    # element-wise operations in the same order, so both give the same numbers. ``magerr`` is the drawn
    # magnitude error of magerr_range (None: the sky-limited model); ``bad`` None means no bad epoch.
    if magerr is None:
        fluxerr = np.sqrt((c.error_floor * true_flux) ** 2 + (c.sky_flux_error * seeing) ** 2)
    else:
        fluxerr = magerr * true_flux
    fluxerr *= _LN10_OVER_2P5
    scatter = fluxerr if bad is None else fluxerr * np.where(bad, 5.0, 1.0)
    flux = true_flux + noise * scatter
    positive = flux > 0.0
    safe = np.where(positive, flux, 1.0)
    return {"mag": np.where(positive, DEMO_ZERO_POINT - 2.5 * np.log10(safe), np.nan),
            "magerr": np.where(positive, _MAG_PER_RELATIVE_FLUX * fluxerr / safe, np.nan),
            "flux": flux, "fluxerr": fluxerr}


def _block_psf(c: _Constants, d: _BlockDraws, bad: np.ndarray | None) -> tuple:
    m = d.rows
    limiting_mag = c.limiting_mag - 2.5 * np.log10(d.seeing[:m])
    chi, sharp = _scaled_normal(d.chi[:m], 0.2), _scaled_normal(d.sharp[:m], 0.05)
    np.abs(chi, out=chi)
    chi += 1.0
    if bad is not None:
        # On a row without bad epochs these subtract or add 0.0, which leaves every value here as it is
        # (chi >= 1 and 0.0 + x is never -0.0): the rows download left alone stay equal.
        chi_bad = d.chi_bad[:m]
        chi_bad *= 4.0
        chi_bad += 1.0
        limiting_mag -= np.where(bad, 1.5, 0.0)
        chi += np.where(bad, chi_bad, 0.0)
        sharp += np.where(bad, _scaled_normal(d.sharp_bad[:m], 0.5), 0.0)
    return limiting_mag, chi, sharp


def _block_positions(d: _BlockDraws, sources: list[Source]) -> tuple:
    m = d.rows
    ra0 = np.array([s.ra for s in sources], dtype=float)[:, None]
    dec0 = np.array([s.dec for s in sources], dtype=float)
    jitter = 0.1 / 3600.0 * d.seeing[:m]
    ra, dec = _scaled_normal(d.ra[:m], 1.0), _scaled_normal(d.dec[:m], 1.0)
    ra *= jitter
    ra /= np.maximum(np.cos(np.radians(dec0)), 1e-3)[:, None]
    ra += ra0
    dec *= jitter
    dec += dec0[:, None]
    return ra, dec


def _scaled_normal(z: np.ndarray, scale: float) -> np.ndarray:
    # normal(0.0, scale) from standard normal draws, in place: 0.0 + scale * z, as numpy computes it.
    z *= scale
    z += 0.0
    return z


def _neighbour_flare(c: _Constants, raw: RawData, mag0: float) -> RawData:
    # After every draw of the table: with images the neighbour's flare adds its wing to the photometry.
    columns = raw.columns
    neighbour = neighbour_of(raw.source_name, c.seed, columns["mjd"], c.neighbour_flare_fraction)
    if not neighbour.flares:
        return raw
    offsets = np.zeros(raw.num_epochs)
    for band, offset in zip(c.filters, c.offsets):
        offsets[columns["filter"] == band] = offset
    quiescent = 10.0 ** (-0.4 * (mag0 + offsets - DEMO_ZERO_POINT))
    return with_neighbour_flare(raw, neighbour, quiescent, DEMO_ZERO_POINT)


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


def _event_ratio(rng: np.random.Generator, c: _Constants, mjd: np.ndarray) -> np.ndarray | None:
    # The flux ratio of a flare and/or a dip, or None without either; both chances are drawn always.
    flux_ratio = None
    if rng.random() < c.flare_fraction:
        flux_ratio = np.ones(mjd.size)
        flux_ratio += _flare(rng, mjd)
    if rng.random() < c.dip_fraction:
        if flux_ratio is None:
            flux_ratio = np.ones(mjd.size)
        flux_ratio -= _dip(rng, mjd)
    return flux_ratio


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
