"""Stamps of a detection computed on the fly from its source's raw data (reference, peak, difference).

TEMPORARY (branch ``demo-tui``): the persisted stamps of each detection (issue 17, part 3) replace
this at merge; :meth:`services.browsing.BrowsingMixin.detection_stamps` keeps its name and signature.
"""

from __future__ import annotations

from domain.stamps import Stamps, event_stamps
from services.ports import AbstractUnitOfWork, DataStore, SurveyClient
from services.stages import lightcurves_of

__all__ = ["stamps_on_the_fly"]


def stamps_on_the_fly(uow_factory, store: DataStore, project: str, surveys: list,
                      clients: dict[str, SurveyClient], source_name: str, detection_id: int) -> Stamps | None:
    """Return the stamps of a real detection, made from the raw data of its source, or None.

    Parameters
    ----------
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Raw arrays.
    project : str
        Project name.
    surveys : list of SurveyConfig
        The project's surveys (the detection is looked for in each survey with images).
    clients : dict
        Survey name -> client (:meth:`SurveyClient.pixel_cubes`).
    source_name : str
        Source of the detection.
    detection_id : int
        Id of a detection of the current analysis version.

    Returns
    -------
    Stamps or None
        None when the detection is not found (or is simulated: the injected flux is in no image), its
        survey has no images of its lightcurve, or the cube has too few frames around the event.

    Raises
    ------
    VOError
        If the raw data cannot be read.
    """
    for survey in surveys:
        client = clients[survey.name]
        if not client.has_images:
            continue
        with uow_factory() as uow:
            found = _find(uow, project, survey, source_name, detection_id)
        if found is None:
            continue
        detection, lightcurve, raw = found
        if raw is None:
            return None
        cube, bad_bits = client.pixel_cubes(store.load_raw(raw)).get((lightcurve.filter, lightcurve.season), (None, 0))
        if cube is None:
            return None
        return event_stamps(cube, detection.start_mjd, detection.end_mjd, detection.peak_mjd, bad_bits)
    return None


def _find(uow: AbstractUnitOfWork, project: str, survey, source_name: str, detection_id: int):
    source = uow.sources.get_many(project, [source_name]).get(source_name)
    if source is None:
        return None
    detections = uow.detections.for_sources([source.id], survey.analysis_version).get(source.id, [])
    detection = next((d for d in detections if d.id == detection_id and not d.is_simulated), None)
    if detection is None:
        return None
    lightcurve = next((lc for lc in lightcurves_of(uow, survey, [source])[source.id]
                       if lc.id == detection.lightcurve_id), None)
    if lightcurve is None:
        return None
    raw = uow.raw_data.get_many(survey.name, survey.download_version, [source_name]).get(source_name)
    return detection, lightcurve, raw
