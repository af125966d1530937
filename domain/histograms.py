"""Additive N-dimensional count histograms (data scanned, injected/recovered events) over named axes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histogram_axes import KIND_ATTR, OTHER, Axis, Binned

if TYPE_CHECKING:  # xarray takes 1.1 s to import: only the methods that build its objects import it
    import xarray as xr

__all__ = ["Axis", "Binned", "HistogramArrays", "Histograms", "OTHER"]

_DESCRIPTION = ("virtualobserver Histograms: numeric axes have an underflow bin first, "
                "then overflow, then a NaN bin; categorical axes end with an 'other' bin")


class Histograms:
    """Integer counts of several variables over the same named axes; exactly additive.

    Histograms of disjoint parts of the data (batches, workers) add up, bin for bin,
    to the histogram of the whole: ``h1 + h2`` and :meth:`merge` require identical
    axes (names, order, edges, categories) and variables. Counts are ``int64`` and
    every filled value lands in exactly one bin (see :class:`Axis`), so
    :meth:`total` equals the number (or summed weights) of filled values.

    Parameters
    ----------
    axes : mapping of str to Axis
        Axis names (dimension names) and their binning, in order.
    variables : sequence of str
        Names of the count variables, e.g. ``("scanned",)`` or ``("injected", "recovered")``.

    Examples
    --------
    >>> h = Histograms({"mag": Axis.numeric(10, 20, 1), "filter": Axis.categorical(["g", "r", "i"])})
    >>> h.fill("counts", mag=[12.5, 25.0], filter=["g", "z"])
    >>> h.total("counts")
    2
    """

    def __init__(self, axes: Mapping[str, Axis], variables: Sequence[str] = ("counts",)):
        self._axes = dict(axes)
        self._variables = tuple(variables)
        if not self._axes or not self._variables:
            raise ValueError("Histograms need at least one axis and one variable")
        for name, axis in self._axes.items():
            if not isinstance(axis, Axis):
                raise TypeError(f"axis {name!r} must be an Axis, got {type(axis).__name__}")
        names = [n for name, axis in self._axes.items() for n in axis.coords(name)] + list(self._variables)
        if len(set(names)) != len(names) or "weights" in names:
            raise ValueError(f"axis, bound and variable names must be unique and not 'weights': {names}")
        self._counts = {v: np.zeros(self.shape, dtype=np.int64) for v in self._variables}

    @property
    def axes(self) -> dict[str, Axis]:
        """Axes by name, in dimension order (a copy)."""
        return dict(self._axes)

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the count variables."""
        return self._variables

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of bins along each axis, flow bins included."""
        return tuple(axis.size for axis in self._axes.values())

    def fill(self, variable: str, /, weights: Any = None, **values: Any) -> None:
        """Count values, one array (or a scalar, broadcast) per axis.

        Parameters
        ----------
        variable : str
            Count variable to increment.
        weights : array_like of int, optional
            Non-negative integer weight per value (default 1 each).
        **values : array_like or Binned
            Values for every axis, by axis name; 1-D arrays of equal length or scalars. A
            :class:`Binned` stands for the values it was binned from (on an equal axis).

        Raises
        ------
        ValueError
            On an unknown variable, missing or unknown axes, unequal lengths, bad weights,
            or bin indices of another axis or out of its range.
        """
        counts = self._counts_of(variable)
        if set(values) != set(self._axes):
            raise ValueError(f"fill needs values for axes {list(self._axes)}, got {sorted(values)}")
        indices = [self._index(name, values[name]) for name in self._axes]
        if any(i.ndim > 1 for i in indices) or len({i.size for i in indices if i.ndim == 1}) > 1:
            raise ValueError(f"values must be 1-D arrays of equal length or scalars, got shapes "
                             f"{ {n: np.shape(i) for n, i in zip(self._axes, indices)} }")
        # ravel_multi_index raises ValueError on an index outside its axis (pre-binned values).
        flat = np.ravel_multi_index(np.broadcast_arrays(*indices), self.shape).ravel()
        if weights is None:
            binned = np.bincount(flat, minlength=counts.size)
        else:
            w = np.broadcast_to(np.asarray(weights), flat.shape)
            if w.dtype.kind == "f" and np.all(np.isfinite(w)) and np.all(w == np.round(w)):
                w = w.astype(np.int64)
            if w.dtype.kind not in "biu" or np.any(w < 0):
                raise ValueError("weights must be non-negative integers (counts are exact int64)")
            binned = np.zeros(counts.size, dtype=np.int64)
            np.add.at(binned, flat, w.astype(np.int64))  # int64 throughout: exact, unlike bincount's float weights
        # Validation is done before this point, so a failed fill leaves the counts untouched.
        counts += binned.reshape(counts.shape)

    def _index(self, name: str, values: Any) -> np.ndarray:
        axis = self._axes[name]
        if not isinstance(values, Binned):
            return axis.index(values)
        if values.axis is not axis and values.axis != axis:
            raise ValueError(f"axis {name!r}: values were binned on another axis ({values.axis})")
        return values.indices

    def _counts_of(self, variable: str) -> np.ndarray:
        if variable not in self._counts:
            raise ValueError(f"unknown variable {variable!r}; have {list(self._variables)}")
        return self._counts[variable]

    def _check_compatible(self, other: "Histograms") -> None:
        if not isinstance(other, Histograms):
            raise TypeError(f"cannot combine Histograms with {type(other).__name__}")
        if list(self._axes) != list(other._axes):
            raise ValueError(f"axes differ: {list(self._axes)} vs {list(other._axes)}")
        for name, axis in self._axes.items():
            theirs = other._axes[name]
            if axis != theirs:
                what = ("edges" if axis.is_numeric and theirs.is_numeric
                        else "categories" if not (axis.is_numeric or theirs.is_numeric) else "kinds")
                raise ValueError(f"axis {name!r}: {what} differ: {axis} vs {theirs}")
        if self._variables != other._variables:
            raise ValueError(f"variables differ: {list(self._variables)} vs {list(other._variables)}")

    def __iadd__(self, other: "Histograms") -> "Histograms":
        self._check_compatible(other)
        for v in self._variables:
            self._counts[v] += other._counts[v]
        return self

    def __add__(self, other: "Histograms") -> "Histograms":
        result = self.copy()
        result += other
        return result

    def __radd__(self, other: Any) -> "Histograms":
        if isinstance(other, int) and other == 0:  # so that builtin sum() works
            return self.copy()
        return NotImplemented

    @classmethod
    def merge(cls, histograms: Iterable["Histograms"]) -> "Histograms":
        """Return the bin-for-bin sum of one or more compatible histograms."""
        iterator = iter(histograms)
        try:
            result = next(iterator).copy()
        except StopIteration:
            raise ValueError("merge needs at least one Histograms") from None
        for h in iterator:
            result += h
        return result

    def copy(self) -> "Histograms":
        """Return an independent copy."""
        result = self.empty_like()
        for v in self._variables:
            result._counts[v][...] = self._counts[v]
        return result

    def empty_like(self) -> "Histograms":
        """Return histograms with the same axes and variables and all counts zero."""
        return Histograms(self._axes, self._variables)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histograms):
            return NotImplemented
        return (list(self._axes.items()) == list(other._axes.items()) and self._variables == other._variables
                and all(np.array_equal(self._counts[v], other._counts[v]) for v in self._variables))

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        totals = ", ".join(f"{v}={self.total(v)}" for v in self._variables)
        return f"Histograms(axes={list(self._axes)}, shape={self.shape}, {totals})"

    def total(self, variable: str) -> int:
        """Return the sum of all bins of ``variable`` (flow bins included)."""
        return int(self._counts_of(variable).sum())

    def _coords(self, names: Iterable[str]) -> dict:
        return {k: v for name in names for k, v in self._axes[name].coords(name).items()}

    def __getitem__(self, variable: str) -> xr.DataArray:
        """Return a copy of all counts of ``variable`` as a labelled DataArray."""
        return self.project(variable, *self._axes)

    def project(self, variable: str, *axes: str) -> xr.DataArray:
        """Sum ``variable`` over every axis not named; return counts over ``axes`` in that order.

        Parameters
        ----------
        variable : str
            Count variable.
        *axes : str
            Axes to keep (none: a 0-d total).

        Returns
        -------
        xarray.DataArray
            ``int64`` counts with bin coordinates (flow bins included).
        """
        counts = self._counts_of(variable)
        unknown = [a for a in axes if a not in self._axes]
        if unknown or len(set(axes)) != len(axes):
            raise ValueError(f"project needs distinct axes among {list(self._axes)}, got {list(axes)}")
        order = list(self._axes)
        summed = counts.sum(axis=tuple(i for i, a in enumerate(order) if a not in axes))
        kept = [a for a in order if a in axes]
        data = np.transpose(summed, [kept.index(a) for a in axes]) if axes else summed
        import xarray as xr

        return xr.DataArray(np.array(data, dtype=np.int64), dims=axes, coords=self._coords(axes), name=variable)

    def efficiency(self, *axes: str, recovered: str = "recovered", injected: str = "injected") -> xr.DataArray:
        """Return ``recovered / injected`` per bin (over ``axes`` if given, else all axes).

        Returns
        -------
        xarray.DataArray
            Float fractions, NaN where nothing was injected.
        """
        axes = axes or tuple(self._axes)
        rec, inj = self.project(recovered, *axes), self.project(injected, *axes)
        ratio = np.full(inj.shape, np.nan)
        np.divide(rec.values, inj.values, out=ratio, where=inj.values > 0)
        return rec.copy(data=ratio).rename("efficiency")

    def to_arrays(self) -> "HistogramArrays":
        """Return the counts, bin coordinates and attributes of :meth:`to_dataset` as plain numpy arrays.

        For writers that do not go through xarray: the layout is that of :meth:`to_dataset`
        (the same names, dimensions, values and attributes, in the same order), and
        :meth:`from_arrays` inverts it.

        Returns
        -------
        HistogramArrays
            Count arrays are read-only views of the counts (no copy): write them out before
            filling again.
        """
        dims = tuple(self._axes)
        variables = {}
        for v in self._variables:
            view = self._counts[v].view()
            view.flags.writeable = False
            variables[v] = (dims, view)
        return HistogramArrays(variables, self._coords(dims), {"description": _DESCRIPTION})

    def to_dataset(self) -> xr.Dataset:
        """Return counts as ``int64`` data variables with bin coordinates; :meth:`from_dataset` inverts it."""
        arrays = self.to_arrays()
        import xarray as xr

        return xr.Dataset(
            {v: (dims, counts.copy()) for v, (dims, counts) in arrays.variables.items()},
            coords=arrays.coords,
            attrs=arrays.attrs,
        )

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> "Histograms":
        """Rebuild histograms from :meth:`to_dataset` output (e.g. read from a netCDF file).

        Raises
        ------
        DataError
            If the dataset does not describe histograms (missing coordinates, wrong dtypes or shapes).
        """
        return cls.from_arrays(
            {v: (ds[v].dims, ds[v].values) for v in ds.data_vars},
            {name: (c.dims, c.values, c.attrs) for name, c in ds.coords.items()},
        )

    @classmethod
    def from_arrays(cls, variables: Mapping[str, tuple[Sequence[str], np.ndarray]],
                    coords: Mapping[str, tuple[Any, np.ndarray, Mapping[str, Any]]]) -> "Histograms":
        """Rebuild histograms from :meth:`to_arrays` output, or arrays read from a file without xarray.

        Parameters
        ----------
        variables : mapping of str to (dims, array)
            Count variables in order: dimension names and integer counts.
        coords : mapping of str to (dims, values, attrs)
            Bin coordinates (``<axis>``, ``<axis>_lower``, ``<axis>_upper``) with their attributes.

        Returns
        -------
        Histograms
            The histograms, counts copied.

        Raises
        ------
        DataError
            If the arrays do not describe histograms (missing coordinates, wrong dtypes or shapes).
        """
        names = list(variables)
        if not names:
            raise DataError("dataset holds no count variables")
        dims = tuple(variables[names[0]][0])
        axes = {}
        for name in dims:
            coord = coords.get(name)
            kind = coord[2].get(KIND_ATTR) if coord is not None else None
            if kind == "numeric" and f"{name}_upper" in coords:
                axes[name] = Axis(edges=tuple(np.asarray(coords[f"{name}_upper"][1], dtype=float)[:-2]))
            elif kind == "categorical" and str(coord[1][-1]) == OTHER:
                axes[name] = Axis(categories=tuple(str(c) for c in coord[1][:-1]))
            else:
                raise DataError(f"histogram axis {name!r}: missing or malformed bin coordinates")
        result = cls(axes, names)
        for v in names:
            v_dims, values = tuple(variables[v][0]), np.asarray(variables[v][1])
            if v_dims != dims or values.dtype.kind not in "iu" or values.shape != result.shape:
                raise DataError(f"histogram variable {v!r}: expected integer counts over {dims} "
                                f"with shape {result.shape}, got {values.dtype} over {v_dims} {values.shape}")
            result._counts[v][...] = values
        return result


class HistogramArrays(NamedTuple):
    """The content of :meth:`Histograms.to_arrays`: what a histogram file holds, as numpy arrays.

    Attributes
    ----------
    variables : dict of str to (tuple of str, numpy.ndarray)
        Count variables in order: dimension names (the axes, in order) and ``int64`` counts.
    coords : dict of str to (str, numpy.ndarray, dict)
        Bin coordinates in order: dimension, values and attributes (see :meth:`Axis.coords`).
    attrs : dict of str to str
        Global attributes (a ``description`` of the bin layout).
    """

    variables: dict[str, tuple[tuple[str, ...], np.ndarray]]
    coords: dict[str, tuple[str, np.ndarray, dict[str, str]]]
    attrs: dict[str, str]
