"""Event rates: real events that survive triage, minus expected false alarms, over efficiency times time observed."""

from __future__ import annotations

from virtualobserver.domain.config import SurveyConfig
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.rates import (
    EventRate,
    InjectionCounts,
    check_options,
    count_events,
    direction_of,
    false_alarms,
    keeps_label,
    measure_rate,
)
from virtualobserver.services.ports import AbstractUnitOfWork
from virtualobserver.services.simulate import SIMULATE
from virtualobserver.services.stages import ANALYSE

__all__ = ["event_rate", "efficiency_includes"]


def event_rate(uow: AbstractUnitOfWork, project: str, survey: SurveyConfig, kind: str, *,
               labels: str = "not-artifact", confidence: float = 0.9,
               method: str = "feldman-cousins") -> EventRate:
    """Return the rate of events of ``kind`` per source per year in one survey, at the current versions.

    ``R = (N_obs - N_fa) / (eff T)`` (:mod:`domain.rates`): ``N_obs`` the real events of the kind's
    direction at the analysis version that survive triage (detections of a source within a cadence of
    each other are one event, found in as many lightcurves as the recovery rule asks), ``N_fa`` the
    false alarms of that sign expected over the searched lightcurves, ``eff`` recovered / injected of
    the kind at the simulation version, ``T`` the analysed sources' observed spans in years.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller); nothing is written.
    project : str
        Project name.
    survey : SurveyConfig
        Survey, its parameters and versions.
    kind : str
        Event kind (``flare``, ``gaussian_dip``, ...).
    labels : str
        ``not-artifact`` (default: every detection not labelled artifact), ``real`` or ``all``.
    confidence : float
        Joint confidence level of the interval (default 0.9).
    method : str
        Interval of the count: ``feldman-cousins`` (default) or ``garwood``.

    Returns
    -------
    EventRate
        The rate, its interval, and every number it came from, with what the efficiency includes.

    Raises
    ------
    ConfigError
        If ``kind``, ``labels``, ``confidence`` or ``method`` is not valid.
    DataError
        If there are no injections of ``kind`` at the simulation version, or no analysed sources.
    """
    direction = direction_of(kind)
    keeps_label(labels, None)  # checks the rule and the options before any query
    check_options(confidence, method)
    counts = uow.rates.injection_counts(project, survey.simulation_version)
    injections = counts.get(kind, InjectionCounts())
    if injections.injected == 0:
        have = ", ".join(f"{name} {c.injected}" for name, c in sorted(counts.items())) or "none"
        raise DataError(f"no injections of kind {kind!r} in survey {survey.name!r} at the current simulation "
                        f"version {survey.simulation_version} (injections there: {have}); run `vo simulate` "
                        f"with {kind} among observatories.simulation.kinds")
    analysis = survey.analysis
    exposure = uow.rates.exposure(project, survey.name, survey.reduction_version, stage=ANALYSE,
                                  version=survey.analysis_version, min_good_epochs=analysis.min_good_epochs)
    if exposure.sources == 0 or not exposure.source_days > 0:
        raise DataError(f"no analysed sources with observed time in survey {survey.name!r} at the current "
                        f"analysis version {survey.analysis_version}: run `vo run` first")
    found = [c for c in uow.rates.candidates(project, survey.analysis_version, direction)
             if keeps_label(labels, c.label)]
    rule = survey.simulation.recovery_filters
    spans = _searched_spans(uow, survey, {c.source_id for c in found}) if rule == 0 and found else None
    observed = count_events(found, min_lightcurves=rule, spans=spans)
    simulated = uow.steps.count_done(project, SIMULATE, survey.name, survey.simulation_version)
    return measure_rate(
        kind, observed, false_alarms(exposure, analysis.threshold, analysis.widths_days), injections, exposure,
        confidence=confidence, method=method, detections=len(found), labels=labels, sources_simulated=simulated,
        includes=_includes(survey, kind, injections), notes=_notes(survey, kind, direction, labels, found,
                                                                   simulated, exposure.sources),
        survey=survey.name, analysis_version=survey.analysis_version,
        simulation_version=survey.simulation_version)


def _searched_spans(uow: AbstractUnitOfWork, survey: SurveyConfig, source_ids: set[int]) -> dict:
    """First and last epoch of each searched lightcurve of these sources (for the 'every filter' rule)."""
    found = uow.lightcurves.for_sources(sorted(source_ids), survey.name, survey.reduction_version)
    least = survey.analysis.min_good_epochs
    return {source_id: [(lc.mjd_start, lc.mjd_end) for lc in lightcurves
                        if (lc.num_good or 0) >= least and lc.mjd_start is not None]
            for source_id, lightcurves in found.items()}


def efficiency_includes(simulation) -> tuple[str, str]:
    """Return what an efficiency of these simulation parameters includes: its time coverage and recovery rule.

    Parameters
    ----------
    simulation : SimulationParameters
        The survey's simulation block.

    Returns
    -------
    tuple of str
        The duty-cycle sentence and the recovery-rule sentence.
    """
    if simulation.peak_time == "span":
        duty = ("the duty cycle: peaks drawn over each source's whole observed span, gaps between seasons "
                "included")
    else:
        duty = ("no duty cycle: peaks drawn near searched epochs (peak_time: epochs), the efficiency of "
                "observed events")
    rule = simulation.recovery_filters
    needed = "every lightcurve (filter)" if rule == 0 else f"at least {rule} lightcurve(s) (filters)"
    return duty, (f"recovery: found in {needed} the event covers, by a detection the injection caused "
                  f"(recovery_margin {simulation.recovery_margin:g} in |S/N| over a detection already there)")


def _range(low, high, scale: str, unit: str = "") -> str:
    return f"{low:g}-{high:g}{unit} ({scale}-uniform)"


def _includes(survey: SurveyConfig, kind: str, injections: InjectionCounts) -> tuple[str, ...]:
    """What the efficiency includes, in words, from the simulation parameters and the counts."""
    sim = survey.simulation
    duty, recovery = efficiency_includes(sim)
    if sim.peak_time == "span":
        duty += (f" ({injections.in_gaps} of {injections.injected} injections fell where no exposure saw them: "
                 "in gaps between seasons, or between epochs)")
    strength = (f"impact parameters u0 {_range(sim.u0_min, sim.u0_max, 'linear')}" if kind == "microlensing"
                else f"peak amplitudes {_range(sim.amplitude_min, sim.amplitude_max, sim.amplitude_scale)} "
                     "x the single-epoch noise")
    colours = [entry for entry in sim.colours if entry.startswith(f"{kind}:")]
    return (
        duty,
        recovery,
        f"the drawn population: {strength}, widths {_range(sim.width_min, sim.width_max, sim.width_scale, ' d')}",
        "colours: " + (", ".join(colours) if colours else "achromatic") + f"; noise model {sim.noise_model}",
    )


def _notes(survey: SurveyConfig, kind: str, direction: str, labels: str, found: list, simulated: int,
           analysed: int) -> tuple[str, ...]:
    notes = [f"N_obs counts every {direction} event, whatever its shape: the rate is that of {direction}s "
             f"with the efficiency of {kind} events"]
    if survey.simulation.peak_time != "span":
        notes.append("peak_time is 'epochs': the efficiency leaves out the gaps, so this rate over the whole span is "
                     "low by the fraction of time observed (simulate with peak_time: span for rates)")
    if simulated < analysed:
        notes.append(f"the efficiency was measured on {simulated} of the {analysed} analysed sources")
    unjudged = sum(1 for c in found if c.label is None)
    if labels == "not-artifact" and unjudged:
        notes.append(f"{unjudged} of the {len(found)} detections counted are not judged yet (triage them, or use "
                     "--labels real)")
    if labels == "real":
        notes.append("only detections labelled real count; the false alarms are still subtracted (conservative "
                     "if triage already removed them)")
    if survey.simulation.recovery_filters != 1:
        notes.append("N_fa counts false alarms in single lightcurves; events that need several filters have "
                     "fewer (the rate is then a little low)")
    return tuple(notes)
