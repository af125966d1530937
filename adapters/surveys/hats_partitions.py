"""A HATS catalog on disk or at a URL: which of its HEALPix partitions cones touch, and one partition's columns.

HATS (Hierarchical Adaptive Tiling Scheme) splits a catalog into Parquet files,
one per HEALPix pixel of an order that adapts to the density of rows. The
``hats`` library reads the catalog's properties and partition list; the rows
of one partition are read here with pyarrow, only the columns asked for.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from virtualobserver.domain.errors import SurveyError

__all__ = ["HatsCatalog", "PartitionCache", "cone_partitions"]

#: The deepest order looked at for the cone-to-partition lookup: HATS partitions never go deeper in practice
#: (order 19 pixels are ~0.4 arcsec wide) and cdshealpix stops at 29.
_MAX_DEPTH = 19


class HatsCatalog:
    """The partitions and schema of one HATS catalog (the primary catalog of a collection, or a catalog).

    Parameters
    ----------
    path : str
        Folder or URL of a HATS collection (``collection.properties``) or catalog (``hats.properties``).

    Raises
    ------
    SurveyError
        If nothing at ``path`` is a HATS catalog, or the catalog is not partitioned by HEALPix.
    """

    def __init__(self, path: str):
        try:
            import hats
        except ImportError:
            raise SurveyError("reading a HATS collection needs the 'hats' package: pip install "
                              "'virtualobserver[hats]'") from None
        self.path = str(path)
        try:
            opened = hats.read_hats(path, read_moc=False)
        except FileNotFoundError:
            raise SurveyError(f"{path}: not a HATS collection or catalog (no collection.properties or "
                              "hats.properties)") from None
        except Exception as exc:  # noqa: BLE001 - hats, pydantic, fsspec and pyarrow raise many types
            raise SurveyError(f"{path}: cannot read the HATS catalog ({type(exc).__name__}: {exc})") from None
        catalog = getattr(opened, "main_catalog", opened)
        if not hasattr(catalog, "get_healpix_pixels"):
            raise SurveyError(f"{path}: the HATS catalog is not partitioned by HEALPix "
                              f"({type(catalog).__name__})")
        self.catalog = catalog
        self.base = catalog.catalog_base_dir
        self.schema = catalog.schema
        self.ra_column = catalog.catalog_info.ra_column
        self.dec_column = catalog.catalog_info.dec_column
        self.npix_suffix = catalog.catalog_info.npix_suffix
        self.pixels = list(catalog.get_healpix_pixels())
        if not self.pixels:
            raise SurveyError(f"{path}: the HATS catalog has no partitions")
        self._orders = sorted({p.order for p in self.pixels})
        self._known = {(p.order, p.pixel): p for p in self.pixels}

    @property
    def columns(self) -> list[str]:
        """Names of the catalog's top-level columns."""
        return list(self.schema.names) if self.schema is not None else []

    def partitions(self, depth_pixels: np.ndarray, depth: int) -> list:
        """Return the partitions that hold each of ``depth_pixels`` (pixels of order ``depth``, -1 for none).

        Parameters
        ----------
        depth_pixels : numpy.ndarray
            HEALPix pixel numbers (nested) at ``depth``, at least as deep as the deepest partition.
        depth : int
            Their order.

        Returns
        -------
        list
            Per pixel, its partition (``hats.pixel_math.HealpixPixel``) or None outside the catalog.
        """
        found = []
        for pixel in np.asarray(depth_pixels, dtype=np.int64).tolist():
            hit = None
            if pixel >= 0:
                for order in self._orders:
                    hit = self._known.get((order, pixel >> (2 * (depth - order))))
                    if hit is not None:
                        break
            found.append(hit)
        return found

    def read(self, pixel, columns: list[str]):
        """Return the rows of one partition, only ``columns`` (a ``pyarrow.Table``).

        Parameters
        ----------
        pixel : hats.pixel_math.HealpixPixel
            The partition.
        columns : list of str
            Columns to read (top-level names, or ``parent.child`` of a nested column).

        Returns
        -------
        pyarrow.Table
            The partition's rows.

        Raises
        ------
        SurveyError
            If the partition's file cannot be read.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq
        from hats.io import paths

        where = paths.pixel_catalog_file(self.base, pixel, npix_suffix=self.npix_suffix)
        try:
            try:
                return pq.read_table(where.path, filesystem=where.fs, columns=columns)
            except ValueError as exc:
                if "range requests" not in str(exc):
                    raise
                # A web server without byte ranges: take the whole file, then only the columns from it.
                return pq.read_table(pa.BufferReader(where.read_bytes()), columns=columns)
        except Exception as exc:  # noqa: BLE001 - pyarrow and fsspec raise many types
            raise SurveyError(f"{where}: cannot read the HATS partition ({type(exc).__name__}: {exc})") from None

    @property
    def depth(self) -> int:
        """Order at which cones are looked up: the deepest partition's."""
        return min(max(self._orders), _MAX_DEPTH)


def cone_partitions(catalog: HatsCatalog, ra: np.ndarray, dec: np.ndarray, radius_deg: np.ndarray) -> list[set]:
    """Return, per cone, the partitions of ``catalog`` that the cone touches (a superset, never fewer).

    The cone's centre pixel at the catalog's deepest order, and the pixels of the
    eight corners of the octagon drawn around the cone (so that any pixel
    edge crossing the cone leaves a corner on its far side); when a corner of the
    centre pixel itself lies within the octagon, all its eight neighbours too.
    Cones must be much smaller than a pixel of that order (arcseconds against
    arcminutes): then no pixel touches the cone without passing one of these tests.

    Parameters
    ----------
    catalog : HatsCatalog
        The catalog.
    ra, dec, radius_deg : numpy.ndarray
        Cone centres and radii (degrees).

    Returns
    -------
    list of set
        Per cone, the partitions (``HealpixPixel``) it touches; empty outside the catalog.
    """
    import astropy.units as u
    import cdshealpix.nested as healpix
    from astropy.coordinates import Latitude, Longitude

    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    n = ra.size
    depth = catalog.depth
    # The octagon whose inscribed circle is the cone: vertices at radius / cos(22.5 deg).
    outer = np.asarray(radius_deg, dtype=float) / np.cos(np.pi / 8)
    angles = np.arange(8) * np.pi / 4
    lon = np.empty((n, 9))
    lat = np.empty((n, 9))
    lon[:, 0], lat[:, 0] = ra, dec
    lon[:, 1:], lat[:, 1:] = _offset(ra[:, None], dec[:, None], outer[:, None], angles[None, :])
    pixels = healpix.lonlat_to_healpix(Longitude(lon.ravel(), u.deg), Latitude(lat.ravel(), u.deg),
                                       depth).reshape(n, 9)
    centre = pixels[:, 0]
    corner_lon, corner_lat = healpix.vertices(centre, depth)
    near = (_separation_deg(ra[:, None], dec[:, None], corner_lon.to_value(u.deg),
                            corner_lat.to_value(u.deg)) <= outer[:, None]).any(axis=1)
    candidates = [set(row) for row in pixels.tolist()]
    if near.any():
        for index, row in zip(np.flatnonzero(near), healpix.neighbours(centre[near], depth).tolist()):
            candidates[index].update(row)
    unique = sorted(set().union(*candidates)) if candidates else []
    partition_of = dict(zip(unique, catalog.partitions(np.array(unique, dtype=np.int64), depth)))
    return [{partition_of[p] for p in row if partition_of[p] is not None} for row in candidates]


@dataclass
class _Entry:
    value: object
    nbytes: int


class PartitionCache:
    """Prepared partitions kept in memory up to a size, least recently used dropped first.

    Parameters
    ----------
    max_bytes : int
        Largest total size kept.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        #: How many partitions were read (a partition read twice counts twice).
        self.reads = 0

    def get(self, key, load):
        """Return the entry of ``key``, made by ``load()`` (which returns ``(value, nbytes)``) if not kept.

        Parameters
        ----------
        key : hashable
            The partition.
        load : callable
            Reads and prepares the partition.

        Returns
        -------
        object
            The prepared partition.
        """
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key].value
        value, nbytes = load()
        self.reads += 1
        self._entries[key] = _Entry(value, int(nbytes))
        self._bytes += int(nbytes)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes
        return value


def _offset(ra, dec, distance, angle):
    # The point at ``distance`` (deg) from (ra, dec) towards position angle ``angle`` (rad, east of north).
    d, r1, d1 = np.radians(distance), np.radians(ra), np.radians(dec)
    sin_d2 = np.sin(d1) * np.cos(d) + np.cos(d1) * np.sin(d) * np.cos(angle)
    d2 = np.arcsin(np.clip(sin_d2, -1.0, 1.0))
    r2 = r1 + np.arctan2(np.sin(angle) * np.sin(d) * np.cos(d1), np.cos(d) - np.sin(d1) * sin_d2)
    return np.degrees(r2) % 360.0, np.degrees(d2)


def _separation_deg(ra1, dec1, ra2, dec2):
    r1, d1, r2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))
