"""Image stamps of a batch's detections in one HDF5 file: one dataset per detection, an index of what each is.

Layout of ``stamps/<project>/<version>/batches/<xx>/batch-<hash>.h5``::

    s<j>     float32 (n, 3, rows, cols): reference, peak and difference stamps of the n detections whose
             images have the j-th shape of the batch; a detection's key is ``s<j>[i:i+1]``
    index    one row per detection: key, source name, filter, season, the detection's peak time, the peak
             frame's time, its time scale, reference frames, target pixel, pixel scale, WCS (JSON cards)

The file is named by the hash of its content (:func:`adapters.files.batch_tables.content_name`), as the
batch files of raw data and lightcurves are: a batch analysed again after a crash writes the same file,
and ``vo doctor`` finds a changed byte. A detection's key is its dataset's name, so the doctor's check of
a record's keys reads exactly its stamps. One dataset per image shape, not per detection: creating an HDF5
dataset costs about a millisecond, the stamps of a detection a few kilobytes. float32 holds the images at
the precision of the pixel files (Kepler, K2 and TESS store float32 fluxes).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from virtualobserver.adapters.files.batch_tables import content_name, from_table, h5py_module, to_table
from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.naming import safe_key
from virtualobserver.domain.stamps import Stamps

__all__ = ["write_stamps", "read_stamps", "STAMP_PLANES"]

#: Order of the planes of a stamps dataset.
STAMP_PLANES = ("reference", "peak", "difference")
_KEY = re.compile(r"^(?P<name>s\d+)\[(?P<start>\d+):(?P<stop>\d+)\]$")


def write_stamps(root: Path, project: str, version: str, items: Sequence[tuple[str, str, int, float, Stamps]]
                 ) -> tuple[str | None, list[str]]:
    """Write the stamps of a batch's detections to one new file (atomically) and return it and their keys.

    Parameters
    ----------
    root : pathlib.Path
        The data folder; the returned path is relative to it.
    project, version : str
        Project and analysis version the detections belong to.
    items : sequence of tuple
        ``(source name, filter, season, detection peak time, Stamps)`` per detection.

    Returns
    -------
    tuple
        The file (None when ``items`` is empty) and one key per item.

    Raises
    ------
    DataError
        If a WCS card is not plain JSON.
    """
    if not items:
        return None, []
    shapes: dict[tuple[int, int], list[int]] = {}
    for i, (*_, stamps) in enumerate(items):
        shapes.setdefault(stamps.shape, []).append(i)
    keys, datasets = [""] * len(items), {}
    for number, members in enumerate(shapes.values()):
        datasets[f"s{number}"] = np.stack([np.stack([items[i][-1].reference, items[i][-1].peak,
                                                     items[i][-1].difference]) for i in members]).astype(np.float32)
        for row, i in enumerate(members):
            keys[i] = f"s{number}[{row}:{row + 1}]"
    datasets["index"] = to_table(_index(keys, items))
    name = content_name(datasets)
    relative = Path("stamps") / safe_key(project, max_length=32) / version / "batches" / name[:2] / f"batch-{name}.h5"
    target = root / relative
    if not target.is_file():  # same name, same content: a rewrite would change nothing
        with atomic_path(target) as tmp:
            with h5py_module().File(tmp, "w", track_order=True) as f:
                for key, data in datasets.items():
                    f.create_dataset(key, data=data)
    return str(relative), keys


def _index(keys: list[str], items) -> dict[str, np.ndarray]:
    def number(value) -> float:
        return float("nan") if value is None else float(value)

    stamps = [s for *_, s in items]
    rows = [s.target_pixel or (None, None) for s in stamps]
    return {
        "key": np.array(keys, dtype=str),
        "source_name": np.array([str(source) for source, *_ in items], dtype=str),
        "filter": np.array([str(band) for _, band, *_ in items], dtype=str),
        "season": np.array([int(season) for _, _, season, *_ in items], dtype=np.int64),
        "detection_peak": np.array([float(peak) for *_, peak, _ in items], dtype=np.float64),
        "peak_time": np.array([s.peak_time for s in stamps], dtype=np.float64),
        "time_scale": np.array([s.time_scale or "" for s in stamps], dtype=str),
        "reference_frames": np.array([s.reference_frames for s in stamps], dtype=np.int64),
        "target_row": np.array([number(r) for r, _ in rows], dtype=np.float64),
        "target_col": np.array([number(c) for _, c in rows], dtype=np.float64),
        "pixel_scale_arcsec": np.array([number(s.pixel_scale_arcsec) for s in stamps], dtype=np.float64),
        "wcs": np.array([_wcs_json(s.wcs_header, source) for (source, *_), s in zip(items, stamps)], dtype=str),
    }


def _wcs_json(cards: dict | None, source: str) -> str:
    try:
        return json.dumps(cards or {}, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"stamps of {source!r}: WCS cards are not plain JSON: {exc}") from exc


def read_stamps(root: Path, file: str, key: str) -> Stamps:
    """Read one detection's stamps.

    Parameters
    ----------
    root : pathlib.Path
        The data folder.
    file, key : str
        As :func:`write_stamps` returned them.

    Returns
    -------
    Stamps
        With the target pixel, pixel scale, WCS and time scale stored beside them.

    Raises
    ------
    DataError
        Naming the file and key, if either is missing or unreadable.
    """
    path = root / file
    match = _KEY.match(key or "")
    if match is None:
        raise DataError(f"stamps: {path}#{key} is not a stamps key (s<j>[i:i+1])")
    try:
        with h5py_module().File(path, "r") as f:
            planes = np.asarray(f[match["name"]][int(match["start"]):int(match["stop"])], dtype=np.float64)
            index = from_table(f["index"][()])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"stamps: cannot read {path}#{key}: {exc}") from exc
    rows = np.flatnonzero(index["key"] == key)
    if planes.shape[:2] != (1, len(STAMP_PLANES)) or planes.ndim != 4 or rows.size != 1:
        raise DataError(f"stamps: {path}#{key} is not a stamps dataset of this layout (shape {planes.shape})")
    planes, row = planes[0], int(rows[0])

    def optional(column: str) -> float | None:
        value = float(index[column][row])
        return value if math.isfinite(value) else None

    target = (optional("target_row"), optional("target_col"))
    return Stamps(reference=planes[0], peak=planes[1], difference=planes[2], peak_time=float(index["peak_time"][row]),
                  reference_frames=int(index["reference_frames"][row]),
                  target_pixel=target if None not in target else None,
                  pixel_scale_arcsec=optional("pixel_scale_arcsec"),
                  wcs_header=json.loads(str(index["wcs"][row])) or None,
                  time_scale=str(index["time_scale"][row]) or None)
