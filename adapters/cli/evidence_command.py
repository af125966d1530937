"""``vo evidence``: pixel evidence (centroid shift, stamps) of detections whose lightcurves came without images."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_evidence_parser", "evidence", "format_evidence"]


def add_evidence_parser(commands, project_command) -> None:
    """Register ``evidence``; it sets ``args.handler``.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The ``vo`` sub-command group.
    project_command : callable
        ``project_command(name, help)`` adds a sub-parser with ``config``, ``--json`` and ``--set``.
    """
    sub = project_command("evidence", "fetch the images around each real detection whose lightcurve came without "
                                      "them (TESS, Kepler, K2 target pixel files of its season; ZTF cutouts of "
                                      "the weeks around it) and store its centroid shift and stamps")
    sub.add_argument("--source", action="append", default=None, metavar="NAME",
                     help="only this source (repeatable; default: every source with detections)")
    sub.add_argument("--limit", type=int, default=None, help="at most N sources, in name order")
    sub.add_argument("--redo", action="store_true", help="measure detections that have evidence again")
    sub.set_defaults(handler=evidence)


def evidence(args: argparse.Namespace) -> int:
    """``vo evidence CONFIG``: gather the evidence, print what was done; exit 4 when a source failed (one line per
    kind of failure)."""
    from virtualobserver.adapters.cli.commands import EXIT_SOURCES_FAILED, _check_counts, make_container
    from virtualobserver.adapters.cli.progress import phase, stage_progress
    from virtualobserver.adapters.container import close_container
    from virtualobserver.adapters.surveys.pixels.evidence_factories import evidence_source
    from virtualobserver.services.evidence import gather_evidence

    _check_counts(args)
    container = make_container(args)
    config = container.project_config()  # a bad configuration fails here, before the database is touched
    sources = {}
    try:
        phase(args, "opening the database")
        project = container.project()
        cache = container.raw_cache()
        for survey in config.surveys:
            source = evidence_source(survey.name, survey.download, cache)
            if source is not None:
                sources[survey.name] = source
        phase(args, "fetching images and measuring")
        report = gather_evidence(project.uow_factory, project.store, config, sources, names=args.source,
                                 limit=args.limit, redo=args.redo, progress=stage_progress(args))
    finally:
        for source in sources.values():
            source.close()
        close_container(container)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_evidence(report, sorted(sources)))
    return EXIT_SOURCES_FAILED if report.failed else 0


def format_evidence(report, surveys: list[str]) -> str:
    """Return what ``vo evidence`` did as lines for a terminal.

    Parameters
    ----------
    report : EvidenceReport
        The counts.
    surveys : list of str
        Surveys that have images.

    Returns
    -------
    str
    """
    if not surveys:
        return "no survey of this project has images: nothing to do"
    lines = [f"pixel evidence ({', '.join(surveys)}): {report.measured} centroid shifts, {report.stamped} stamps; "
             f"{report.done_before} detections had it already, {report.without_pixels} have no images"]
    from virtualobserver.adapters.cli.failure_classes import failure_lines

    lines += [f"  {line}" for line in failure_lines(report.failed)]  # one per kind of failure, not per source
    return "\n".join(lines)
