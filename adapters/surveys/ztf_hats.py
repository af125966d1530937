"""VirtualZtfHats: ZTF lightcurves of a whole catalog from a HATS collection, partition by partition.

IRSA publishes the ZTF lightcurves as a HATS-partitioned Parquet collection for
bulk use; its lightcurve API answers one cone per request (10^5 sources take
hours at a polite rate). This client groups a batch's sources by the HEALPix
partitions their cones touch, reads each partition once (only the columns
needed; kept in memory for the next batches up to ``partition_cache_mb``),
finds the epochs inside each cone with a k-d tree, and then keeps the ZTF
objects that match the source exactly as the per-request client does
(:func:`~adapters.surveys.ztf.raw_data_of`), so that both give the same raw data
and lightcurves from the same rows.

Layouts read: the columns of the IRSA answer, one row per epoch (a ZTF object,
``oid``, is in a cone when any of its epochs is; all its epochs within
:data:`EPOCH_MARGIN_ARCSEC` more are read with it, since a partition holds epochs
by their own positions, which scatter by a fraction of an arcsecond); and IRSA's
own collection, one row per object with its epochs nested (:func:`flatten_nested`:
heliocentric times become UTC MJDs; the columns it lacks, chi, sharp, limitmag,
exptime, ..., are absent from the raw data, so their quality cuts do not apply).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Sequence

import numpy as np

from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.hats_partitions import HatsCatalog, PartitionCache, cone_partitions
from virtualobserver.adapters.surveys.ztf import (RAW_COLUMNS, REQUIRED_COLUMNS, VirtualZTF, ZtfParameters,
                                                  raw_data_of)
from virtualobserver.adapters.surveys.ztf_format import ZTF_DTYPES, empty_columns
from virtualobserver.domain.astrometry import mjd_from_heliocentric
from virtualobserver.domain.errors import ConfigError, SurveyError, VOError
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source

__all__ = ["VirtualZtfHats", "EPOCH_MARGIN_ARCSEC", "NESTED_COLUMNS", "flatten_nested"]

log = logging.getLogger(__name__)

#: How far beyond a cone the epochs of an object found in it are still read (arcsec): ZTF's per-epoch
#: positions scatter by ~0.1-0.3 arcsec around the object's, so 5 arcsec keeps every epoch of it.
EPOCH_MARGIN_ARCSEC = 5.0
#: Columns of IRSA's own HATS collection of ZTF lightcurves: one row per object, its epochs nested.
NESTED_COLUMNS = ("objectid", "filterid", "lightcurve")
#: The columns of the IRSA answer that the nested layout gives.
NESTED_EPOCH_COLUMNS = ["oid", "mjd", "mag", "magerr", "catflags", "filtercode", "ra", "dec", "field", "ccdid",
                        "qid"]
_REMOTE = ("http://", "https://", "s3://", "gs://", "az://", "abfs://")


class VirtualZtfHats(VirtualZTF):
    """ZTF photometry of many sources at once, from a HATS collection (a local folder or a URL).

    The survey is still ``ztf`` (same parameters, raw data, reduction and
    lightcurves as :class:`~adapters.surveys.ztf.VirtualZTF`); only where the
    epochs come from differs, so the configuration chooses it with
    ``observatories.ztf.download.access: hats`` and ``hats_path``.

    Parameters
    ----------
    parameters : ZtfParameters
        Download parameters (``access`` 'hats', ``hats_path`` set).
    cache : RawCache, optional
        Unused (nothing is fetched per source); accepted so the container builds both clients alike.
    catalog : HatsCatalog, optional
        An opened catalog (default: opened from ``hats_path`` on first use).
    """

    def __init__(self, parameters: ZtfParameters | None = None, *, cache=None, catalog: HatsCatalog | None = None,
                 **_):
        super().__init__(parameters, cache=cache)
        path = self.parameters.hats_path.strip()
        if catalog is None and not path:
            raise ConfigError("access 'hats' needs hats_path: the folder or URL of a HATS collection of ZTF "
                              "lightcurves", key="hats_path")
        self._path = path
        self._given = catalog
        self._catalog: HatsCatalog | None = None
        self._partitions = PartitionCache(int(self.parameters.partition_cache_mb * 1e6))
        #: Seconds spent reading partitions, and finding epochs in cones (for benchmarks).
        self.timings = {"read": 0.0, "match": 0.0}

    @property
    def waits_on_network(self) -> bool:
        """False: a batch is one call (:meth:`download_many`), not a request per source."""
        return False

    @property
    def partition_reads(self) -> int:
        """How many partitions were read so far (one read twice counts twice)."""
        return self._partitions.reads

    def download(self, source: Source) -> RawData:
        """Return the epochs of the ZTF objects that match ``source`` (see :meth:`download_many`).

        Parameters
        ----------
        source : Source
            Target.

        Returns
        -------
        RawData
            As :meth:`VirtualZTF.download` gives for the same rows.

        Raises
        ------
        SurveyError
            If the collection cannot be read.
        """
        outcome = self.download_many([source])[0]
        if isinstance(outcome, VOError):
            raise outcome
        return outcome

    def download_many(self, sources: Sequence[Source]) -> list:
        """Return the raw data of each source, reading each partition their cones touch once.

        Parameters
        ----------
        sources : sequence of Source
            Targets.

        Returns
        -------
        list
            Per source, in order: its RawData (``meta`` names the collection and the partitions read), or
            the SurveyError that stopped the batch (the collection or a partition could not be read).
        """
        sources = list(sources)
        if not sources:
            return []
        try:
            catalog = self._open()
            cones = [self.cone(source) for source in sources]
            epochs = self._epochs_in_cones(catalog, cones)
        except SurveyError as exc:
            return [exc] * len(sources)
        p = self.parameters
        meta = {"hats_path": self._path or catalog.path, "collection": p.collection}
        return [raw_data_of(self.name, columns, source, cone, p, {**meta, "partitions": parts})
                for source, cone, (columns, parts) in zip(sources, cones, epochs)]

    # -- internals ---------------------------------------------------------------------------------------------

    def _open(self) -> HatsCatalog:
        if self._catalog is None:
            if self._given is None and self.parameters.offline and self._path.startswith(_REMOTE):
                raise OfflineError(f"ztf: the HATS collection {self._path} is remote and offline mode makes no "
                                   "requests")
            catalog = self._given if self._given is not None else HatsCatalog(self._path)
            missing = [c for c in REQUIRED_COLUMNS if c not in catalog.columns]
            nested = [c for c in NESTED_COLUMNS if c not in catalog.columns]
            if missing and nested:
                raise SurveyError(f"{self._path}: not a HATS collection of ZTF lightcurves in the columns of the "
                                  f"IRSA answer (no columns {missing}) nor in IRSA's nested layout (no columns "
                                  f"{nested})")
            self._nested = bool(missing)
            self._wanted = NESTED_EPOCH_COLUMNS if self._nested else [c for c in RAW_COLUMNS if c in catalog.columns]
            self._catalog = catalog
        return self._catalog

    def _epochs_in_cones(self, catalog: HatsCatalog, cones) -> list[tuple[dict, list[str]]]:
        ra = np.array([c.ra for c in cones])
        dec = np.array([c.dec for c in cones])
        radius = np.array([c.radius_deg for c in cones])
        touched = cone_partitions(catalog, ra, dec, radius + EPOCH_MARGIN_ARCSEC / 3600.0)
        by_partition: dict = {}
        for index, partitions in enumerate(touched):
            for partition in partitions:
                by_partition.setdefault(partition, []).append(index)
        wanted = self._wanted
        found: list[list] = [[] for _ in cones]
        for partition in sorted(by_partition, key=lambda p: (p.order, p.pixel)):
            indices = np.array(by_partition[partition])
            table = self._partitions.get(partition, functools.partial(self._prepare, catalog, partition, wanted))
            start = time.perf_counter()
            for index, rows in zip(indices.tolist(), table.rows_in_cones(ra[indices], dec[indices],
                                                                         radius[indices])):
                if rows.size:
                    found[index].append((partition, table, rows))
            self.timings["match"] += time.perf_counter() - start
        results = []
        for parts in found:
            names = [f"Norder={p.order}/Npix={p.pixel}" for p, _, _ in parts]
            if not parts:
                results.append((empty_columns(wanted), names))
            elif len(parts) == 1:
                _, table, rows = parts[0]
                results.append(({name: table.columns[name][rows] for name in wanted}, names))
            else:
                results.append(({name: np.concatenate([t.columns[name][r] for _, t, r in parts]) for name in wanted},
                                names))
        return results

    def _prepare(self, catalog: HatsCatalog, partition, wanted: list[str]):
        start = time.perf_counter()
        if self._nested:
            optional = [c for c in ("fieldid", "rcid") if c in catalog.columns]
            names = [*NESTED_COLUMNS, catalog.ra_column, catalog.dec_column, *optional]
            columns = flatten_nested(catalog.read(partition, names), catalog.ra_column, catalog.dec_column,
                                     str(partition))
        else:
            table = catalog.read(partition, wanted)
            columns = {name: _to_numpy(table.column(name), name) for name in wanted}
        self.timings["read"] += time.perf_counter() - start
        prepared = _EpochTable(columns)
        return prepared, prepared.nbytes


class _EpochTable:
    """One partition's epochs, with a k-d tree of their positions and their rows grouped by object."""

    def __init__(self, columns: dict[str, np.ndarray]):
        from scipy.spatial import cKDTree

        self.columns = columns
        ra, dec = np.radians(columns["ra"].astype(float)), np.radians(columns["dec"].astype(float))
        finite = np.isfinite(ra) & np.isfinite(dec)
        self._positioned = np.flatnonzero(finite)
        xyz = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])[finite]
        self._tree = cKDTree(xyz)
        oid = columns["oid"]
        # Rows of one object are contiguous in this order, each object's in the partition's own order.
        self._by_oid = np.argsort(oid, kind="stable")
        self._sorted_oid = oid[self._by_oid]
        self.nbytes = sum(c.nbytes for c in columns.values()) + xyz.nbytes + 2 * self._by_oid.nbytes

    def rows_in_cones(self, ra: np.ndarray, dec: np.ndarray, radius_deg: np.ndarray) -> list[np.ndarray]:
        """Return per cone the rows (ascending) of every object with an epoch inside it."""
        r, d = np.radians(ra), np.radians(dec)
        centres = np.column_stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
        chords = 2.0 * np.sin(np.radians(radius_deg) / 2.0)
        out = []
        for hits in self._tree.query_ball_point(centres, chords):
            if not hits:
                out.append(np.zeros(0, dtype=np.int64))
                continue
            oids = np.unique(self.columns["oid"][self._positioned[hits]])
            first = np.searchsorted(self._sorted_oid, oids, side="left")
            last = np.searchsorted(self._sorted_oid, oids, side="right")
            rows = np.concatenate([self._by_oid[a:b] for a, b in zip(first, last)])
            out.append(np.sort(rows))
        return out


def flatten_nested(table, ra_column: str, dec_column: str, where: str) -> dict[str, np.ndarray]:
    """Return the epochs of a partition in IRSA's nested layout as rows in the columns of the IRSA answer.

    One row per ZTF object (``objectid``, ``filterid``, its position, ``fieldid``, ``rcid``) with its
    epochs in ``lightcurve`` (a struct of lists, as nested-pandas writes, or a list of structs):
    ``hmjd`` (heliocentric) becomes ``mjd`` (UTC, :func:`~domain.astrometry.mjd_from_heliocentric` at the
    object's position), ``rcid`` becomes ``ccdid`` and ``qid`` (rcid = 4 (ccdid - 1) + qid - 1), and
    every epoch takes the object's position as its ``ra``, ``dec``.

    Parameters
    ----------
    table : pyarrow.Table
        The partition's rows.
    ra_column, dec_column : str
        The catalog's position columns (``objra``, ``objdec`` at IRSA).
    where : str
        The partition, for messages.

    Returns
    -------
    dict of str to numpy.ndarray
        Columns of :data:`NESTED_EPOCH_COLUMNS`.

    Raises
    ------
    SurveyError
        If ``lightcurve`` lacks ``hmjd``, ``mag``, ``magerr`` or ``catflags``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    lightcurve = table.column("lightcurve").combine_chunks()
    if pa.types.is_struct(lightcurve.type):
        names = [f.name for f in lightcurve.type]
        lists = {name: lightcurve.field(i) for i, name in enumerate(names)}
        lengths = pc.fill_null(pc.list_value_length(lists[names[0]]), 0) if names else None
        values = {name: array.flatten() for name, array in lists.items()}
    else:
        inner = lightcurve.flatten()
        names = [f.name for f in inner.type]
        lengths = pc.fill_null(pc.list_value_length(lightcurve), 0)
        values = {name: inner.field(i) for i, name in enumerate(names)}
    missing = [c for c in ("hmjd", "mag", "magerr", "catflags") if c not in values]
    if missing:
        raise SurveyError(f"{where}: the nested lightcurve column has no fields {missing}")
    lengths = np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
    per_object = {name: np.repeat(_to_numpy(table.column(column), name), lengths) for name, column in
                  (("oid", "objectid"), ("ra", ra_column), ("dec", dec_column))}
    filterid = np.repeat(np.asarray(table.column("filterid").to_numpy(zero_copy_only=False)), lengths)
    columns = {
        "oid": per_object["oid"],
        "mjd": mjd_from_heliocentric(_to_numpy(values["hmjd"], "mjd"), per_object["ra"], per_object["dec"]),
        "mag": _to_numpy(values["mag"], "mag"), "magerr": _to_numpy(values["magerr"], "magerr"),
        "catflags": _to_numpy(values["catflags"], "catflags"),
        "filtercode": np.array(["zg", "zr", "zi", ""])[np.where((filterid >= 1) & (filterid <= 3), filterid - 1, 3)],
        "ra": per_object["ra"], "dec": per_object["dec"],
    }
    if "fieldid" in table.column_names:
        columns["field"] = np.repeat(_to_numpy(table.column("fieldid"), "field"), lengths)
    if "rcid" in table.column_names:
        rcid = np.repeat(_to_numpy(table.column("rcid"), "ccdid"), lengths)
        columns["ccdid"], columns["qid"] = rcid // 4 + 1, rcid % 4 + 1
    return columns


def _to_numpy(column, name: str) -> np.ndarray:
    # The per-request client's types (ztf_format.ZTF_DTYPES): integer columns with nulls become float64 + NaN.
    dtype = ZTF_DTYPES.get(name, "float64")
    if dtype == "str":
        values = column.to_pylist()
        return np.array(["" if v is None else str(v) for v in values], dtype=str) if values else np.zeros(0, "U2")
    if column.null_count:
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype="float64")
        if name == "catflags":
            # Bit 15 of a 16-bit bit mask stored signed reads as a negative number: take it as the bits it is.
            values = np.where(values < 0, values + 65536.0, values)
        return values
    values = np.asarray(column.to_numpy(zero_copy_only=False))
    if name == "catflags" and values.dtype.kind == "i" and values.dtype.itemsize < 8:
        values = values.view(values.dtype.str.replace("i", "u"))
    return values.astype(dtype, copy=False)
