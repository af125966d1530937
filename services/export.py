"""Export tables of a project's products (detections, injections, summaries) as rows."""

from __future__ import annotations

from virtualobserver.services.ports import AbstractUnitOfWork

__all__ = ["detection_rows", "injection_rows", "summary_rows", "EXPORTS"]

_DETECTION_FIELDS = ("kind", "peak_mjd", "start_mjd", "end_mjd", "snr", "peak_flux", "delta_mag", "baseline_flux",
                     "num_epochs", "filter_width", "first_epoch", "last_epoch")
_INJECTION_FIELDS = ("sequence", "kind", "peak_mjd", "start_mjd", "end_mjd", "amplitude", "snr_amplitude",
                     "width", "u0", "recovered")


def _names_and_lightcurves(uow: AbstractUnitOfWork, project: str, survey, source_ids):
    sources = {s.id: s.name for s in uow.sources.list(project)}
    lightcurves = uow.lightcurves.for_sources(sorted(set(source_ids)), survey.name, survey.reduction_version)
    by_id = {lc.id: lc for lcs in lightcurves.values() for lc in lcs}
    return sources, by_id


def detection_rows(uow: AbstractUnitOfWork, project: str, survey, *, include_simulated: bool = False) -> list[dict]:
    """Return one row per detection of the current analysis version (simulated ones only if asked).

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    project : str
        Project name.
    survey : SurveyConfig
        Survey and versions.
    include_simulated : bool
        Add the simulated detections of the current simulation version, marked ``is_simulated``.

    Returns
    -------
    list of dict
        Source name, filter, season, lightcurve file and key (the data to judge it), the detection's fields
        and its triage ``label`` (``real``, ``artifact``, ``unsure``; empty when not judged).
    """
    detections = uow.detections.list(project, survey.analysis_version)
    if include_simulated:
        detections += uow.detections.list(project, survey.simulation_version, include_simulated=True)
    names, lightcurves = _names_and_lightcurves(uow, project, survey, [d.source_id for d in detections])
    labels = uow.triage.labels([d.id for d in detections])
    rows = []
    for d in detections:
        lc = lightcurves.get(d.lightcurve_id)
        rows.append({
            "source": names.get(d.source_id), "survey": survey.name,
            "filter": lc.filter if lc else None, "season": lc.season if lc else None,
            **{f: getattr(d, f) for f in _DETECTION_FIELDS},
            "is_simulated": d.is_simulated, "label": labels.get(d.id, ""), "version": d.version,
            "file": lc.file if lc else None, "key": lc.key if lc else None,
        })
    return rows


def injection_rows(uow: AbstractUnitOfWork, project: str, survey) -> list[dict]:
    """Return one row per injection of the current simulation version (the truth and its outcome)."""
    injections = uow.injections.list(project, survey.simulation_version)
    names, lightcurves = _names_and_lightcurves(uow, project, survey, [i.source_id for i in injections])
    rows = []
    for i in injections:
        lc = lightcurves.get(i.lightcurve_id)
        rows.append({"source": names.get(i.source_id), "survey": survey.name,
                     "filter": lc.filter if lc else None, "season": lc.season if lc else None,
                     **{f: getattr(i, f) for f in _INJECTION_FIELDS}})
    return rows


def summary_rows(uow: AbstractUnitOfWork, project: str, survey) -> list[dict]:
    """Return one row per source summary of the current analysis version, best S/N first."""
    return [{"source": name, **summary.as_dict()}
            for name, summary in uow.summaries.list(project, survey.name, survey.analysis_version)]


#: What ``vo export`` can write, by name.
EXPORTS = {"detections": detection_rows, "injections": injection_rows, "summaries": summary_rows}
