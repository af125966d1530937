"""Pixel evidence of detections: the centroid shift of each event and its image stamps, from the survey's images."""

from __future__ import annotations

import logging
from typing import Sequence

from virtualobserver.domain.centroid_shift import event_centroid_shift
from virtualobserver.domain.stamps import event_stamps
from virtualobserver.domain.errors import VOError
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore, SurveyClient

__all__ = ["link_stamps", "measure_pixel_evidence"]

logger = logging.getLogger(__name__)


def measure_pixel_evidence(uow: AbstractUnitOfWork, store: DataStore, client: SurveyClient, survey, project: str,
                           analysed: Sequence[tuple[Source, list]], carried: dict | None = None) -> int:
    """Set the centroid shift and the image stamps on every detection whose lightcurve was made from images.

    Only sources with detections have their raw data loaded (from ``carried`` when the batch's download
    step left it in memory). The stamps of the batch go to one file of the data store, written here,
    before the caller commits the detections that point at it (a batch redone after a crash writes the
    same file again). A source whose raw data cannot be read keeps its detections without the evidence:
    the evidence is an addition to a detection, never a reason to lose it.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Raw arrays; receives the stamps.
    client : SurveyClient
        The survey's client (:meth:`SurveyClient.pixel_cubes`).
    survey : SurveyConfig
        The survey's name, download and analysis versions.
    project : str
        Project name (the stamps are the project's products).
    analysed : sequence of (Source, list)
        Each source and the analysis of each of its lightcurves (``lightcurve`` and ``detections``).
    carried : dict, optional
        Source name -> loaded RawData of this batch.

    Returns
    -------
    int
        Detections measured.
    """
    wanted = [(source, results) for source, results in analysed if any(r.detections for r in results)]
    if not wanted or not client.has_images:
        return 0
    carried = carried or {}
    raws = {s.name: carried[s.name] for s, _ in wanted if s.name in carried and carried[s.name].is_loaded}
    missing = [s.name for s, _ in wanted if s.name not in raws]
    if missing:
        raws.update(_loaded(store, uow.raw_data.get_many(survey.name, survey.download_version, missing)))
    measured, stamped = 0, []
    for source, results in wanted:
        raw = raws.get(source.name)
        cubes = client.pixel_cubes(raw) if raw is not None else {}
        for result in results:
            lc = result.lightcurve
            cube, bad_bits = cubes.get((lc.filter, lc.season), (None, 0))
            if cube is None:
                continue
            for detection in result.detections:
                shift = event_centroid_shift(cube, detection.start_mjd, detection.end_mjd, bad_bits)
                if shift is not None:
                    detection.set_centroid_shift(shift)
                    measured += 1
                if detection.is_simulated:
                    continue  # evidence images are for the detections a person vets
                stamps = event_stamps(cube, detection.start_mjd, detection.end_mjd, detection.peak_mjd, bad_bits)
                if stamps is not None:
                    stamps.time_scale = getattr(lc, "time_scale", None)
                    stamped.append((detection, (source.name, lc.filter, lc.season, detection.peak_mjd, stamps)))
    link_stamps(store, project, survey.analysis_version, stamped)
    return measured


def link_stamps(store: DataStore, project: str, version: str, stamped: Sequence[tuple]) -> None:
    """Write detections' stamps to one file of the store and point each detection at its own.

    Written before the commit that records the detections; the same stamps give the same file again
    (a batch redone after a crash).

    Parameters
    ----------
    store : DataStore
        Receives the stamps.
    project, version : str
        Project and analysis version of the detections.
    stamped : sequence of (Detection, tuple)
        Each detection with its ``(source name, filter, season, peak time, Stamps)``; nothing is written
        when empty.
    """
    if not stamped:
        return
    file, keys = store.save_stamps_many(project, version, [item for _, item in stamped])
    for (detection, _), key in zip(stamped, keys):
        detection.stamps_file, detection.stamps_key = file, key


def _loaded(store: DataStore, records: dict) -> dict:
    """Load raw records (one read per file when they can all be read), leaving out those that cannot be."""
    todo = [raw for raw in records.values() if not raw.is_loaded]
    try:
        store.load_raw_many(todo)
        return records
    except VOError:
        readable = {}
        for name, raw in records.items():
            try:
                readable[name] = raw if raw.is_loaded else store.load_raw(raw)
            except VOError as exc:
                logger.warning("%s: no pixel evidence (raw data unreadable: %s)", name, exc)
        return readable
