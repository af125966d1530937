"""NetCdfHistogramStore: Histograms as netCDF files under a data folder, written atomically."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from adapters.files.atomic import atomic_path
from domain.errors import DataError
from domain.histograms import Histograms
from services.ports import HistogramStore

__all__ = ["NetCdfHistogramStore"]

# A part may not start with a dot: that keeps out "..", hidden files and the
# ".<name>.vo-tmp-<host>-<pid>" files that atomic_path writes beside the target.
_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=-]*")


def _xarray():
    try:
        import netCDF4  # noqa: F401  # fail here with a clear message, not deep inside xarray
        import xarray
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise DataError("xarray and netCDF4 are required for the netCDF histogram store "
                        "(pip install xarray netCDF4)") from exc
    return xarray


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
        dataset = histograms.to_dataset()
        _xarray()
        with atomic_path(self.root / relative) as tmp:
            # Count arrays of many axes are mostly zeros: light compression makes them small and costs little.
            encoding = {name: {"zlib": True, "complevel": 1} for name in dataset.data_vars}
            dataset.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        return relative.as_posix()

    def load(self, key: str) -> Histograms:
        """Read the histograms saved under ``key``.

        Raises
        ------
        DataError
            If nothing is saved under ``key`` or the file is not readable histograms.
        """
        xr = _xarray()
        path = self.root / self.relative_path(key)
        if not path.is_file():
            raise DataError(f"histograms '{key}': no file {path}")
        try:
            # load() then close: nothing keeps the file open, so a later save can replace it.
            with xr.open_dataset(path, engine="netcdf4", cache=False) as dataset:
                dataset = dataset.load()
        except (OSError, ValueError) as exc:
            raise DataError(f"histograms '{key}': cannot read {path}: {exc}") from exc
        return Histograms.from_dataset(dataset)

    def exists(self, key: str) -> bool:
        """Whether a file is saved under ``key``."""
        return (self.root / self.relative_path(key)).is_file()

    def delete(self, key: str) -> None:
        """Remove the file saved under ``key`` (no error if it is already gone)."""
        (self.root / self.relative_path(key)).unlink(missing_ok=True)
