"""Image stamps of detections as a person reads them: one detection's, or every stamped detection of some sources."""

from __future__ import annotations

from typing import Iterable, Iterator

from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.detection import Detection
from virtualobserver.domain.stamps import Stamps
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore

__all__ = ["detection_stamps", "stamped_detections", "StampedDetection"]


def detection_stamps(uow: AbstractUnitOfWork, store: DataStore, config: ProjectConfig, source_name: str,
                     detection_id: int) -> Stamps | None:
    """Return the persisted stamps of one detection of a source, or None when it has none.

    The detection is looked for among the source's real detections at the current analysis version of
    each of the project's surveys (stamps are made for real detections only).

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Where the stamps are.
    config : ProjectConfig
        The project and its current versions.
    source_name : str
        The source.
    detection_id : int
        The detection's id.

    Returns
    -------
    Stamps or None
        None when the project has no such source, the source no such detection, or the detection no
        stamps (its survey has no images of it).

    Raises
    ------
    DataError
        Naming the file, if the record points at stamps that cannot be read.
    """
    source = uow.sources.get_many(config.name, [source_name]).get(source_name)
    if source is None:
        return None
    for survey in config.surveys:
        found = uow.detections.for_sources([source.id], survey.analysis_version).get(source.id, [])
        for detection in found:
            if detection.id == detection_id:
                return _load(store, detection)
    return None


def _load(store: DataStore, detection: Detection) -> Stamps | None:
    file, key = getattr(detection, "stamps_file", None), getattr(detection, "stamps_key", None)
    return store.load_stamps(file, key) if file and key else None


class StampedDetection:
    """A detection with its stamps, for exports and figures.

    Parameters
    ----------
    source : str
        Source name.
    survey, filter : str
        Where the detection was found.
    season : int
        Its season.
    detection : Detection
        The detection (``id``, ``kind``, ``peak_mjd``, ...).
    stamps : Stamps
        Its reference, peak and difference stamps.
    """

    def __init__(self, source: str, survey: str, filter: str | None, season: int | None, detection: Detection,
                 stamps: Stamps):
        self.source, self.survey, self.filter, self.season = source, survey, filter, season
        self.detection, self.stamps = detection, stamps


def stamped_detections(items: Iterable, store: DataStore) -> Iterator[StampedDetection]:
    """Yield the stamped real detections of some sources' products, each with its stamps read.

    Parameters
    ----------
    items : iterable of SourceProducts
        Sources with their labelled detections (:meth:`services.products.Products.sources`).
    store : DataStore
        Where the stamps are.

    Yields
    ------
    StampedDetection
        In the order of the sources, then of peak time; detections without stamps are left out.
    """
    for item in items:
        for row in item.detections:
            stamps = None if row.detection.is_simulated else _load(store, row.detection)
            if stamps is not None:
                yield StampedDetection(row.source, row.survey, row.filter, row.season, row.detection, stamps)
