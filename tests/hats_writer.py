"""Write a small HATS collection from epoch rows, with hats' own tools (for tests and benchmarks).

The layout is HATS's: ``collection.properties`` naming the primary catalog, and in it
``hats.properties``, ``partition_info.csv``, ``dataset/Norder=K/Dir=D/Npix=P.parquet`` (rows sorted
by their ``_healpix_29`` spatial index) and ``dataset/_common_metadata`` / ``_metadata`` (written by
``hats.io.parquet_metadata.write_parquet_metadata``). Partitions are adaptive as in a real catalog:
a pixel holding more than ``max_rows`` rows is split into its four children, down to ``max_order``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hats.catalog import PartitionInfo, TableProperties
from hats.io import paths
from hats.io.parquet_metadata import write_parquet_metadata
from hats.pixel_math import HealpixPixel
from hats.pixel_math.spatial_index import SPATIAL_INDEX_COLUMN, SPATIAL_INDEX_ORDER, compute_spatial_index

__all__ = ["write_hats_collection"]


def write_hats_collection(folder: Path, columns: dict, *, name: str = "ztf_lc", max_rows: int = 20_000,
                          max_order: int = 9, min_order: int = 0, ra_column: str = "ra",
                          dec_column: str = "dec") -> Path:
    """Write ``columns`` (one row per epoch or object, positions in degrees) as a HATS collection.

    Parameters
    ----------
    folder : pathlib.Path
        Collection folder (created).
    columns : dict
        Equal-length columns: numpy arrays (text as numpy strings) or pyarrow arrays (nested columns).
    name : str
        Name of the primary catalog (its sub-folder).
    max_rows, max_order, min_order : int
        Adaptive partitioning: split pixels holding more than ``max_rows`` rows, between these orders.
    ra_column, dec_column : str
        The position columns.

    Returns
    -------
    pathlib.Path
        The collection folder.
    """
    folder = Path(folder)
    catalog_dir = folder / name
    ra, dec = np.asarray(columns[ra_column], float), np.asarray(columns[dec_column], float)
    spatial = compute_spatial_index(ra, dec)
    order_of_rows = np.argsort(spatial, kind="stable")
    table = pa.table({SPATIAL_INDEX_COLUMN: pa.array(spatial[order_of_rows], pa.int64()),
                      **{k: v.take(pa.array(order_of_rows)) if isinstance(v, pa.Array) else
                         pa.array(np.asarray(v)[order_of_rows]) for k, v in columns.items()}})
    spatial = spatial[order_of_rows]
    pixels = []
    for order, pixel, start, stop in _partitions(spatial, min_order, max_order, max_rows):
        partition = HealpixPixel(order, pixel)
        pixels.append(partition)
        target = paths.new_pixel_catalog_file(catalog_dir, partition)
        pq.write_table(table.slice(start, stop - start), str(target))
    PartitionInfo.from_healpix(pixels).write_to_file(catalog_path=catalog_dir)
    TableProperties(catalog_name=name, catalog_type="object", total_rows=len(table), ra_column=ra_column,
                    dec_column=dec_column, healpix_column=SPATIAL_INDEX_COLUMN,
                    healpix_order=SPATIAL_INDEX_ORDER).to_properties_file(catalog_dir)
    write_parquet_metadata(catalog_dir)
    (folder / "collection.properties").write_text(f"obs_collection={name}_collection\n"
                                                  f"hats_primary_table_url={name}\n")
    return folder


def _partitions(spatial: np.ndarray, min_order: int, max_order: int, max_rows: int):
    # Rows are sorted by their order-29 index, so each pixel's rows are one slice; split the crowded ones.
    pending = [(min_order, p) for p in range(12 * 4 ** min_order)]
    while pending:
        order, pixel = pending.pop(0)
        shift = 2 * (SPATIAL_INDEX_ORDER - order)
        start = np.searchsorted(spatial, pixel << shift, side="left")
        stop = np.searchsorted(spatial, (pixel + 1) << shift, side="left")
        if stop == start:
            continue
        if stop - start > max_rows and order < max_order:
            pending.extend((order + 1, 4 * pixel + child) for child in range(4))
            continue
        yield order, pixel, int(start), int(stop)
