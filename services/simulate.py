"""Simulation mode: inject events into analysed lightcurves, search them, and record truth and outcome."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from virtualobserver.domain.analysis.analysis import Analysis
from virtualobserver.domain.analysis.finder import find_events, find_events_many
from virtualobserver.domain.config import SurveyConfig
from virtualobserver.domain.errors import VOError
from virtualobserver.domain.histograms import Axis, Histograms
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.recovery import Reference, references_many
from virtualobserver.domain.simulator import Simulator
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore, HistogramStore
from virtualobserver.services.stages import (
    ANALYSE,
    StageResult,
    finish,
    batch_lightcurves,
    pending,
    save_histogram_parts,
)
from virtualobserver.services.batch_carry import BatchCarry

__all__ = ["SIMULATE", "EFFICIENCY", "simulate_batch", "efficiency_histograms", "fill_efficiency"]

SIMULATE = "simulate"
#: Name of the efficiency map (variables ``injected`` and ``recovered``).
EFFICIENCY = "efficiency"


def efficiency_histograms(survey: SurveyConfig) -> Histograms:
    """Return an empty efficiency map over event kind, amplitude (noise units) and width (days).

    Parameters
    ----------
    survey : SurveyConfig
        Its simulation parameters give the kinds.

    Returns
    -------
    Histograms
        Variables ``injected`` and ``recovered``.
    """
    widths = 10.0 ** np.arange(-3.0, 3.01, 0.25)
    return Histograms({
        "kind": Axis.categorical(survey.simulation.kinds),
        "snr_amplitude": Axis.numeric(0.0, 30.0, 1.0),
        "width": Axis.from_edges(widths),
    }, variables=("injected", "recovered"))


def _seed(*parts) -> int:
    text = "/".join(map(str, parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def simulate_batch(
    uow: AbstractUnitOfWork,
    store: DataStore,
    histogram_store: HistogramStore,
    survey: SurveyConfig,
    project: str,
    sources: Sequence[Source],
    carry: BatchCarry | None = None,
) -> StageResult:
    """Inject, search and record for analysed sources not yet simulated at this version; one commit.

    Each source gets ``injections_per_source`` events placed over its whole observed span (gaps
    included) and injected into every lightcurve (filter) each covers (:mod:`domain.simulator`),
    seeded by the source name and the simulation seed (so a rerun injects the same events). The
    un-injected lightcurves are searched first: their detections are the reference, so that only a
    detection an injection caused recovers it (:mod:`domain.recovery`). The copies are searched with
    the same cuts and finder as the real data; the strongest detection an injection caused is stored
    as simulated, linked to it. The batch's efficiency map is saved as a part in the same transaction.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Lightcurve arrays.
    histogram_store : HistogramStore
        Where the efficiency map part goes.
    survey : SurveyConfig
        Parameters and versions of this survey.
    project : str
        Project name.
    sources : sequence of Source
        Persisted sources (with ids).
    carry : BatchCarry, optional
        Lightcurves and quality results of this batch's earlier steps (used instead of reading the
        lightcurves back and checking them again).

    Returns
    -------
    StageResult
        Sources simulated; products = injections recorded.
    """
    result = StageResult()
    version = survey.simulation_version
    todo, result.skipped = pending(uow, SIMULATE, survey.name, version, sources,
                                   after=(ANALYSE, survey.analysis_version), carry=carry)
    if not todo:
        return result
    analysis = Analysis(survey.analysis, survey.quality, survey.histograms)
    simulator = Simulator(survey.simulation)
    efficiency = efficiency_histograms(survey)
    lightcurves, unreadable = batch_lightcurves(uow, store, survey, todo, carry)
    checked = carry.qualities.get(survey.name, {}) if carry is not None else {}
    seeds = {source.id: _seed(source.name, survey.simulation.seed) for source in todo
             if source.id not in unreadable}
    simulator.prepare_seeds(seeds.values())
    failures: dict[int, str] = {}
    qualities: dict[int, list] = {}
    for source in todo:
        try:
            if source.id in unreadable:
                raise unreadable[source.id]
            qualities[source.id] = checked.get(source.id) or analysis.checker.check_many(lightcurves[source.id])
        except VOError as exc:
            failures[source.id] = str(exc)
    carried = carry.results.get(survey.name, {}) if carry is not None else {}
    references = _references(lightcurves, qualities, survey.analysis, failures, carried)
    plans = {}
    for source_id, refs in references.items():
        try:
            plans[source_id] = simulator.plan(lightcurves[source_id], refs, seeds[source_id])
        except VOError as exc:
            failures[source_id] = str(exc)
    planned = _copies(simulator, lightcurves, references, plans, failures)
    searched = _search(planned, qualities, survey.analysis, failures, lightcurves, references)
    injections, counts = [], {}
    for source in todo:
        if source.id in failures:
            result.failed[source.name] = failures[source.id]
            continue
        if source.id not in planned:
            continue
        loaded = lightcurves[source.id]
        plans, _ = planned[source.id]
        made = []
        for p, plan in enumerate(plans):
            injection, where = simulator.outcome(plan, searched[source.id].get(p, {}), references[source.id])
            made.append(_attach(injection, source.id, loaded[plan.reference].id,
                                None if where is None else loaded[where].id, version))
        injections.extend(made)
        counts[source.id] = len(made)
    fill_efficiency(efficiency, injections)  # once per batch: the same counts, one binning pass
    save_histogram_parts(uow, histogram_store, {EFFICIENCY: efficiency}, project, survey.name, version,
                         list(counts), carry)
    uow.injections.add_many(injections)
    finish(uow, SIMULATE, survey.name, version, counts, failures, carry)
    result.done, result.products = len(counts), len(injections)
    return result


def _references(lightcurves: dict, qualities: dict, parameters, failures: dict,
                carried: dict) -> dict[int, list[Reference]]:
    """Per source, the reference of each un-injected lightcurve: the analyse step's result when this batch
    made it (the same search), else every lightcurve of the batch searched again in one pass."""
    made = [(source_id, lc, quality) for source_id, quality_list in qualities.items()
            for lc, quality in zip(lightcurves[source_id], quality_list)]
    if all(source_id in carried for source_id in qualities):
        found = [(r.scores, r.detections) for source_id in qualities for r in carried[source_id]]
    else:
        found = _found_or_errors([lc for _, lc, _ in made], parameters, [q for _, _, q in made])
    for (source_id, _, _), outcome in zip(made, found):
        if isinstance(outcome, VOError):
            failures[source_id] = str(outcome)
    kept = [(m, outcome) for m, outcome in zip(made, found) if m[0] not in failures]
    references: dict[int, list[Reference]] = {source_id: [] for source_id in qualities if source_id not in failures}
    for ((source_id, _, _), _), reference in zip(kept, references_many([m[1] for m, _ in kept],
                                                                       [outcome for _, outcome in kept])):
        references[source_id].append(reference)
    return references


def _copies(simulator: Simulator, lightcurves: dict, references: dict, plans: dict, failures: dict) -> dict:
    """Per source, its plans and injected copies, made for the whole batch in one pass (source by source
    if a copy cannot be made, which then fails its own source only)."""
    ids = list(plans)
    try:
        made = simulator.copies_many([(lightcurves[i], references[i], plans[i]) for i in ids])
    except VOError:
        made = []
        for i in ids:
            try:
                made.append(simulator.copies(lightcurves[i], references[i], plans[i]))
            except VOError as exc:
                failures[i] = str(exc)
                made.append(None)
    return {i: (plans[i], copies) for i, copies in zip(ids, made) if copies is not None}


def _search(planned: dict, qualities: dict, parameters, failures: dict, lightcurves: dict,
            references: dict) -> dict[int, dict[int, dict]]:
    """Search every injected copy of the batch in one pass: per source and plan, the detections per target."""
    made = [(source_id, p, index, copy) for source_id, (_, copies) in planned.items() for p, index, copy in copies]
    # Each copy with its original and the original's scores: what the injection did not change is reused.
    previous = [(lightcurves[source_id][index], references[source_id][index].scores) for source_id, _, index, _
                in made]
    found = _found_or_errors([copy for *_, copy in made], parameters,
                             [qualities[source_id][index] for source_id, _, index, _ in made], previous)
    searched: dict[int, dict[int, dict]] = {source_id: {} for source_id in planned}
    for (source_id, p, index, _), outcome in zip(made, found):
        if isinstance(outcome, VOError):
            failures[source_id] = str(outcome)
        else:
            searched[source_id].setdefault(p, {})[index] = outcome[1]
    return searched


def _found_or_errors(lightcurves: list, parameters, qualities: list, previous: list | None = None) -> list:
    # find_events_many over all; a lightcurve that cannot be searched fails its own source only.
    try:
        return find_events_many(lightcurves, parameters, qualities, previous)
    except VOError:
        return [_events_or_error(lc, parameters, quality) for lc, quality in zip(lightcurves, qualities)]


def _events_or_error(lightcurve, parameters, quality):
    try:
        return find_events(lightcurve, parameters, quality)
    except VOError as exc:
        return exc


def fill_efficiency(efficiency: Histograms, injections: Sequence[Injection]) -> None:
    """Count injections (and the recovered ones) by kind, |amplitude| in noise units and width.

    Injections in gaps count as injected and not recovered: the map is the efficiency over the whole
    observed span (with ``peak_time: span``), duty cycle included, as a rate needs.

    Parameters
    ----------
    efficiency : Histograms
        From :func:`efficiency_histograms`; filled in place.
    injections : sequence of Injection
        Injections with their outcome.
    """
    if not injections:
        return
    kind = np.array([i.kind for i in injections], dtype=object)
    amplitude = np.abs([i.snr_amplitude for i in injections])  # dips are negative: bin by size
    width = np.array([i.width for i in injections])
    recovered = np.array([i.recovered for i in injections])
    efficiency.fill("injected", kind=kind, snr_amplitude=amplitude, width=width)
    efficiency.fill("recovered", kind=kind[recovered], snr_amplitude=amplitude[recovered], width=width[recovered])


def _attach(injection: Injection, source_id: int, lightcurve_id: int, found_in: int | None,
            version: str) -> Injection:
    # Both were made just now and are in no session: one dict update each, not an attribute event per field.
    injection.__dict__.update(source_id=source_id, lightcurve_id=lightcurve_id, version=version)
    if injection.detection is not None:
        injection.detection.__dict__.update(is_simulated=True, source_id=source_id, lightcurve_id=found_in,
                                            version=version)
    return injection
