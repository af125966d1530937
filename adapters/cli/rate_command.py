"""``vo rate``: the rate of events of one kind per source per year, with its interval and every input."""

from __future__ import annotations

import argparse
import json

from typing import TYPE_CHECKING

# The parser's choices only: `vo --help` must not import the science (domain.rates imports numpy).
from virtualobserver.domain.vocabulary import EVENT_KINDS, INTERVAL_METHODS, LABEL_RULES

if TYPE_CHECKING:
    from virtualobserver.domain.rates import EventRate

__all__ = ["add_rate_parser", "rate", "format_rate"]


def add_rate_parser(commands, project_command) -> None:
    """Register ``rate``; it sets ``args.handler``.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The ``vo`` sub-command group.
    project_command : callable
        ``project_command(name, help)`` adds a sub-parser with ``config``, ``--json`` and ``--set``.
    """
    sub = project_command("rate", "the rate of events of one kind per source per year, from the real detections "
                                  "that survive triage, the expected false alarms and the injection-recovery "
                                  "efficiency, with a confidence interval")
    sub.add_argument("--kind", required=True, choices=EVENT_KINDS, help="event kind of the simulation")
    sub.add_argument("--survey", default=None, help="survey (default: the project's first)")
    sub.add_argument("--labels", choices=LABEL_RULES, default="not-artifact",
                     help="detections that count: not labelled artifact (default), only labelled real, or all")
    sub.add_argument("--confidence", type=float, default=0.9, help="confidence level of the interval (default 0.9)")
    sub.add_argument("--method", choices=INTERVAL_METHODS, default="feldman-cousins",
                     help="interval of the count over the false-alarm background (default feldman-cousins)")
    sub.set_defaults(handler=rate)


def rate(args: argparse.Namespace) -> int:
    """``vo rate CONFIG --kind KIND``: print the rate with its interval and inputs (or them as JSON)."""
    from virtualobserver.adapters.cli.commands import _with_project

    result = _with_project(args, lambda p: p.rate(args.kind, args.survey, labels=args.labels,
                                                  confidence=args.confidence, method=args.method),
                           doing="estimating the rate")
    print(json.dumps(result.as_dict(), indent=2) if args.json else format_rate(result))
    return 0


def format_rate(r: EventRate) -> str:
    """Return the rate and every number it came from, as lines for a terminal.

    Parameters
    ----------
    r : EventRate
        The result.

    Returns
    -------
    str
        Several lines.
    """
    e, inj = r.exposure, r.injections
    method = "Feldman-Cousins" if r.method == "feldman-cousins" else "Garwood minus N_fa"
    lines = [
        f"rate of {r.summary()}",
        f"  = (N_obs - N_fa) / (eff T); survey {r.survey}, analysis {r.analysis_version}, simulation "
        f"{r.simulation_version}, labels {r.labels}",
        f"  N_obs  {r.observed} events ({r.detections} {r.direction} detections, one event per source and time)",
        f"  N_fa   {r.false_alarms:.3g} expected {r.direction} false alarms over {e.lightcurves:,} searched "
        f"lightcurves ({e.good_epochs:,} good epochs, {e.lightcurve_days:,.0f} d)",
        f"  signal N_obs - N_fa in [{r.signal_lower:.3g}, {r.signal_upper:.3g}] events ({method}, "
        f"{r.count_confidence:.1%})",
        f"  eff    {r.efficiency:.3g} in [{r.efficiency_lower:.3g}, {r.efficiency_upper:.3g}] (Wilson, "
        f"{r.efficiency_confidence:.1%}): {inj.recovered:,} recovered of {inj.injected:,} injected, "
        f"{inj.in_gaps:,} in gaps, {inj.overlapping_real:,} over a real detection",
        f"  T      {r.years:,.2f} source-years: {e.sources:,} analysed sources ({e.observed_sources:,} with "
        f"data), efficiency from {r.sources_simulated:,}",
        f"  interval: {r.confidence:.0%} joint (count and efficiency combined conservatively)"
        + (f"; upper limit, best estimate {r.rate:.3g}" if r.upper_limit else ""),
        "  efficiency includes:",
        *(f"    - {item}" for item in r.includes),
    ]
    lines += [f"  note: {note}" for note in r.notes]
    return "\n".join(lines)
