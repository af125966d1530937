"""QualityChecker: named per-epoch cuts that mark (never remove or change) bad epochs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.segments import Segments

__all__ = ["QualityParameters", "QualityResult", "QualityChecker", "CUTS"]

#: Cut names in bit order: bit i of the quality flag is set when cut ``CUTS[i]`` fails.
CUTS = ("nan", "flag", "offset", "limiting_mag", "chi", "sharp")
_ARCSEC = 1.0 / 3600.0
#: Columns the cuts read.
_CHECKED = ("mjd", "flux", "fluxerr", "flag", "mag", "ra", "dec", "limiting_mag", "chi", "sharp")


class QualityParameters(Parameters):
    """Thresholds of the per-epoch quality cuts (a threshold of 0 switches a cut off where noted)."""

    SPECS = {
        "bad_flag_mask": Param(2**31 - 1, int, "Survey flag bits that make an epoch bad (ZTF catflags: "
                               "32768 for bad images only; TESS QUALITY: 17087 is lightkurve's default).",
                               minimum=0, maximum=2**63 - 1),
        "max_offset_sigma": Param(5.0, float, "Largest offset of an epoch's position from the median position, "
                                  "in robust standard deviations (0 = off).", minimum=0.0, maximum=1e6),
        "min_offset_scatter_arcsec": Param(0.1, float, "Floor of the positional scatter (arcsec), so that "
                                           "sub-milliarcsecond scatter does not flag everything.",
                                           minimum=0.0, maximum=3600.0),
        "limiting_mag_margin": Param(0.0, float, "Epochs whose limiting magnitude is brighter than the source's "
                                     "baseline magnitude plus this margin are bad: the image could not show the "
                                     "source as it usually is (needs a limiting_mag column). The epoch's own "
                                     "magnitude is not compared: a deep dip below the limit is an event, not a "
                                     "bad epoch.", minimum=-10.0, maximum=10.0),
        "use_limiting_mag": Param(True, bool, "Apply the limiting-magnitude cut where the survey provides it."),
        "max_chi": Param(0.0, float, "Largest PSF-fit chi (0 = off; ZTF: ~4).", minimum=0.0, maximum=1e6),
        "max_abs_sharp": Param(0.0, float, "Largest |sharpness| of the PSF fit (0 = off; ZTF: ~0.25).",
                               minimum=0.0, maximum=1e6),
    }


@dataclass
class QualityResult:
    """Per-epoch outcome of the quality cuts.

    Attributes
    ----------
    values : dict of str to numpy.ndarray
        Value of each cut per epoch (NaN where the survey lacks the column):
        ``nan`` 1/0, ``flag`` the masked flag bits, ``offset`` in robust sigmas,
        ``limiting_mag`` = the lightcurve's baseline magnitude (median of the epochs that pass the
        ``nan`` and ``flag`` cuts) - the epoch's limiting magnitude, ``chi``, ``sharp`` = abs(sharpness).
    failed : dict of str to numpy.ndarray
        Whether each cut failed, per epoch.
    flag : numpy.ndarray
        Quality bit mask per epoch (bit i for ``CUTS[i]``).
    good : numpy.ndarray
        Epochs that pass every cut.
    """

    values: dict[str, np.ndarray]
    failed: dict[str, np.ndarray]
    flag: np.ndarray
    good: np.ndarray

    def over(self, first: int, last: int) -> dict[str, float]:
        """Return the worst (largest) finite value of each cut over epochs ``first..last``."""
        worst = {}
        for name, values in self.values.items():
            window = values[first:last + 1]
            finite = window[np.isfinite(window)]
            worst[name] = float(finite.max()) if finite.size else None
        return worst


class QualityChecker:
    """Applies the named cuts of :class:`QualityParameters` to a lightcurve.

    The lightcurve's columns are never modified: the result carries the
    value of each cut and a quality flag per epoch.

    Parameters
    ----------
    parameters : QualityParameters
        Thresholds.
    """

    def __init__(self, parameters: QualityParameters | None = None):
        self.parameters = parameters or QualityParameters()

    def check(self, lightcurve: Lightcurve) -> QualityResult:
        """Evaluate every cut on every epoch.

        Parameters
        ----------
        lightcurve : Lightcurve
            Loaded lightcurve (optional columns are used when present).

        Returns
        -------
        QualityResult
            Values, failures, flag and the good-epoch mask.
        """
        return self.check_many([lightcurve])[0]

    def check_many(self, lightcurves: Sequence[Lightcurve]) -> list[QualityResult]:
        """Evaluate every cut on every epoch of many lightcurves: the same results as :meth:`check` on each.

        Lightcurves with the same optional columns are checked together, one numpy call per
        operation for all of them, since per-call overhead dominates short lightcurves.

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Loaded lightcurves.

        Returns
        -------
        list of QualityResult
            One per lightcurve, in order.
        """
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, lightcurve in enumerate(lightcurves):
            groups.setdefault(tuple(sorted(lightcurve.columns)), []).append(i)
        results: list[QualityResult | None] = [None] * len(lightcurves)
        for members in groups.values():
            for i, result in zip(members, self._check_group([lightcurves[i] for i in members])):
                results[i] = result
        return results

    def _check_group(self, lightcurves: Sequence[Lightcurve]) -> list[QualityResult]:
        p = self.parameters
        columns = [lc.columns for lc in lightcurves]
        segments = Segments([lc["mjd"].size for lc in columns])
        c = {name: np.concatenate([lc[name] for lc in columns]) for name in _CHECKED if name in columns[0]}
        n = segments.size
        missing = np.full(n, np.nan)
        values = {
            "nan": (~(np.isfinite(c["mjd"]) & np.isfinite(c["flux"]) & np.isfinite(c["fluxerr"])
                      & (c["fluxerr"] > 0))).astype(float),
            "flag": (c["flag"] & p.bad_flag_mask).astype(float),
            "offset": self._offset(c, segments) if "ra" in c and "dec" in c else missing,
            "limiting_mag": self._baseline_mag(c, segments) - c["limiting_mag"] if "limiting_mag" in c else missing,
            "chi": c["chi"] if "chi" in c else missing,
            "sharp": np.abs(c["sharp"]) if "sharp" in c else missing,
        }
        with np.errstate(invalid="ignore"):
            failed = {
                "nan": values["nan"] > 0,
                "flag": values["flag"] > 0,
                "offset": (values["offset"] > p.max_offset_sigma) if p.max_offset_sigma > 0 else np.zeros(n, bool),
                "limiting_mag": (values["limiting_mag"] > -p.limiting_mag_margin) if p.use_limiting_mag
                else np.zeros(n, bool),
                "chi": (values["chi"] > p.max_chi) if p.max_chi > 0 else np.zeros(n, bool),
                "sharp": (values["sharp"] > p.max_abs_sharp) if p.max_abs_sharp > 0 else np.zeros(n, bool),
            }
        flag = np.zeros(n, dtype=np.int64)
        for bit, name in enumerate(CUTS):
            flag |= failed[name].astype(np.int64) << bit
        good = flag == 0
        # One array per kind of result, a row per cut: each lightcurve's result takes one slice of each
        # (its rows are views), instead of one slice per cut and lightcurve.
        names = list(values)
        all_values = np.stack([values[name] for name in names])
        all_failed = np.stack([failed[name] for name in names])
        return [QualityResult(values=dict(zip(names, all_values[:, start:stop])),
                              failed=dict(zip(names, all_failed[:, start:stop])),
                              flag=flag[start:stop], good=good[start:stop])
                for start, stop in segments.bounds]

    def _baseline_mag(self, c: dict, segments: Segments) -> np.ndarray:
        # The magnitude the source usually has in each lightcurve, per epoch: the cut asks whether the
        # image was deep enough to show the source at that brightness, so an event fainter than the
        # limit (a deep dip) is kept, not censored by the cut meant to find it.
        usable = (np.isfinite(c["mjd"]) & np.isfinite(c["flux"]) & np.isfinite(c["fluxerr"]) & (c["fluxerr"] > 0)
                  & ((c["flag"] & self.parameters.bad_flag_mask) == 0) & np.isfinite(c["mag"]))
        return segments.spread(segments.median(c["mag"], usable))

    def _offset(self, c: dict, segments: Segments) -> np.ndarray:
        # Offsets from the median position in units of a robust scatter, with a floor so that
        # exquisite astrometry does not turn every tiny excursion into a failed cut.
        ra, dec = np.asarray(c["ra"], dtype=float), np.asarray(c["dec"], dtype=float)
        dec0 = segments.median(dec, ~np.isnan(dec))
        reference = segments.first(ra, np.isfinite(ra), 0.0)
        # Differences wrapped to [-180, 180) so that a source at ra ~ 0 deg is not split in two.
        dra = (ra - segments.spread(reference) + 180.0) % 360.0 - 180.0
        dx = (dra - segments.spread(segments.median(dra, ~np.isnan(dra)))) * segments.spread(
            np.cos(np.radians(dec0))) / _ARCSEC
        dy = (dec - segments.spread(dec0)) / _ARCSEC
        distance = np.hypot(dx, dy)
        # Each lightcurve's scatter is over its dx and dy together: one segment of twice its length.
        within = np.arange(segments.size) - segments.spread(segments.starts)
        at = segments.spread(2 * segments.starts) + within
        both = np.empty(2 * segments.size)
        both[at], both[at + segments.spread(segments.lengths)] = dx, dy
        _, scatter = Segments(2 * segments.lengths).robust_location_scale(both)
        floor = self.parameters.min_offset_scatter_arcsec
        scatter = np.maximum(np.where(np.isfinite(scatter), scatter, 0.0), floor)
        return distance / segments.spread(scatter)
