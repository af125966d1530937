"""The project's status: counts at the current versions, for the sources the configuration selects and for all.

A project keeps every source it ever registered (an earlier, wider selection or another catalog
left theirs), so a count over the project is not a count over the selection. The status gives
both: the top-level counts (and ``surveys``) are over every source in the project, ``selected``
over the catalog rows the configuration selects now.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from virtualobserver.domain.config import ProjectConfig
from virtualobserver.services.ports import AbstractUnitOfWork, batched
from virtualobserver.services.simulate import SIMULATE
from virtualobserver.services.stages import ANALYSE, DOWNLOAD, REDUCE

__all__ = ["project_status", "selected_counts", "COUNTS"]

#: Per-survey counts, and what each counts.
COUNTS = {
    "downloaded": "sources with raw data",
    "reduced": "sources reduced",
    "analysed": "sources analysed",
    "simulated": "sources simulated",
    "lightcurves": "lightcurves",
    "detections": "detections (real)",
    "detections_simulated": "simulated detections",
    "injections": "injected events",
}
_BATCH = 1000


def project_status(config: ProjectConfig, uow_factory: Callable[[], AbstractUnitOfWork],
                   selected: Sequence[str] | None = None) -> dict:
    """Return counts of the project's products at the current versions, over all sources and the selected ones.

    Parameters
    ----------
    config : ProjectConfig
        The configuration (project and current versions).
    uow_factory : callable
        Returns a new unit of work.
    selected : sequence of str, optional
        Names of the sources the configuration selects (None: not known, ``selected`` is None).

    Returns
    -------
    dict
        ``project``, ``sources`` (all in the project), the :data:`COUNTS` summed over surveys,
        ``failed`` (current failures: source and step), ``surveys`` (per survey, with the versions),
        ``failures`` (the first 20) and ``selected`` (:func:`selected_counts`, or None).
    """
    name = config.name
    with uow_factory() as uow:
        per_survey = {}
        for survey in config.surveys:
            per_survey[survey.name] = {
                "downloaded": uow.raw_data.count_for_project(name, survey.name, survey.download_version),
                "reduced": uow.steps.count_done(name, REDUCE, survey.name, survey.reduction_version),
                "analysed": uow.steps.count_done(name, ANALYSE, survey.name, survey.analysis_version),
                "lightcurves": uow.lightcurves.count(name, survey.reduction_version),
                "detections": uow.detections.count(name, survey.analysis_version),
                "detections_simulated": uow.detections.count(name, survey.simulation_version,
                                                             include_simulated=True),
                "simulated": uow.steps.count_done(name, SIMULATE, survey.name, survey.simulation_version),
                "injections": uow.injections.count(name, survey.simulation_version),
                "versions": {"download": survey.download_version, "reduction": survey.reduction_version,
                             "analysis": survey.analysis_version, "simulation": survey.simulation_version},
            }
        failures = current_failures(config, uow)
        totals = {key: sum(s[key] for s in per_survey.values()) for key in COUNTS}
        status = {"project": name, "sources": uow.sources.count(name), **totals, "failed": len(failures),
                  "surveys": per_survey, "failures": failures[:20]}
        status["selected"] = None if selected is None else selected_counts(config, uow, selected, failures)
        return status


def selected_counts(config: ProjectConfig, uow: AbstractUnitOfWork, names: Sequence[str],
                    failures: Sequence[dict]) -> dict:
    """Return the counts of :data:`COUNTS` over the selected sources, a batch of names at a time.

    Parameters
    ----------
    config : ProjectConfig
        The configuration.
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    names : sequence of str
        The selected sources' names.
    failures : sequence of dict
        The project's current failures (``source``, ``stage``...).

    Returns
    -------
    dict
        ``sources`` (selected catalog rows), ``registered`` (of them, in the project), the
        :data:`COUNTS` summed over surveys, ``failed`` and ``surveys`` (per survey counts).
    """
    per_survey = {survey.name: Counter({key: 0 for key in COUNTS}) for survey in config.surveys}
    registered = 0
    for batch in batched(list(names), _BATCH):
        found = uow.sources.get_many(config.name, batch)
        ids = [source.id for source in found.values()]
        registered += len(ids)
        if not ids:
            continue
        for survey in config.surveys:
            counts = per_survey[survey.name]
            counts["downloaded"] += len(uow.raw_data.get_many(survey.name, survey.download_version, list(found)))
            for key, stage, version in (("reduced", REDUCE, survey.reduction_version),
                                        ("analysed", ANALYSE, survey.analysis_version),
                                        ("simulated", SIMULATE, survey.simulation_version)):
                counts[key] += len(uow.steps.done(stage, survey.name, version, ids))
            counts["lightcurves"] += uow.lightcurves.count_for_sources(ids, survey.name, survey.reduction_version)
            counts["detections"] += uow.detections.count_for_sources(ids, survey.analysis_version)
            counts["detections_simulated"] += uow.detections.count_for_sources(ids, survey.simulation_version,
                                                                               include_simulated=True)
            counts["injections"] += uow.injections.count_for_sources(config.name, survey.simulation_version, ids)
    chosen = set(names)
    totals = {key: sum(s[key] for s in per_survey.values()) for key in COUNTS}
    return {"sources": len(chosen), "registered": registered, **totals,
            "failed": sum(1 for f in failures if f["source"] in chosen),
            "surveys": {name: dict(counts) for name, counts in per_survey.items()}}


def current_failures(config: ProjectConfig, uow: AbstractUnitOfWork) -> list[dict]:
    """Return the project's failures at the current versions (``source``, ``stage``, ``survey``, ``message``).

    A failure counts only at the version it happened at: a source that failed under other parameters is
    not a failure of the current configuration.
    """
    current = {(s.name, stage): version for s in config.surveys
               for stage, version in ((DOWNLOAD, s.download_version), (REDUCE, s.reduction_version),
                                      (ANALYSE, s.analysis_version), (SIMULATE, s.simulation_version))}
    return [{"source": name, "stage": stage, "survey": survey, "message": message}
            for name, stage, survey, version, message in uow.steps.failures(config.name)
            if current.get((survey, stage)) == version]
