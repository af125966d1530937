"""Simulation mode: inject events into analysed lightcurves, search them, and record truth and outcome."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from domain.analysis.analysis import Analysis
from domain.analysis.finder import find_events, find_events_many
from domain.config import SurveyConfig
from domain.errors import VOError
from domain.histograms import Axis, Histograms
from domain.injection import Injection
from domain.simulator import Simulator, inject_many
from domain.source import Source
from services.ports import AbstractUnitOfWork, DataStore, HistogramStore
from services.stages import (
    ANALYSE,
    StageResult,
    finish,
    batch_lightcurves,
    pending,
    save_histogram_parts,
)
from services.batch_carry import BatchCarry

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

    Each source gets ``injections_per_source`` injected copies of its
    lightcurves (each event in one lightcurve, chosen in proportion to its time
    span), seeded by the source name and the simulation seed (so a rerun
    injects the same events). The copies are searched with the same cuts and finder as the
    real data; an injection is recovered when the Simulator matches a
    detection to it, and that detection is stored as simulated, linked to its
    injection. The batch's efficiency map is saved as a part in the same transaction.

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
    readable = [source for source in todo if source.id not in unreadable]
    simulator.prepare([lc for source in readable for lc in lightcurves[source.id]])
    seeds = {source.id: _seed(source.name, survey.simulation.seed) for source in readable}
    simulator.prepare_seeds(seeds.values())
    drawn, failures = {}, {}
    for source in todo:
        try:
            if source.id in unreadable:
                raise unreadable[source.id]
            loaded = lightcurves[source.id]
            qualities = checked.get(source.id) or analysis.checker.check_many(loaded)
            drawn[source.id] = [(event, loaded[index], qualities[index], noise_rng)
                                for index, event, noise_rng in simulator.source_events(loaded, seeds[source.id])]
        except VOError as exc:
            failures[source.id] = str(exc)
            result.failed[source.name] = str(exc)
    searched = _search(drawn, survey.analysis, survey.simulation.noise_model)
    injections, counts = [], {}
    for source in todo:
        if source.id not in drawn:
            continue
        error = next((d for d in searched[source.id] if isinstance(d, VOError)), None)
        if error is not None:
            failures[source.id] = str(error)
            result.failed[source.name] = str(error)
            continue
        made = [_attach(event.to_injection(sequence, simulator.match(event, detections)), source.id,
                        lightcurve.id, version)
                for sequence, ((event, lightcurve, _, _), detections)
                in enumerate(zip(drawn[source.id], searched[source.id]))]
        injections.extend(made)
        counts[source.id] = len(made)
    fill_efficiency(efficiency, injections)  # once per batch: the same counts, one binning pass
    save_histogram_parts(uow, histogram_store, {EFFICIENCY: efficiency}, project, survey.name, version,
                         list(counts), carry)
    uow.injections.add_many(injections)
    finish(uow, SIMULATE, survey.name, version, counts, failures, carry)
    result.done, result.products = len(counts), len(injections)
    return result


def _search(drawn: dict, parameters, noise_model: str) -> dict:
    """Inject and search every drawn event of the batch in one pass; per source, the detections of each copy.

    A copy that cannot be searched fails its own source only: its detections are the error.
    """
    made = [(source_id, *each) for source_id, events in drawn.items() for each in events]
    copies = inject_many([m[2] for m in made], [m[1] for m in made], [m[4] for m in made], noise_model)
    try:
        found = find_events_many(copies, parameters, [m[3] for m in made])
    except VOError:
        found = [_events_or_error(copy, parameters, m[3]) for copy, m in zip(copies, made)]
    searched: dict = {source_id: [] for source_id in drawn}
    for m, outcome in zip(made, found):
        searched[m[0]].append(outcome if isinstance(outcome, VOError) else outcome[1])
    return searched


def _events_or_error(injected, parameters, quality):
    try:
        return find_events(injected, parameters, quality)
    except VOError as exc:
        return exc


def fill_efficiency(efficiency: Histograms, injections: Sequence[Injection]) -> None:
    """Count injections (and the recovered ones) by kind, |amplitude| in noise units and width.

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


def _attach(injection: Injection, source_id: int, lightcurve_id: int, version: str) -> Injection:
    # Both were made just now and are in no session: one dict update each, not an attribute event per field.
    injection.__dict__.update(source_id=source_id, lightcurve_id=lightcurve_id, version=version)
    if injection.detection is not None:
        injection.detection.__dict__.update(is_simulated=True, source_id=source_id, lightcurve_id=lightcurve_id,
                                            version=version)
    return injection
