"""``vo prune CONFIG --version V [--survey S] [--step STEP] [--dry-run] [--force]``: remove one version's products."""

from __future__ import annotations

import argparse
import json

from virtualobserver.domain.errors import DataError
from virtualobserver.services.prune_ports import STEPS

__all__ = ["add_prune_parser", "prune", "version_stores", "row_summary", "size"]

#: Row kinds as printed: what each counts.
_ROW_NAMES = {"raw_data": "raw-data records", "lightcurves": "lightcurves", "detections": "detections",
              "simulated_detections": "simulated detections", "injections": "injections",
              "summaries": "source summaries", "histogram_parts": "histogram parts", "steps": "finished steps",
              "failures": "failures"}


def add_prune_parser(commands, project_command) -> None:
    """Register ``prune`` (it sets ``args.handler``)."""
    sub = project_command("prune", "remove one version's products (database rows and files) that no other "
                                   "version uses; --dry-run shows what would go")
    sub.add_argument("--version", required=True, metavar="V",
                     help="the version to prune, as `vo versions` lists it (a unique start is enough)")
    sub.add_argument("--survey", default=None, help="only this survey's products (default: every survey)")
    sub.add_argument("--step", choices=STEPS, default=None,
                     help="only this step's products and those made from them (analysis: detections, summaries, "
                          "epoch scores, histograms and simulations; default: all, raw data and manifest included)")
    sub.add_argument("--dry-run", action="store_true", help="print what would be removed (counts and bytes), "
                                                            "remove nothing")
    sub.add_argument("--force", action="store_true", help="prune even the version the configuration makes now")
    sub.set_defaults(handler=prune)


def size(n: float) -> str:
    """Return a byte count for people (``12.3 MiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def row_summary(rows) -> str:
    """Return non-zero row counts named for what they count, e.g. ``60 lightcurves, 12 detections``."""
    return ", ".join(f"{rows[k]} {name}" for k, name in _ROW_NAMES.items() if rows.get(k)) or "no rows"


def version_stores(container):
    """Return ``(records factory, files)``: the rows and files of versions in the container's database and folder."""
    from virtualobserver.adapters.files.version_files import DataVersionFiles
    from virtualobserver.adapters.postgres.version_records import SqlVersionRecords

    engine = container.database().engine
    return (lambda: SqlVersionRecords(engine)), DataVersionFiles(container.data_dir())


def prune(args: argparse.Namespace) -> int:
    """Prune a version: refuse the current one without ``--force``; with ``--dry-run`` only report."""
    from virtualobserver.adapters.cli.commands import make_container
    from virtualobserver.adapters.cli.progress import phase, stage_progress
    from virtualobserver.services.provenance import project_version, version_chain
    from virtualobserver.services.prune import find_version, plan_prune
    from virtualobserver.services.prune import prune as carry_out

    container = make_container(args)
    config = container.project_config()  # a bad configuration fails here, before the database is touched
    current = project_version(config)
    try:
        phase(args, "opening the database")
        records, files = version_stores(container)
        manifests = files.manifests()
        manifest = find_version(manifests, config.name, args.version)
        version = str(manifest["version"])
        if version == current and not args.force:
            raise DataError(f"version {version} is the one {args.config} makes now: give --force to prune it "
                            "(the next run makes its products again)")
        chains = {s.name: version_chain(s) for s in config.surveys}
        # Dry run or not, the plan is made alike; a real pruning holds the project's run lock (a run
        # writing meanwhile would have files no row claims yet).
        lock = container.run_lock().hold(config.name) if not args.dry_run else _no_lock()
        with lock:
            phase(args, "finding the rows and files of the version")
            plan = plan_prune(config.name, manifest, manifests, records, files,
                              current=None if version == current else chains, survey=args.survey, step=args.step)
            if not args.dry_run:
                phase(args, "removing")
            report = None if args.dry_run else carry_out(plan, records, files, stage_progress(args))
    finally:
        container.database().close()
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, **(plan.as_dict() if report is None else report.as_dict())},
                         indent=2))
        return 0
    for product, why in plan.kept.items():
        print(f"kept {product.survey} {product.step} {product.version}: {why}")
    if report is None:
        print(f"would remove from version {version}: {row_summary(plan.rows)}; {len(plan.files)} files "
              f"({size(plan.bytes)})" + ("; its manifest" if plan.manifest else ""))
        print("nothing removed (dry run)")
    else:
        print(f"removed from version {version}: {row_summary(report.rows)}; {report.files} files "
              f"({size(report.bytes)})" + ("; its manifest" if report.manifests else ""))
    return 0


def _no_lock():
    import contextlib

    return contextlib.nullcontext()
