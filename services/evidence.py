"""Pixel evidence of detections fetched after the search: ``vo evidence``.

A lightcurve that came without images (a SPOC or Kepler lightcurve file, a ZTF lightcurve) gets its
detections' evidence here, once: for each real detection of the current analysis version without a
centroid shift or stamps, the survey's :class:`~services.evidence_ports.EventPixelsSource` fetches the
images around the event only (the target pixel file of its season, the ZTF exposures of a few weeks),
and the centroid shift and the stamps are stored on the detection. One source is one transaction: a
run killed at any moment keeps the sources it finished and redoes at most one (its stamps file is named
by its content, so it is the same file again), and a second run asks nothing of the detections done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.evidence import measure_event
from virtualobserver.services.evidence_ports import EventPixelsSource
from virtualobserver.services.pixel_evidence import link_stamps
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore, NullProgress, ProgressSink

__all__ = ["EvidenceReport", "gather_evidence", "needs_evidence"]

logger = logging.getLogger(__name__)


@dataclass
class EvidenceReport:
    """What one ``gather_evidence`` call did.

    Attributes
    ----------
    measured : int
        Detections that got a centroid shift.
    stamped : int
        Detections that got stamps.
    without_pixels : int
        Detections whose survey has no images of the event (left as they were; asked again next time).
    done_before : int
        Detections that had their evidence already (nothing asked).
    failed : dict
        Source name -> one-line reason (the archive failed; the source is asked again next time).
    """

    measured: int = 0
    stamped: int = 0
    without_pixels: int = 0
    done_before: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return the counts as a JSON-able dict."""
        return {"measured": self.measured, "stamped": self.stamped, "without_pixels": self.without_pixels,
                "done_before": self.done_before, "failed": dict(self.failed)}


def needs_evidence(detection) -> bool:
    """Return whether a detection has neither stamps nor a centroid shift yet."""
    return getattr(detection, "stamps_file", None) is None and getattr(detection, "centroid_offset_sigma", None) is None


def gather_evidence(uow_factory: Callable[[], AbstractUnitOfWork], store: DataStore, config: ProjectConfig,
                    pixel_sources: Mapping[str, EventPixelsSource], names: Sequence[str] | None = None,
                    limit: int | None = None, redo: bool = False,
                    progress: ProgressSink | None = None) -> EvidenceReport:
    """Fetch the images around the real detections that lack evidence, and store their centroid shift and stamps.

    Parameters
    ----------
    uow_factory : callable
        Makes a unit of work (one per source).
    store : DataStore
        Receives the stamps.
    config : ProjectConfig
        The project and its current versions.
    pixel_sources : mapping
        Survey name -> where its event images come from; surveys without one are skipped.
    names : sequence of str, optional
        Only these sources (all the project's sources with detections by default).
    limit : int, optional
        At most this many sources (in name order).
    redo : bool
        Measure detections that already have evidence again.
    progress : ProgressSink, optional
        Told of each source done (stage ``<survey>:evidence``).

    Returns
    -------
    EvidenceReport

    Raises
    ------
    DataError
        If ``names`` holds a name the project does not have.
    """
    progress = progress or NullProgress()
    if names is not None:  # an unknown name is an error even when no survey has images
        _check_names(uow_factory, config, names)
    report = EvidenceReport()
    for survey in config.surveys:
        pixels = pixel_sources.get(survey.name)
        if pixels is None:
            continue
        chosen = _sources_with_detections(uow_factory, config, survey, names, limit)
        stage = f"{survey.name}:evidence"
        progress.start(stage, len(chosen))
        for source_id, name in chosen:
            failed = len(report.failed)
            with uow_factory() as uow:
                _one_source(uow, store, config, survey, pixels, source_id, name, redo, report)
            progress.advance(stage, failed=len(report.failed) - failed)
        progress.finish(stage)
    return report


def _check_names(uow_factory, config: ProjectConfig, names: Sequence[str]) -> None:
    with uow_factory() as uow:
        found = uow.sources.get_many(config.name, list(names))
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise DataError(f"no source named {', '.join(map(repr, unknown))} in project {config.name!r}")


def _sources_with_detections(uow_factory, config: ProjectConfig, survey, names, limit) -> list[tuple[int, str]]:
    """Return ``(id, name)`` of the chosen sources that have real detections at the analysis version, by name."""
    with uow_factory() as uow:
        if names is not None:
            found = uow.sources.get_many(config.name, list(names))
            unknown = sorted(set(names) - set(found))
            if unknown:
                raise DataError(f"no source named {', '.join(map(repr, unknown))} in project {config.name!r}")
            ids = {s.id: s.name for s in found.values()}
        else:
            ids = {s.id: s.name for s in uow.sources.list(config.name)}
        with_detections = uow.detections.for_sources(list(ids), survey.analysis_version)
    chosen = sorted(((i, ids[i]) for i in with_detections if with_detections[i]), key=lambda item: item[1])
    return chosen[:limit] if limit is not None else chosen


def _one_source(uow: AbstractUnitOfWork, store: DataStore, config: ProjectConfig, survey, pixels: EventPixelsSource,
                source_id: int, name: str, redo: bool, report: EvidenceReport) -> None:
    """Measure one source's detections and commit them with their stamps (nothing on an archive failure)."""
    detections = uow.detections.for_sources([source_id], survey.analysis_version).get(source_id, [])
    todo = [d for d in detections if redo or needs_evidence(d)]
    report.done_before += len(detections) - len(todo)
    if not todo:
        return
    source = uow.sources.get_many(config.name, [name])[name]
    lightcurves = {lc.id: lc for lc in uow.lightcurves.for_sources([source_id], survey.name,
                                                                    survey.reduction_version).get(source_id, [])}
    stamped, measured, without = [], 0, 0
    for detection in todo:
        lc = lightcurves.get(detection.lightcurve_id)
        if lc is None:
            without += 1
            continue
        try:
            event = pixels.event_pixels(source, lc.filter, lc.season, detection.start_mjd, detection.end_mjd)
        except (SurveyError, DataError) as exc:
            report.failed[source.name] = str(exc).splitlines()[0]
            logger.warning("%s: no pixel evidence this time: %s", source.name, exc)
            return  # nothing of this source is committed: its next call asks again
        if event is None:
            without += 1
            continue
        shift, stamps = measure_event(event, detection.start_mjd, detection.end_mjd, detection.peak_mjd)
        if shift is not None:
            detection.set_centroid_shift(shift)
            measured += 1
        if stamps is not None:
            stamps.time_scale = lc.time_scale
            stamped.append((detection, (source.name, lc.filter, lc.season, detection.peak_mjd, stamps)))
    link_stamps(store, config.name, survey.analysis_version, stamped)
    uow.detections.add_many(todo)
    uow.commit()
    report.measured += measured
    report.stamped += len(stamped)
    report.without_pixels += without
