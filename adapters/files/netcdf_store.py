"""NetCdfHistogramStore: Histograms as netCDF files under a data folder, written atomically."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path, PurePosixPath

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histograms import Histograms
from virtualobserver.services.ports import HistogramStore

__all__ = ["NetCdfHistogramStore"]

# A part may not start with a dot: that keeps out "..", hidden files and the
# ".<name>.vo-tmp-<host>-<pid>" files that atomic_path writes beside the target.
_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=-]*")


def _netcdf4():
    try:
        import netCDF4
    except ImportError as exc:  # pragma: no cover - a dependency
        raise DataError("xarray and netCDF4 are required for the netCDF histogram store "
                        "(pip install xarray netCDF4)") from exc
    return netCDF4


# The netCDF-C and HDF5 libraries are not thread-safe and netCDF4-python releases the GIL in
# some calls: one store call at a time per process (xarray held a global lock likewise).
_LOCK = threading.Lock()

# Attributes of the files we write (and of those xarray wrote before): a file with any other
# attribute, or other dtypes, is read through xarray, which decodes every CF convention.
_PLAIN_ATTRS = frozenset({"coordinates", "axis_kind", "bounds", "_FillValue"})


def _write(nc, histograms: Histograms) -> None:
    """Write ``histograms`` into the open, empty netCDF-4 dataset ``nc`` as xarray's ``to_netcdf`` did.

    Same dimensions, variables, order, dtypes, attributes, chunking and compression as
    ``histograms.to_dataset().to_netcdf(engine="netcdf4")`` with zlib level 1 on the counts,
    so files written before and after read the same, in xarray too.
    """
    arrays = histograms.to_arrays()
    nc.set_auto_maskandscale(False)  # write NaN and inf as they are, as xarray does
    # The checksum of what is written goes with it: a changed byte that still reads (an uncompressed bin
    # edge, say) is found on reading, as the content hash in a batch file's name finds it there.
    nc.setncatts({**arrays.attrs, _CHECKSUM: _checksum({n: c for n, (_, c) in arrays.variables.items()},
                                                       {n: v for n, (_, v, _) in arrays.coords.items()})})
    for dim, size in zip(histograms.axes, histograms.shape):
        nc.createDimension(dim, size)
    bounds = [name for name, (dim, _, _) in arrays.coords.items() if name != dim]
    writes = []
    for name, (dims, counts) in arrays.variables.items():
        # Count arrays of many axes are mostly zeros: light compression makes them small and costs little.
        var = nc.createVariable(name, counts.dtype, dims, zlib=True, complevel=1, shuffle=True,
                                endian="native", fill_value=None)
        # xarray's CF "coordinates" attribute: it makes the bounds coordinates, not count variables.
        linked = sorted(c for c in bounds if arrays.coords[c][0] in dims)
        if linked:
            var.setncattr("coordinates", " ".join(linked))
        writes.append((var, counts))
    for name, (dim, values, attrs) in arrays.coords.items():
        if values.dtype.kind == "U":
            var = nc.createVariable(name, str, (dim,), endian="native", fill_value=None)
        else:
            # xarray gives float variables a NaN _FillValue; readers then see NaN, as written.
            var = nc.createVariable(name, values.dtype, (dim,), endian="native",
                                    fill_value=np.nan if values.dtype.kind == "f" else None)
        var.setncatts(attrs)
        writes.append((var, values))
    # Data only after every definition: each write after a new definition makes netCDF-C write
    # the file's metadata again (leave define mode), which took about a third of the time.
    for var, values in writes:
        var[...] = values


#: Global attribute holding the SHA-256 of a file's counts and coordinates (files written before have none).
_CHECKSUM = "vo_content_sha256"


def _checksum(counts: dict, coords: dict) -> str:
    """Return the SHA-256 of count and coordinate arrays by name, as written and as read back."""
    digest = hashlib.sha256()
    for group in (counts, coords):
        for name in sorted(group):
            values = np.asarray(group[name])
            digest.update(name.encode())
            if values.dtype.kind in "UOS":  # variable-length strings come back as objects
                digest.update("\0".join(map(str, values.reshape(-1))).encode())
            else:
                digest.update(str(values.dtype.newbyteorder("=")).encode())
                digest.update(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("=")).tobytes())
    return digest.hexdigest()


def _verify(nc, arrays: tuple[dict, dict], path) -> None:
    """Raise a DataError if the file carries a checksum its arrays no longer match."""
    if _CHECKSUM not in nc.ncattrs():
        return
    counts, coords = arrays
    found = _checksum({n: c for n, (_, c) in counts.items()}, {n: v for n, (_, v, _) in coords.items()})
    if found != nc.getncattr(_CHECKSUM):
        raise DataError(f"histograms {path}: content does not match its checksum (a changed byte): it hashes to "
                        f"{found[:16]}, the file says {str(nc.getncattr(_CHECKSUM))[:16]}")


def _nan(value) -> bool:
    value = np.asarray(value)
    return value.size == 1 and value.dtype.kind == "f" and bool(np.isnan(value).all())


def _read(nc) -> tuple[dict, dict] | None:
    """Read the arguments of ``Histograms.from_arrays`` from the open dataset ``nc``, or None if xarray must.

    Coordinates are what xarray makes of the file: dimension variables and the variables
    named in a ``coordinates`` attribute; every other variable is a count variable, in file order.
    """
    if "coordinates" in nc.ncattrs():
        return None
    nc.set_auto_maskandscale(False)  # NaN and inf bounds as stored (a NaN _FillValue masks nothing)
    variables = nc.variables
    linked = set()
    for name, var in variables.items():
        attrs = var.ncattrs()
        if not _PLAIN_ATTRS.issuperset(attrs):
            return None
        # Plain numbers and variable-length strings only: no enum, compound, vlen or char arrays.
        kind = var.dtype.kind if isinstance(var.datatype, np.dtype) else "str" if var.dtype is str else ""
        if kind not in ("i", "u", "f", "str"):
            return None
        if "_FillValue" in attrs and not (kind == "f" and _nan(var.getncattr("_FillValue"))):
            return None
        if name in var.dimensions and var.dimensions != (name,):
            return None
        if "coordinates" in attrs:
            names = var.getncattr("coordinates")
            if not isinstance(names, str):
                return None
            linked.update(c for c in names.split() if c in variables)
    coords, counts = {}, {}
    for name, var in variables.items():
        if var.dimensions == (name,) or name in linked:
            coords[name] = (var.dimensions, var[...], {a: var.getncattr(a) for a in var.ncattrs()})
        else:
            counts[name] = (var.dimensions, var[...])
    return counts, coords


class NetCdfHistogramStore(HistogramStore):
    """One netCDF-4 file per key: ``<root>/<key>.nc``.

    Keys are relative names made of safe parts separated by ``/``, such as
    ``histograms/demo/<version>/part-<hash>``; absolute keys, ``..``, backslashes
    and other unsafe characters are refused, so a key can never leave ``root``.
    Files are replaced atomically (temporary file, fsync, rename), so readers see
    the old or the new histograms, never a partial file. :meth:`load` reads
    everything into memory and closes the file, so it can be replaced afterwards.

    Parameters
    ----------
    root : str or pathlib.Path
        Data folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def relative_path(key: str) -> PurePosixPath:
        """Return the file name of ``key`` relative to the root (``<key>.nc``).

        Raises
        ------
        DataError
            If the key is empty, absolute, contains ``..``, a backslash or an unsafe part.
        """
        if not isinstance(key, str) or not key:
            raise DataError(f"histogram key must be a non-empty string, got {key!r}")
        if "\\" in key or key.startswith("/") or re.match(r"^[A-Za-z]:", key):
            raise DataError(f"histogram key {key!r} must be relative and use '/' separators")
        parts = key.split("/")
        bad = [p for p in parts if p == ".." or not _SAFE_PART.fullmatch(p)]
        if bad:
            raise DataError(f"histogram key {key!r} has unsafe parts {bad} "
                            "(use letters, digits and _.+=- only, not starting with a dot)")
        return PurePosixPath(*parts[:-1], f"{parts[-1]}.nc")

    def save(self, key: str, histograms: Histograms) -> str:
        """Write ``histograms`` atomically under ``key``; return the file name relative to the root."""
        relative = self.relative_path(key)
        netCDF4 = _netcdf4()
        with atomic_path(self.root / relative) as tmp:
            # netCDF4 directly, not xarray's to_netcdf: the same file, without the CF encoding machinery.
            with _LOCK, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
                _write(nc, histograms)
        return relative.as_posix()

    def load(self, key: str) -> Histograms:
        """Read the histograms saved under ``key``.

        Raises
        ------
        DataError
            If nothing is saved under ``key`` or the file is not readable histograms.
        """
        netCDF4 = _netcdf4()
        path = self.root / self.relative_path(key)
        if not path.is_file():
            raise DataError(f"histograms '{key}': no file {path}")
        try:
            # Everything is read, then the file closed: nothing keeps it open, so a later save can replace it.
            with _LOCK, netCDF4.Dataset(path, "r") as nc:
                arrays = _read(nc)
                if arrays is not None:
                    _verify(nc, arrays, path)
            if arrays is None:
                import xarray as xr  # a file we did not write: let xarray decode its conventions

                with _LOCK, xr.open_dataset(path, engine="netcdf4", cache=False) as dataset:
                    dataset = dataset.load()
        except (OSError, ValueError, RuntimeError) as exc:
            raise DataError(f"histograms '{key}': cannot read {path}: {exc}") from exc
        if arrays is None:
            return Histograms.from_dataset(dataset)
        return Histograms.from_arrays(*arrays)

    def exists(self, key: str) -> bool:
        """Whether a file is saved under ``key``."""
        return (self.root / self.relative_path(key)).is_file()

    def delete(self, key: str) -> None:
        """Remove the file saved under ``key`` (no error if it is already gone)."""
        (self.root / self.relative_path(key)).unlink(missing_ok=True)
