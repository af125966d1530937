"""Histograms as CF-convention netCDF files for other tools (xarray, cf-checker), and back.

The histogram store (:mod:`adapters.files.netcdf_store`) keeps its own layout; exports follow CF-1.10
(:func:`cf_dataset`), which needs another: see there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError

__all__ = ["cf_dataset", "write_histograms", "read_histograms"]


def _attribute(value):
    # netCDF attributes are numbers or text: no boolean, no numpy scalar types.
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value if isinstance(value, (str, int, float)) else str(value)


#: CF units (UDUNITS) of the histogram axes; magnitudes have none in UDUNITS, so they are "1" with a comment.
_CF_UNITS = {"mag": "1", "limiting_mag": "1", "exptime": "s", "width": "d"}
_CF_LONG_NAMES = {"mag": "catalog magnitude of the source", "limiting_mag": "limiting magnitude of the epoch",
                  "exptime": "exposure time", "width": "width of the injected or detected event",
                  "filter": "filter", "kind": "kind of event", "survey": "survey"}


def cf_dataset(histograms, name: str | None = None, meta: dict | None = None):
    """Return histograms as a CF-1.10 xarray Dataset (what :func:`write_histograms` writes).

    Each axis ``a`` becomes a dimension ``a_bin`` with an integer coordinate variable (the bin number:
    numeric axes have an underflow bin first, then the bins between the edges, then an overflow bin and
    a bin for NaN values, whose centres are -inf, +inf and NaN, so the centres cannot be a CF coordinate
    variable, which must be monotonic without missing values), and auxiliary coordinates ``a`` (bin
    centre, or the category label) and ``a_bnds`` (lower and upper bound, CF's ``bounds``). Counts are
    ``int64`` data variables with ``units = "1"`` and a ``long_name``.

    Parameters
    ----------
    histograms : Histograms
        The merged histograms.
    name : str, optional
        Histogram name (``scanned``, ``efficiency``, ...), for the title.
    meta : dict, optional
        Provenance, written as global attributes.

    Returns
    -------
    xarray.Dataset
        With the global attributes ``Conventions``, ``title``, ``source``, ``history`` and ``meta``.
    """
    import datetime as _dt

    import xarray as xr

    source = histograms.to_dataset()
    dims = list(source[list(source.data_vars)[0]].dims)
    coords, renamed = {}, {}
    for axis in dims:
        kind = source[axis].attrs.get("axis_kind")
        size = source.sizes[axis]
        bin_dim = f"{axis}_bin"
        renamed[axis] = bin_dim
        last = ("; 0: below the first edge, then one per interval, then above the last edge, last: not a number"
                if kind == "numeric" else "; the last is 'other'")
        coords[bin_dim] = (bin_dim, np.arange(size, dtype=np.int32),
                           {"long_name": f"bin number of {axis}{last}", "units": "1"})
        long_name = _CF_LONG_NAMES.get(axis, axis.replace("_", " "))
        if kind == "numeric":
            attrs = {"long_name": f"{long_name} (bin centre)", "units": _CF_UNITS.get(axis, "1"),
                     "bounds": f"{axis}_bnds"}
            if _CF_UNITS.get(axis) == "1" and "mag" in axis:
                attrs["comment"] = "astronomical magnitude (UDUNITS has no unit for it)"
            coords[axis] = (bin_dim, np.asarray(source[axis].values, dtype=np.float64), attrs)
            bounds = np.stack([np.asarray(source[f"{axis}_lower"].values, dtype=np.float64),
                               np.asarray(source[f"{axis}_upper"].values, dtype=np.float64)], axis=1)
            coords[f"{axis}_bnds"] = ((bin_dim, "nv"), bounds, {})
        else:
            coords[axis] = (bin_dim, np.asarray(source[axis].values, dtype=str), {"long_name": long_name})
    variables = {}
    for variable in source.data_vars:
        variables[variable] = ([renamed[d] for d in source[variable].dims], np.asarray(source[variable].values),
                               {"long_name": f"number of {variable.replace('_', ' ')} entries in the bin",
                                "units": "1"})
    attrs = {"Conventions": "CF-1.10",
             "title": f"virtualobserver histogram {name}" if name else "virtualobserver histograms",
             "source": "virtualobserver", **source.attrs,
             "history": f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} written by vo export"}
    attrs.update({str(k): _attribute(v) for k, v in (meta or {}).items() if v is not None})
    dataset = xr.Dataset(variables, coords=coords, attrs=attrs)
    for variable in dataset.variables.values():
        variable.encoding["_FillValue"] = None  # no fill values: every bin holds a count
    return dataset


def write_histograms(histograms, path: str | Path, *, name: str | None = None, meta: dict | None = None) -> None:
    """Write one Histograms to a CF-convention netCDF file (atomically); see :func:`cf_dataset`.

    Parameters
    ----------
    histograms : Histograms
        The merged histogram.
    path : str or pathlib.Path
        Output ``.nc`` file.
    name : str, optional
        Histogram name, for the title.
    meta : dict, optional
        Provenance (global attributes).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        cf_dataset(histograms, name, meta).to_netcdf(tmp, engine="netcdf4", format="NETCDF4")


def read_histograms(path: str | Path):
    """Read histograms back from a file of :func:`write_histograms` (the inverse of :func:`cf_dataset`).

    Parameters
    ----------
    path : str or pathlib.Path
        A CF netCDF histogram file.

    Returns
    -------
    Histograms
        Equal to the histograms written.

    Raises
    ------
    DataError
        If the file is not such a histogram file.
    """
    import xarray as xr

    from virtualobserver.domain.histogram_axes import KIND_ATTR
    from virtualobserver.domain.histograms import Histograms

    with xr.open_dataset(path, engine="netcdf4") as ds:
        ds = ds.load()
    variables, coords = {}, {}
    for name, variable in ds.data_vars.items():
        dims = [d[:-len("_bin")] if d.endswith("_bin") else d for d in variable.dims]
        variables[name] = (dims, variable.values.astype(np.int64))
    for dim in next(iter(ds.data_vars.values())).dims if ds.data_vars else ():
        axis = dim[:-len("_bin")]
        if axis not in ds.coords:
            raise DataError(f"{path}: no coordinate {axis!r} for the dimension {dim!r}")
        if f"{axis}_bnds" in ds.coords:
            bounds = ds[f"{axis}_bnds"].values
            coords[axis] = (axis, ds[axis].values, {KIND_ATTR: "numeric"})
            coords[f"{axis}_lower"] = (axis, bounds[:, 0], {})
            coords[f"{axis}_upper"] = (axis, bounds[:, 1], {})
        else:
            coords[axis] = (axis, ds[axis].values.astype(str), {KIND_ATTR: "categorical"})
    return Histograms.from_arrays(variables, coords)
