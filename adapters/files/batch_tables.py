"""Many small tables in one HDF5 file: concatenated per column layout, addressed by ``name[start:stop]`` keys.

A batch of a run writes one file per level (raw data, lightcurves, epoch scores) instead of one
per source: opening, creating datasets and fsyncing cost far more than the bytes of a
100-epoch table (see benchmarks/results.md). Tables with the same columns and types are
concatenated into one compound dataset ``t<i>``, by default compressed (see :data:`COMPRESSION`);
each table's key is ``t<i>[start:stop]``, its rows there. A key without brackets names a whole dataset, which is how
files of the earlier one-file-per-source layout stay readable.

File names are content hashes, so writing the same batch again (a rerun after a crash) gives
the same file and the same keys, and a different content can never replace a file that
committed records point into.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError

__all__ = ["write_tables", "read_tables", "read_index", "content_name", "content_problem", "to_table", "from_table",
           "h5py_module", "dump_json"]

_SLICE = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<start>\d+):(?P<stop>\d+)\]$")
#: Name of a batch file: ``batch-`` and the content hash of its datasets (see :func:`content_name`).
_BATCH_NAME = re.compile(r"^batch-(?P<hash>[0-9a-f]{24})\.h5$")
#: Bytes per compressed chunk: large enough to compress well (larger chunks gain under 2 %), small
#: enough that reading one source's table decompresses a fraction of a millisecond's worth.
CHUNK_BYTES = 128 * 1024
#: Filters of table datasets (lossless): HDF5's byte shuffle (which puts the same byte of every row
#: together, so the slowly varying high bytes of times, magnitudes and flags run together), then LZ4
#: (filter 32004, one block per chunk). ``hdf5plugin`` registers LZ4 when :func:`h5py_module`
#: imports h5py; other HDF5 tools read the files after ``import hdf5plugin`` (Python) or with
#: ``HDF5_PLUGIN_PATH`` set to its plugins. On reference-workload batches of 100-epoch tables (50 000
#: rows): 0.45-0.51x the bytes for 9-11 ms per table written, against 27-31 ms for LZF after shuffling
#: (0.51-0.53x: h5py's built-in filter, which earlier files use and which still reads), 2-7 ms
#: uncompressed, 12-15 ms for zstd level 1 (0.44-0.50x) and 9-10 ms for bitshuffle with LZ4
#: (0.50-0.56x). Blosc's LZ4 writes in 6-7 ms but fails once netCDF4 (which bundles its own HDF5
#: library) is imported before hdf5plugin, as it is in a Dask worker.
COMPRESSION = {"shuffle": True, "compression": 32004, "compression_opts": (0,)}


def h5py_module():
    """Return h5py with the filters of ``hdf5plugin`` registered, or raise a DataError that says what to install."""
    try:
        import h5py
        import hdf5plugin  # noqa: F401 - registers LZ4 (and other filters) with HDF5 on import
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise DataError(f"h5py and hdf5plugin are required for the HDF5 data store (pip install h5py hdf5plugin): "
                        f"{exc}") from exc
    return h5py


def to_table(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return a structured array of the columns (text as UTF-8 bytes)."""
    return _structured(list(columns), [_encoded(np.asarray(values)) for values in columns.values()])


def _encoded(values: np.ndarray) -> np.ndarray:
    """Return text as UTF-8 bytes (other columns as they are)."""
    if values.dtype.kind not in "UO":
        return values
    text = values.astype(str) if values.dtype.kind == "O" else values
    ascii_bytes = _ascii(text)
    if ascii_bytes is not None:
        return ascii_bytes
    try:
        return text.astype("S")  # ASCII, the usual case: one C pass, the same bytes as UTF-8
    except UnicodeEncodeError:
        return np.char.encode(text, "utf-8")


def _ascii(text: np.ndarray) -> np.ndarray | None:
    # The bytes of text.astype("S") when all code points are ASCII (None otherwise): numpy's string
    # cast goes string by string (about 0.1 µs each), narrowing the UCS-4 code points is one pass.
    width = text.dtype.itemsize // 4
    if text.ndim != 1 or not width or not text.dtype.isnative:
        return None
    codes = np.ascontiguousarray(text).view(np.uint32)
    if codes.size and codes.max() > 127:
        return None
    return codes.astype(np.uint8).view(f"S{width}")


def _structured(names: list[str], arrays: list[np.ndarray]) -> np.ndarray:
    table = np.empty(len(arrays[0]) if arrays else 0, dtype=[(name, a.dtype) for name, a in zip(names, arrays)])
    for name, values in zip(names, arrays):
        table[name] = values
    return table


def from_table(table: np.ndarray) -> dict[str, np.ndarray]:
    """Return the columns of a structured array (UTF-8 bytes decoded to text)."""
    columns = {}
    for name in table.dtype.names:
        values = np.ascontiguousarray(table[name])
        if values.dtype.kind == "S":
            values = np.char.decode(values, "utf-8")
        columns[name] = values
    return columns


@functools.lru_cache(maxsize=256)
def _signature_layout(names: tuple[str, ...], dtypes: tuple[np.dtype, ...]) -> tuple[tuple, tuple]:
    """Return the layout of tables with these column names and types, and their joining key.

    Tables of one layout and one joining key (numeric types exactly, text by kind only) join
    through :func:`_filled`; a layout mixing keys (rare: ``>f8`` and ``<f8``, or bytes and str
    text) through the general :func:`_structured` path.
    """
    layout = tuple((name, "text", 0) if dtype.kind in "UOS" else (name, dtype.kind, dtype.itemsize)
                   for name, dtype in zip(names, dtypes))
    return layout, tuple(dtype.kind if dtype.kind in "UOS" else dtype for dtype in dtypes)


def _grouped(tables: Sequence[Mapping[str, np.ndarray]]) -> dict[tuple, tuple[list[int], set]]:
    """Return the indices of the tables of each layout, in order of first appearance, and their joining keys."""
    groups: dict[tuple, tuple[list[int], set]] = {}
    for i, table in enumerate(tables):
        layout, key = _signature_layout(tuple(table), tuple([np.asarray(v).dtype for v in table.values()]))
        group = groups.get(layout)
        if group is None:
            group = groups[layout] = ([], set())
        group[0].append(i)
        group[1].add(key)
    return groups


def _joined(tables: list[Mapping[str, np.ndarray]], key: tuple | None = None, rows: int | None = None) -> np.ndarray:
    """Return one structured array of tables of one layout, built column by column (not table by table).

    With the tables' joining key (see :func:`_signature_layout`) and total rows, numeric columns
    are concatenated straight into the result; the bytes are the same either way.
    """
    names = list(tables[0])
    if key is None or rows is None or not names:
        return _structured(names, [_encoded(_column(tables, name)) for name in names])
    return _filled(tables, names, key, rows)


def _filled(tables: list[Mapping[str, np.ndarray]], names: list[str], key: tuple, rows: int) -> np.ndarray:
    text = {name: _encoded(_column(tables, name)) for name, kind in zip(names, key) if isinstance(kind, str)}
    table = np.empty(rows, dtype=[(name, text[name].dtype if name in text else _joined_dtype(kind))
                                  for name, kind in zip(names, key)])
    for name in names:
        if name in text:
            table[name] = text[name]
        else:  # no temporary column: np.concatenate writes into the field's strided view
            np.concatenate([t[name] for t in tables], out=table[name])
    return table


@functools.lru_cache(maxsize=64)
def _joined_dtype(dtype: np.dtype) -> np.dtype:
    # What np.concatenate makes of columns of this type (native byte order), as _column would.
    return np.concatenate([np.empty(0, dtype)]).dtype


def _column(tables: list[Mapping[str, np.ndarray]], name: str) -> np.ndarray:
    parts = [np.asarray(t[name]) for t in tables]
    if len({p.dtype.kind == "S" for p in parts if p.dtype.kind in "UOS"}) > 1:
        parts = [_encoded(p) for p in parts]  # bytes and str have no common type: join them as bytes
    return np.concatenate(parts)


def _rows(columns: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def content_name(datasets: Mapping[str, np.ndarray], extra: str = "") -> str:
    """Return a short hash of datasets and extra text: the file name of a batch."""
    digest = hashlib.sha256(extra.encode())
    for name, data in sorted(datasets.items()):
        digest.update(name.encode())
        digest.update(str(data.dtype).encode())
        digest.update(_raw_bytes(data))
    return digest.hexdigest()[:24]


def content_problem(path: Path) -> str | None:
    """Return why a batch file's content does not match the hash in its name, or None if it matches.

    Every dataset is read whole and hashed as :func:`write_tables` hashed it before writing, so
    a flipped byte anywhere in the data (which HDF5 reads without complaint when the chunk is not
    compressed, or when a compressor decodes it into other values) is found. Files whose
    name is not a content hash (the one-file-per-source layout) have nothing to check: None.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str or None
        A one-line reason naming both hashes, or None.

    Raises
    ------
    OSError, KeyError, ValueError
        If the file cannot be read at all (the caller reports that as it reports any unreadable file).
    """
    match = _BATCH_NAME.match(path.name)
    if match is None:
        return None
    h5py = h5py_module()
    datasets = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: datasets.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
                     else None)
    found = content_name({name: np.asarray(data) for name, data in datasets.items()})
    if found != match["hash"]:
        return f"content does not match its name: its datasets hash to {found}, the name says {match['hash']}"
    return None


def _raw_bytes(data: np.ndarray) -> np.ndarray | bytes:
    # The bytes of data.tobytes() without copying them (a batch's datasets are megabytes).
    flat = np.ascontiguousarray(data).reshape(-1)
    try:
        return flat.view(np.uint8)
    except (TypeError, ValueError):  # a type that has no byte view
        return flat.tobytes()


def write_tables(folder: Path, root: Path, tables: Sequence[Mapping[str, np.ndarray]],
                 index: Mapping[str, Sequence] | None = None, images: Mapping[str, np.ndarray] | None = None,
                 compress: bool = True) -> tuple[str, list[str]]:
    """Write tables to one new file in ``folder`` (atomically, one fsync) and return its path and their keys.

    Parameters
    ----------
    folder : pathlib.Path
        Folder relative to ``root``.
    root : pathlib.Path
        The data folder; returned paths are relative to it.
    tables : sequence of mapping
        Columns of each table.
    index : mapping of str to sequence, optional
        Extra per-table columns (e.g. source names, JSON metadata) stored in dataset ``index``, one
        row per table with its key.
    images : mapping of str to numpy.ndarray, optional
        Extra datasets by path inside the file.
    compress : bool
        Compress tables with :data:`COMPRESSION` (lossless): about 0.5x the bytes on disk for
        about 0.15 µs more per row written. False writes them contiguous and
        uncompressed, for tables read far more often than written.

    Returns
    -------
    tuple
        The file's path relative to ``root`` and one key per table.
    """
    datasets, keys = {}, [""] * len(tables)
    for number, (members, joining) in enumerate(_grouped(tables).values()):
        name = f"t{number}"
        start = 0
        for i in members:
            stop = start + _rows(tables[i])
            keys[i] = f"{name}[{start}:{stop}]"
            start = stop
        datasets[name] = _joined([tables[i] for i in members], next(iter(joining)) if len(joining) == 1 else None,
                                 start)
    if index is not None:
        datasets["index"] = to_table({"key": np.array(keys, dtype=str), **{k: np.asarray(v) for k, v in index.items()}})
    for path, image in (images or {}).items():
        datasets[path] = np.asarray(image)
    name = content_name(datasets)
    relative = folder / name[:2] / f"batch-{name}.h5"
    target = root / relative
    if not target.is_file():  # same name, same content: a rewrite would change nothing
        with atomic_path(target) as tmp:
            # No chunk cache: every chunk is written once, whole, so caching it only adds a copy (~10 %).
            with h5py_module().File(tmp, "w", track_order=True, rdcc_nbytes=0) as f:
                for name, data in datasets.items():
                    table = name.startswith("t") and name[1:].isdigit()
                    options = {}
                    if compress and table and data.size:
                        options = {"chunks": (min(data.size, max(1, CHUNK_BYTES // data.itemsize)),),
                                   **COMPRESSION}
                    f.create_dataset(name, data=data, **options)
    return str(relative), keys


def read_tables(root: Path, file: str | None, keys: Sequence[str | None], what: str) -> list[dict[str, np.ndarray]]:
    """Read tables by key from one file, opening it once and reading each dataset at most once.

    Parameters
    ----------
    root : pathlib.Path
        The data folder.
    file : str
        Path relative to ``root``.
    keys : sequence of str
        ``name[start:stop]`` slices, or whole dataset names.
    what : str
        What is read, for messages.

    Returns
    -------
    list of dict
        Columns of each table, in the order of ``keys``.

    Raises
    ------
    DataError
        If the file or a key is missing or unreadable.
    """
    if not file or not all(keys):
        raise DataError(f"{what} has no file on record")
    path = root / file
    parsed = [_parse(key) for key in keys]
    try:
        with h5py_module().File(path, "r") as f:
            wanted: dict[str, list] = {}
            for name, rows in parsed:
                wanted.setdefault(name, []).append(rows)
            data = {}
            for name, slices in wanted.items():
                dataset = f[name]
                if len(slices) == 1 and slices[0] is not None:
                    data[name] = (slices[0], dataset[slices[0][0]:slices[0][1]])
                else:
                    data[name] = (None, dataset[()])
            result = []
            for name, rows in parsed:
                offset, table = data[name]
                if rows is None:
                    result.append(from_table(table))
                elif offset is not None:
                    result.append(from_table(table))
                else:
                    result.append(from_table(table[rows[0]:rows[1]]))
            return result
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{what}: cannot read {path}#{','.join(map(str, keys))}: {exc}") from exc


def read_index(root: Path, file: str, what: str) -> dict[str, np.ndarray]:
    """Read the ``index`` dataset of a batch file (see :func:`write_tables`)."""
    try:
        with h5py_module().File(root / file, "r") as f:
            return from_table(f["index"][()])
    except (OSError, KeyError) as exc:
        raise DataError(f"{what}: cannot read the index of {root / file}: {exc}") from exc


def _parse(key: str) -> tuple[str, tuple[int, int] | None]:
    match = _SLICE.match(key)
    if match is None:
        return key, None
    return match["name"], (int(match["start"]), int(match["stop"]))


def dump_json(value, what: str) -> str:
    """Return ``value`` as strict JSON text, or raise a DataError naming ``what``."""
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: metadata is not plain JSON: {exc}") from exc
