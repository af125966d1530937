"""Axes of histograms: numeric (edges plus underflow, overflow and NaN bins) or categorical, and values binned on them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["Axis", "Binned", "OTHER", "KIND_ATTR"]

OTHER = "other"
"""Label of the extra bin of a categorical axis that collects every unknown value."""

#: Attribute naming the kind of an axis (numeric or categorical) on its coordinates in files.
KIND_ATTR = "axis_kind"
#: Largest deviation of edges from an arithmetic progression, in steps, for binning by arithmetic.
_REGULAR_TOLERANCE = 1e-6
#: Fewest values binned by arithmetic: below, one binary search costs less than its dozen numpy calls.
_ARITHMETIC_MIN_SIZE = 512


@dataclass(frozen=True)
class Axis:
    """Binning of one histogram axis: numeric bin edges or category names (exactly one of them).

    A numeric axis with ``n + 1`` increasing finite edges has ``n + 3`` bins:
    index 0 is the underflow ``(-inf, edges[0])``, indices ``1..n`` are the bins
    ``[edges[i-1], edges[i])`` (a value equal to an edge goes to the upper bin),
    index ``n + 1`` is the overflow ``[edges[-1], +inf]`` and the last index counts
    NaN values, so every value lands in exactly one bin and totals stay exact.
    A categorical axis has one bin per category plus a last :data:`OTHER` bin for
    unknown values. Tuples (not arrays) keep the dataclass hashable and ``==`` exact.

    Parameters
    ----------
    edges : tuple of float, optional
        Bin edges of a numeric axis.
    categories : tuple of str, optional
        Category names of a categorical axis.
    """

    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None

    def __post_init__(self):
        if (self.edges is None) == (self.categories is None):
            raise ValueError("an Axis needs either edges or categories (exactly one)")
        if self.edges is not None:
            edges = np.asarray(self.edges, dtype=float)
            if edges.ndim != 1 or edges.size < 2:
                raise ValueError(f"edges must be a 1-D sequence of at least 2 values, got {self.edges!r}")
            if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
                raise ValueError(f"edges must be finite and strictly increasing, got {self.edges!r}")
            object.__setattr__(self, "edges", tuple(float(e) for e in edges))
        else:
            categories = tuple(str(c) for c in self.categories)
            if not categories or len(set(categories)) != len(categories) or OTHER in categories:
                raise ValueError(f"categories must be unique, non-empty and not {OTHER!r}, got {categories!r}")
            object.__setattr__(self, "categories", categories)

    @classmethod
    def numeric(cls, start: float, stop: float, step: float) -> "Axis":
        """Build regular edges ``start, start + step, ..., stop`` from configuration values.

        Edges are rounded to 12 digits below the step's leading digit, so that decimal
        configuration values (``0.1`` steps) give decimal edges and a value equal to one
        of them lands in the upper bin as written.

        Parameters
        ----------
        start, stop, step : float
            First edge, last edge and bin width; ``stop - start`` must be a multiple of ``step``.

        Returns
        -------
        Axis
            A numeric axis.

        Examples
        --------
        >>> Axis.numeric(0, 1, 0.25).edges
        (0.0, 0.25, 0.5, 0.75, 1.0)
        """
        if not step > 0 or not stop > start:
            raise ValueError(f"need start < stop and step > 0, got {start}, {stop}, {step}")
        n = (stop - start) / step
        if abs(n - round(n)) > 1e-6:
            raise ValueError(f"(stop - start) = {stop - start} is not a multiple of step = {step}")
        decimals = max(0, 12 - math.floor(math.log10(step)))
        return cls(edges=tuple(np.round(np.linspace(start, stop, round(n) + 1), decimals)))

    @classmethod
    def from_edges(cls, edges: Sequence[float]) -> "Axis":
        """Build a numeric axis from explicit, strictly increasing ``edges``."""
        return cls(edges=tuple(edges))

    @classmethod
    def categorical(cls, categories: Iterable[Any]) -> "Axis":
        """Build a categorical axis (an :data:`OTHER` bin is added for unknown values)."""
        return cls(categories=tuple(categories))

    @property
    def is_numeric(self) -> bool:
        """Whether the axis is binned by edges."""
        return self.edges is not None

    @property
    def size(self) -> int:
        """Number of bins, including the underflow/overflow/NaN or other bins."""
        return len(self.edges) + 2 if self.is_numeric else len(self.categories) + 1

    def index(self, values: Any) -> np.ndarray:
        """Return the bin index of each value (same shape as ``values``)."""
        values = np.asarray(values)
        if self.is_numeric:
            x = values.astype(float, copy=False)
            # side="right" puts a value equal to an edge in the upper bin, -inf in the
            # underflow (0) and +inf in the overflow (len(edges)); NaN gets its own bin.
            nan = np.isnan(x)
            if self._regular is not None and x.ndim == 1 and x.size >= _ARITHMETIC_MIN_SIZE:
                idx = _regular_index(x, nan, *self._regular)
            else:
                idx = np.asarray(np.searchsorted(np.asarray(self.edges), x, side="right"), dtype=np.intp)
            idx[nan] = self.size - 1
            return idx
        if values.dtype.kind != "U":
            values = values.astype(str)
        idx = np.full(values.shape, self.size - 1, dtype=np.intp)
        for i, category in enumerate(self.categories):  # few categories: one vectorised pass each
            idx[values == category] = i
        return idx

    @cached_property
    def _regular(self) -> tuple[float, float, np.ndarray, np.ndarray] | None:
        # (first edge, step, lower and upper bound of each bin) of edges in arithmetic progression
        # (up to the rounding of Axis.numeric), else None. The upper bound of the overflow is NaN,
        # which no value reaches, so that +inf stays in the overflow.
        if self.edges is None:
            return None
        edges = np.asarray(self.edges)
        step = (edges[-1] - edges[0]) / (edges.size - 1)
        progression = edges[0] + step * np.arange(edges.size)
        if not np.all(np.abs(edges - progression) <= _REGULAR_TOLERANCE * step):
            return None
        return edges[0], step, np.concatenate([[-np.inf], edges]), np.concatenate([edges, [np.nan]])

    def bin(self, values: Any) -> "Binned":
        """Return the bin indices of ``values`` on this axis, to fill with as if they were the values.

        Parameters
        ----------
        values : array_like
            Values to bin.

        Returns
        -------
        Binned
            The indices of :meth:`index`, tied to this axis.
        """
        return Binned(self, self.index(values))

    def coords(self, name: str) -> dict[str, tuple[str, np.ndarray, dict[str, str]]]:
        """Return xarray coordinates of the bins (centres and bounds, or labels) for an axis ``name``."""
        if not self.is_numeric:
            labels = np.array([*self.categories, OTHER])
            return {name: (name, labels, {KIND_ATTR: "categorical"})}
        edges = np.asarray(self.edges)
        lower = np.concatenate([[-np.inf], edges, [np.nan]])
        upper = np.concatenate([edges, [np.inf, np.nan]])
        centre = np.concatenate([[-np.inf], (edges[:-1] + edges[1:]) / 2, [np.inf, np.nan]])
        return {
            name: (name, centre, {KIND_ATTR: "numeric", "bounds": f"{name}_lower {name}_upper"}),
            f"{name}_lower": (name, lower, {}),
            f"{name}_upper": (name, upper, {}),
        }


@dataclass(frozen=True, eq=False)
class Binned:
    """Values already binned on an axis: :meth:`Histograms.fill` counts them as the values they stand for.

    Binning is the costly part of a fill. Values shared by many entries (one per lightcurve,
    repeated to its epochs) or filled into several variables can be binned once, and the indices
    repeated or selected instead: ``np.repeat`` or a mask commute with binning, so the counts are
    those of the raw values.

    Parameters
    ----------
    axis : Axis
        Axis the indices are bins of; a fill accepts them only on an equal axis.
    indices : array_like of int
        Bin indices, as :meth:`Axis.index` returns them (1-D or a scalar).

    Examples
    --------
    >>> axis = Axis.categorical(["g", "r"])
    >>> per_epoch = axis.bin(["g", "z"]).repeat([2, 1])
    >>> per_epoch.indices.tolist()
    [0, 0, 2]
    """

    axis: Axis
    indices: np.ndarray

    def __post_init__(self):
        indices = np.asarray(self.indices)
        if indices.dtype.kind not in "iu":
            raise ValueError(f"bin indices must be integers, got {indices.dtype}")
        object.__setattr__(self, "indices", indices.astype(np.intp, copy=False))

    def __getitem__(self, key: Any) -> "Binned":
        """Return the indices selected by ``key`` (a mask, slice or index array), on the same axis."""
        return Binned(self.axis, self.indices[key])

    def repeat(self, repeats: Any) -> "Binned":
        """Return each index repeated ``repeats`` times, as ``numpy.repeat``."""
        return Binned(self.axis, np.repeat(self.indices, repeats))


def _regular_index(x: np.ndarray, nan: np.ndarray, start: float, step: float, lower: np.ndarray,
                   upper: np.ndarray) -> np.ndarray:
    # The bins of Axis.index for edges in arithmetic progression (NaN values left at 0), in a few
    # branch-free passes where a binary search per value mispredicts on most of them.
    # floor((x - start) / step) + 1 is the bin up to rounding and the edges' tiny departure from the
    # progression, so it is off by at most one next to an edge: one comparison with the bounds of the
    # guessed bin on each side corrects it, and the bins are exactly those of searchsorted.
    with np.errstate(over="ignore", under="ignore"):  # extreme values still land in the right bin
        guess = x - start
        guess /= step
    np.floor(guess, out=guess)
    guess[nan] = -1.0  # NaN cannot be cast to an index
    np.clip(guess, -1.0, lower.size - 2, out=guess)
    idx = guess.astype(np.intp)
    idx += 1
    idx -= x < lower.take(idx)
    idx += x >= upper.take(idx)
    return idx
