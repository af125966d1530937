"""A uniform lightcurve: one survey, one filter, one season of one source."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.statistics import robust_location_scale

if TYPE_CHECKING:
    from astropy.time import Time

__all__ = ["Lightcurve", "LIGHTCURVE_COLUMNS", "OPTIONAL_COLUMNS", "TIME_SCALES"]

#: Columns every lightcurve carries, in this order.
LIGHTCURVE_COLUMNS = ("mjd", "flux", "fluxerr", "mag", "magerr", "flag", "exptime")
#: Time scales a lightcurve's ``mjd`` may be on.
TIME_SCALES = ("utc", "tdb")
#: Per-epoch columns kept when the survey provides them (used by the quality cuts):
#: position (deg), the epoch's limiting magnitude, and PSF-fit chi and sharpness.
OPTIONAL_COLUMNS = ("ra", "dec", "limiting_mag", "chi", "sharp")


class Lightcurve:
    """Photometry of one source in one filter and one season, in uniform columns.

    Invariants: all columns have the same length and are sorted by ``mjd``
    (MJD on the lightcurve's ``time_scale``); ``flag`` is non-zero for epochs the survey marked bad, which
    are kept (never dropped) so that cuts can be judged later. Arrays live on
    disk for persisted lightcurves and are loaded lazily.

    Parameters
    ----------
    survey : str
        Survey the data came from.
    filter : str
        Filter name (``"g"``, ``"zr"``, ``"TESS"``, ...).
    season : int
        Index of the season (or sector) within this filter, from 0.
    columns : mapping of str to array_like, optional
        The columns of :data:`LIGHTCURVE_COLUMNS`.
    source_name : str, optional
        Name of the source, for messages.
    version : str, optional
        Hash of the parameters that produced it.
    time_scale : str
        Time scale of ``mjd``: ``"utc"`` (ground surveys) or ``"tdb"``
        (barycentric times of space missions such as TESS).
    """

    def __init__(
        self,
        survey: str,
        filter: str,
        season: int = 0,
        columns: Mapping[str, np.ndarray] | None = None,
        source_name: str | None = None,
        version: str | None = None,
        time_scale: str = "utc",
    ):
        if time_scale not in TIME_SCALES:
            raise DataError(f"lightcurve of {source_name!r}: unknown time scale {time_scale!r} (use {TIME_SCALES})")
        # One update of __dict__ rather than an assignment per attribute: once the ORM maps the class,
        # every assignment is an attribute event, and a new lightcurve has no session to track them (the
        # repository inserts rows itself). Later assignments, as by set_columns, stay events.
        self.__dict__.update(
            time_scale=time_scale, id=None, source_id=None, raw_data_id=None, survey=survey, filter=filter,
            season=int(season), source_name=source_name, version=version, file=None, key=None, _columns=None)
        if columns is not None:
            self.columns = columns

    # -- arrays -------------------------------------------------------------
    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The uniform columns; raises if a persisted lightcurve is not loaded."""
        self._require_loaded()
        return self._columns

    def _require_loaded(self) -> None:
        if getattr(self, "_columns", None) is None:
            raise DataError(f"lightcurve {self.label} is not loaded")

    @columns.setter
    def columns(self, columns: Mapping[str, np.ndarray]) -> None:
        self.set_columns(columns)

    def set_columns(self, columns: Mapping[str, np.ndarray], *, summarise: bool = True) -> None:
        """Set the uniform columns (sorted by ``mjd`` if they are not) and update the summary.

        Parameters
        ----------
        columns : mapping of str to array_like
            The columns of :data:`LIGHTCURVE_COLUMNS`, and any of :data:`OPTIONAL_COLUMNS`.
        summarise : bool
            Compute the robust statistics (``flux_median``, ``flux_rms``, ``mag_median``, ``mag_rms``).
            Copies that are searched and dropped (injections) skip them and leave them None; the epoch
            counts and span are always set.

        Raises
        ------
        DataError
            If a column is missing or the shapes differ.
        """
        missing = [c for c in LIGHTCURVE_COLUMNS if c not in columns]
        if missing:
            raise DataError(f"lightcurve {self.label}: missing columns {missing}")
        arrays = {c: np.asarray(columns[c]) for c in LIGHTCURVE_COLUMNS}
        arrays.update({c: np.array(columns[c], dtype=np.float64) for c in OPTIONAL_COLUMNS if c in columns})
        lengths = {c: a.shape for c, a in arrays.items()}
        if len(set(lengths.values())) != 1 or arrays["mjd"].ndim != 1:
            raise DataError(f"lightcurve {self.label}: column shapes differ {lengths}")
        mjd = arrays["mjd"]
        # Sorted input (the usual case) is recognised in one pass; NaN times fail the test and are sorted last.
        if not np.all(mjd[1:] >= mjd[:-1]):
            order = np.argsort(mjd, kind="stable")
            arrays = {c: a[order] for c, a in arrays.items()}
        arrays["flag"] = arrays["flag"].astype(np.int64)
        for name in ("mjd", "flux", "fluxerr", "mag", "magerr", "exptime"):
            arrays[name] = arrays[name].astype(np.float64)
        # The arrays are this lightcurve's own copies, made read-only: columns are replaced whole (which
        # updates the summary and the good-epoch mask), never edited in place behind their back.
        for values in arrays.values():
            values.setflags(write=False)
        self._install(arrays, summarise)

    @classmethod
    def _adopt(cls, survey: str, filter: str, season: int, arrays: dict[str, np.ndarray],
               source_name: str | None = None) -> "Lightcurve":
        """Return a summarised lightcurve that takes over ``arrays`` without checking or copying them.

        For the reduction, which builds the columns itself: ``arrays`` must hold what
        :meth:`set_columns` would have made of them (the columns in its order, one-dimensional, of one
        length, sorted by finite ``mjd``, ``flag`` int64 and the others float64) and must be the new
        lightcurve's alone: they are made read-only here.

        Parameters
        ----------
        survey, filter : str
            Survey and filter name.
        season : int
            Index of the season within this filter.
        arrays : dict of str to numpy.ndarray
            The columns, taken over as they are.
        source_name : str, optional
            Name of the source, for messages.

        Returns
        -------
        Lightcurve
            With its good-epoch mask and full summary.
        """
        lc = cls(survey, filter, season, source_name=source_name)
        for values in arrays.values():
            values.setflags(write=False)
        lc._install(arrays, summarise=True, fresh=True)
        return lc

    def _install(self, arrays: dict[str, np.ndarray], summarise: bool, fresh: bool = False) -> None:
        """Take checked, sorted, read-only arrays as the columns; renew the mask, caches and summary.

        ``fresh``: the lightcurve was just constructed here (in no session), so the summary is set in
        one update of ``__dict__``, as ``__init__`` sets its attributes.
        """
        self._columns = arrays
        # Every step reads the good-epoch mask several times: computed once, with the columns.
        good = arrays["flag"] == 0
        good &= np.isfinite(arrays["flux"])
        good &= np.isfinite(arrays["fluxerr"])
        good &= arrays["fluxerr"] > 0
        good.setflags(write=False)
        self._good = good
        self._derived: dict = {}
        self._update_summary(summarise, fresh)

    @property
    def is_loaded(self) -> bool:
        """Whether the arrays are in memory."""
        return getattr(self, "_columns", None) is not None

    @property
    def label(self) -> str:
        """Human-readable identity for messages."""
        return f"{self.source_name or '?'}/{self.survey}/{self.filter}/season{self.season}"

    @property
    def mjds(self) -> np.ndarray:
        """Epoch times as MJD on :attr:`time_scale`."""
        return self.columns["mjd"]

    @property
    def times(self) -> "Time":
        """Epoch times as an astropy ``Time`` on the lightcurve's own scale (UTC or TDB)."""
        from astropy.time import Time  # 0.85 s to import: only where times are asked for, not at every start

        return Time(self.mjds, format="mjd", scale=self.time_scale)

    @property
    def flux(self) -> np.ndarray:
        """Flux in the zero-point system of the reduction."""
        return self.columns["flux"]

    @property
    def fluxerr(self) -> np.ndarray:
        """One-sigma flux uncertainty."""
        return self.columns["fluxerr"]

    @property
    def mag(self) -> np.ndarray:
        """Magnitudes."""
        return self.columns["mag"]

    @property
    def magerr(self) -> np.ndarray:
        """One-sigma magnitude uncertainty."""
        return self.columns["magerr"]

    @property
    def flag(self) -> np.ndarray:
        """Survey flags; non-zero marks a bad epoch."""
        return self.columns["flag"]

    @property
    def exptime(self) -> np.ndarray:
        """Exposure time per epoch in seconds."""
        return self.columns["exptime"]

    @property
    def good(self) -> np.ndarray:
        """Boolean mask of unflagged epochs with finite flux and positive error."""
        self._require_loaded()
        return self._good

    def with_photometry(self, flux: np.ndarray, fluxerr: np.ndarray, mag: np.ndarray,
                        magerr: np.ndarray) -> "Lightcurve":
        """Return a new, unpersisted lightcurve with other photometry at the same epochs.

        Times, flags, exposure times and the optional columns are shared with this one (they are
        read-only); the new arrays are taken over by the copy. Its epoch counts and span are set, its
        robust statistics are not (None), as for ``set_columns(..., summarise=False)``.

        Parameters
        ----------
        flux, fluxerr, mag, magerr : numpy.ndarray
            The new photometry, one value per epoch.

        Returns
        -------
        Lightcurve
            Same survey, filter, season, source name and time scale.

        Raises
        ------
        DataError
            If an array's shape is not that of the epochs.
        """
        arrays = dict(self.columns)
        for name, values in (("flux", flux), ("fluxerr", fluxerr), ("mag", mag), ("magerr", magerr)):
            values = np.asarray(values, dtype=np.float64)
            if values.shape != arrays["mjd"].shape:
                raise DataError(f"lightcurve {self.label}: {name} has shape {values.shape}, "
                                f"the epochs {arrays['mjd'].shape}")
            values.setflags(write=False)
            arrays[name] = values
        copy = Lightcurve(self.survey, self.filter, self.season, source_name=self.source_name,
                          time_scale=self.time_scale)
        copy._install(arrays, summarise=False, fresh=True)
        return copy

    def derived(self, name: str, compute):
        """Return ``compute(self)``, computed once for the current columns.

        Parameters
        ----------
        name : str
            What the value is (one cache entry per name).
        compute : callable
            Function of the lightcurve; called again only after the columns are replaced.

        Returns
        -------
        object
            The (cached) value.
        """
        self._require_loaded()
        if name not in self._derived:
            self._derived[name] = compute(self)
        return self._derived[name]

    # -- summary ------------------------------------------------------------
    def _update_summary(self, robust: bool = True, fresh: bool = False) -> None:
        c = self._columns
        good = self._good
        num_epochs = int(c["mjd"].size)
        num_good = int(np.count_nonzero(good))
        values = {"num_epochs": num_epochs, "num_good": num_good,
                  "mjd_start": float(c["mjd"][0]) if num_epochs else None,
                  "mjd_end": float(c["mjd"][-1]) if num_epochs else None,
                  "flux_median": None, "flux_rms": None, "mag_median": None, "mag_rms": None}
        if robust:
            # With every epoch good the mask would select all of them: the statistics take the columns as they are.
            flux, mag = (c["flux"], c["mag"]) if num_good == num_epochs else (c["flux"][good], c["mag"][good])
            flux_median, flux_rms = robust_location_scale(flux)
            mag_median, mag_rms = robust_location_scale(mag)
            values.update(flux_median=_none_if_nan(flux_median), flux_rms=_none_if_nan(flux_rms),
                          mag_median=_none_if_nan(mag_median), mag_rms=_none_if_nan(mag_rms))
        if fresh:
            self.__dict__.update(values)
        else:
            for name, value in values.items():
                setattr(self, name, value)

    def summary(self) -> dict:
        """Return robust summary statistics of the good epochs.

        Returns
        -------
        dict
            ``num_epochs``, ``num_good``, ``mjd_start``, ``mjd_end``,
            ``flux_median``, ``flux_rms``, ``mag_median``, ``mag_rms``.
        """
        return {
            name: getattr(self, name)
            for name in (
                "num_epochs", "num_good", "mjd_start", "mjd_end",
                "flux_median", "flux_rms", "mag_median", "mag_rms",
            )
        }

    def __repr__(self) -> str:
        n = getattr(self, "num_epochs", "?")
        return f"Lightcurve({self.label}, epochs={n})"


def _none_if_nan(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
