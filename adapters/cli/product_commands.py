"""``vo export``, ``vo versions`` and ``vo plot``: products as files for other tools, their provenance and disk use, figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from virtualobserver.domain.errors import DataError

__all__ = ["add_product_parsers", "export", "versions", "plot", "EXPORT_FORMATS"]

#: ``vo export --format`` choices: the table formats, plus two that only some products have.
EXPORT_FORMATS = ("csv", "ecsv", "fits", "votable", "hdf5", "lightkurve", "netcdf", "skyportal")
_WHAT = ("lightcurves", "detections", "sources", "histograms", "injections", "stamps")
#: What the files of each step hold, as ``vo versions`` names them.
_STEP_PRODUCTS = {"download": "raw data", "reduction": "lightcurves", "analysis": "epoch scores and histograms",
                  "simulation": "efficiency histograms"}
_HISTOGRAMS = ("scanned", "cut_offset", "cut_limiting_mag", "cut_chi", "cut_sharp", "efficiency")


def add_product_parsers(commands, project_command) -> None:
    """Register ``export``, ``versions`` and ``plot``; each sets ``args.handler``.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The ``vo`` sub-command group.
    project_command : callable
        ``project_command(name, help)`` adds a sub-parser with ``config``, ``--json`` and ``--set``.
    """
    sub = project_command("export", "write lightcurves, detections (with triage labels), sources or histograms "
                                    "as CSV, ECSV, FITS, VOTable or HDF5, with units and provenance; stamps as "
                                    "FITS cutouts with WCS")
    sub.add_argument("--what", choices=_WHAT, default=None, help="which product (required)")
    sub.add_argument("--format", choices=EXPORT_FORMATS, default=None,
                     help="file format (default: from the extension of --out; .csv is plain CSV with the units in "
                          "the column names and a .csv.json sidecar). lightkurve: one lightkurve-readable FITS file "
                          "per lightcurve in the folder --out; netcdf: histograms as CF netCDF; skyportal: "
                          "lightcurves as SkyPortal photometry CSV (mjd, flux, fluxerr, zp, magsys, filter, origin)")
    sub.add_argument("--out", default=None, help="output file (or folder, for --format lightkurve and for stamps: "
                                                 "one FITS file per detection, HDUs REFERENCE, PEAK, DIFFERENCE)")
    sub.add_argument("--simulated", action="store_true",
                     help="detections: add the simulated ones (marked is_simulated); histograms: the efficiency map")
    sub.add_argument("--survey", default=None, help="survey (default: the project's first)")
    sub.add_argument("--source", action="append", default=None, metavar="NAME",
                     help="only this source (repeatable; every product but histograms; an unknown name is an error)")
    sub.add_argument("--limit", type=int, default=None, help="only the first N sources by name")
    sub.add_argument("--histogram", choices=_HISTOGRAMS, default=None,
                     help="histograms: which one (default scanned, or efficiency with --simulated)")
    # The first form of the command, `vo export CONFIG WHAT OUTPUT [--include-simulated]`, still works.
    sub.add_argument("legacy_what", nargs="?", default=None, help=argparse.SUPPRESS)
    sub.add_argument("legacy_output", nargs="?", default=None, help=argparse.SUPPRESS)
    sub.add_argument("--include-simulated", action="store_true", help=argparse.SUPPRESS)
    sub.set_defaults(handler=export)

    sub = project_command("versions", "list the versions of the project's products, with what differs between "
                                      "them, their disk use and row counts")
    sub.add_argument("--record", action="store_true",
                     help="write the manifest of the current configuration now (`vo run` writes it when it starts)")
    sub.add_argument("--diff", nargs=2, metavar=("A", "B"), default=None,
                     help="show every difference between two versions (unique prefixes are enough)")
    sub.set_defaults(handler=versions)

    sub = project_command("plot", "draw a source's lightcurves with its detections, its detections' image stamps, "
                                  "or the efficiency map (PNG, PDF or SVG, by the extension of --out)")
    sub.add_argument("--what", choices=("lightcurves", "efficiency"), default="lightcurves",
                     help="what to draw (default lightcurves)")
    sub.add_argument("--source", default=None, help="lightcurves: the source's name")
    sub.add_argument("--out", required=True, help="output figure: .png, .pdf or .svg")
    sub.add_argument("--survey", default=None, help="survey (default: the project's first)")
    sub.add_argument("--flux", action="store_true", help="lightcurves: plot flux instead of magnitude")
    sub.add_argument("--simulated", action="store_true", help="lightcurves: also draw the events injected into the source (their model curves) "
                                                      "and mark its simulated detections")
    sub.add_argument("--stamps", action="store_true",
                     help="with --source: draw the reference, peak and difference stamps of each of its detections "
                          "instead of its lightcurves")
    sub.set_defaults(handler=plot)


def _manifest_store(container):
    # The composition root will provide it; until then the CLI builds the file store over the data folder.
    provider = getattr(container, "manifest_store", None)
    if provider is not None:
        return provider()
    from virtualobserver.adapters.files.manifest_store import FileManifestStore

    return FileManifestStore(container.data_dir())


def _with_products(args: argparse.Namespace, action, doing: str):
    """Validate the configuration, then call ``action(products)`` and release the database afterwards.

    ``doing`` says on a terminal's progress display what the action does; sources read show as a bar.
    """
    from virtualobserver.adapters.cli.commands import make_container
    from virtualobserver.adapters.cli.progress import phase, stage_progress
    from virtualobserver.services.products import Products

    container = make_container(args)
    config = container.project_config()  # a bad configuration fails here, before the database is touched
    try:
        phase(args, "opening the database")
        products = Products(config, uow_factory=container.uow, store=container.store(),
                            histogram_store=container.histogram_store(),
                            fingerprint=_manifest_store(container).fingerprint, progress=stage_progress(args))
        phase(args, doing)
        return action(products)
    finally:
        container.database().close()


def _export_format(args: argparse.Namespace) -> str:
    from virtualobserver.adapters.files.tables import guess_format

    if args.what == "stamps":
        if args.format not in (None, "fits"):
            raise DataError("stamps are written as FITS cutouts only (--format fits, or no --format)")
        return "fits"
    if args.format:
        fmt = args.format
    elif Path(args.out).suffix.lower() == ".nc":
        fmt = "netcdf"
    elif args.out.endswith(("/", "\\")) or Path(args.out).is_dir():
        raise DataError(f"{args.out} is a folder: give --format lightkurve for one FITS file per lightcurve")
    else:
        fmt = guess_format(args.out)
    if fmt == "lightkurve" and args.what != "lightcurves":
        raise DataError("--format lightkurve writes lightcurves only (use --what lightcurves)")
    if fmt == "skyportal" and args.what != "lightcurves":
        raise DataError("--format skyportal writes lightcurves only (use --what lightcurves)")
    if fmt == "netcdf" and args.what != "histograms":
        raise DataError("--format netcdf writes histograms only (use --what histograms)")
    return fmt


def export(args: argparse.Namespace) -> int:
    """``vo export CONFIG --what WHAT --out PATH``: write a product with units and provenance."""
    if args.legacy_what is not None:
        return _legacy_export(args)
    if args.what is None or args.out is None:
        raise DataError("vo export needs --what (lightcurves, detections, sources, histograms, injections, stamps) "
                        "and --out PATH")
    fmt = _export_format(args)

    def action(products):
        survey = products.survey(args.survey).name
        if args.what == "stamps":
            from virtualobserver.adapters.files.fits_stamps import write_stamps_fits

            written = write_stamps_fits(products.stamps(survey, names=args.source, limit=args.limit), args.out,
                                        products.provenance(survey, product="stamps"))
            return {"detections": len(written)}
        if args.what == "lightcurves" and fmt in ("fits", "lightkurve"):
            from virtualobserver.adapters.files.fits_lightcurves import write_lightcurves_fits, write_lightkurve_files

            tables = products.lightcurve_tables(survey, names=args.source, limit=args.limit)
            if fmt == "fits":
                return {"lightcurves": write_lightcurves_fits(tables, args.out,
                                                              products.provenance(survey, product="lightcurves"))}
            return {"lightcurves": len(write_lightkurve_files(tables, args.out))}
        if fmt == "netcdf":
            from virtualobserver.adapters.files.cf_histograms import write_histograms
            from virtualobserver.services.product_export import refuse_source_filters

            refuse_source_filters(args.source, args.limit)
            name = args.histogram or ("efficiency" if args.simulated else "scanned")
            histograms = products.histograms(name, survey)
            if histograms is None:
                raise DataError(f"no histogram {name!r} at the current version of {survey} (run, or simulate, first)")
            write_histograms(histograms, args.out, name=name,
                             meta=products.provenance(survey, product="histograms", simulated=name == "efficiency"))
            args.counted = histograms.variables[0]  # what the total counts, for the summary line
            return {"counts": histograms.total(histograms.variables[0])}
        if fmt == "skyportal":
            from virtualobserver.adapters.files.tables import write_skyportal
            from virtualobserver.services.product_tables import skyportal_table

            table = products.table("lightcurves", survey, names=args.source, limit=args.limit)
            return {"rows": write_skyportal(skyportal_table(table), args.out)}
        from virtualobserver.adapters.files.tables import write_table

        table = products.table(args.what, survey, simulated=args.simulated, names=args.source, limit=args.limit,
                               histogram=args.histogram)
        return {"rows": write_table(table, args.out, fmt)}

    counts = _with_products(args, action, f"writing {args.what} to {args.out}")
    summary = {"what": args.what, "format": fmt, "output": args.out, **counts}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {args.what} ({_amount(args, fmt, counts)}) to {args.out} as {fmt}")
    return 0


#: What one row of each table export is.
_ROW_IS = {"lightcurves": "epoch", "detections": "detection", "sources": "source", "histograms": "bin",
           "injections": "injected event"}


def _amount(args: argparse.Namespace, fmt: str, counts: dict) -> str:
    """The export's counts, each named for what it counts (``12 rows, one per detection``)."""
    parts = []
    for key, value in counts.items():
        if key == "rows":
            parts.append(f"{value} rows, one per {_ROW_IS.get(args.what, 'row')}")
        elif key == "counts":
            parts.append(f"{value:g} {getattr(args, 'counted', 'entries')} counted")
        elif key == "lightcurves" and fmt == "lightkurve":
            parts.append(f"{value} lightcurves, one file each")
        else:
            parts.append(f"{value} {key}")
    return ", ".join(parts)


def _legacy_export(args: argparse.Namespace) -> int:
    import sys

    from virtualobserver.adapters.cli import commands

    if args.legacy_output is None:
        raise DataError("vo export CONFIG WHAT OUTPUT needs an output file (or use --what, --format, --out)")
    print("vo: note: `vo export CONFIG WHAT OUTPUT` is the old form; prefer "
          "`vo export CONFIG --what WHAT --out OUTPUT` (units and provenance included)", file=sys.stderr)
    legacy = argparse.Namespace(**{**vars(args), "what": args.legacy_what, "output": args.legacy_output})
    return commands.export(legacy)


def versions(args: argparse.Namespace) -> int:
    """``vo versions CONFIG``: list the versions with manifests and what changed from one to the next."""
    from virtualobserver.adapters.cli.commands import make_container
    from virtualobserver.services.provenance import diff_manifests, list_versions, project_version, record_manifest

    container = make_container(args)
    config = container.project_config()
    store = _manifest_store(container)
    current = project_version(config)
    if args.record:
        record_manifest(config, store)
    found = list_versions(store, config.name, current=current)
    if args.diff:
        old, new = (_find(found, prefix).manifest for prefix in args.diff)
        changes = diff_manifests(old, new)
        if args.json:
            print(json.dumps([{"key": d.key, "old": d.old, "new": d.new} for d in changes], indent=2))
        else:
            for d in changes:
                print(f"{d.key}: {d.old!r} -> {d.new!r}")
            if not changes:
                print("no differences")
        return 0
    if found:
        from virtualobserver.adapters.cli.progress import phase

        phase(args, "measuring the disk use of each version")
    use, unavailable = _disk_use(container, config, current) if found else ({}, None)
    if args.json:
        print(json.dumps({"project": config.name, "current": current,
                          "versions": [{**v.as_dict(), "disk": use[v.version].as_dict() if v.version in use else None}
                                       for v in found], **({"disk_error": unavailable} if unavailable else {})},
                         indent=2, default=str))
        return 0
    _print_versions(config, found, current, use)
    if unavailable:
        print(f"(disk use not shown: {unavailable})")
    return 0


def _disk_use(container, config, current: str) -> tuple[dict, str | None]:
    """Rows, files and bytes of every version of the project, and what pruning each would free.

    The manifests need no database, the counts do: without one, the listing still comes, with the reason.
    """
    from virtualobserver.adapters.cli.prune_command import version_stores
    from virtualobserver.adapters.postgres.database import DatabaseUnavailableError
    from virtualobserver.services.provenance import version_chain
    from virtualobserver.services.prune import disk_use

    try:
        records, files = version_stores(container)
        return disk_use(config.name, files.manifests(), records, files, current=current,
                        current_chains={s.name: version_chain(s) for s in config.surveys}), None
    except DatabaseUnavailableError as exc:
        return {}, str(exc)
    finally:
        container.database().close()


def _find(found, prefix: str):
    matches = [v for v in found if v.version.startswith(prefix)]
    if len(matches) != 1:
        known = ", ".join(v.version for v in found) or "none"
        raise DataError(f"{'no' if not matches else 'more than one'} version starts with {prefix!r} (known: {known})")
    return matches[0]


def _print_versions(config, found, current: str, use: dict) -> None:
    from virtualobserver.adapters.cli.prune_command import row_summary, size

    if not found:
        print(f"project {config.name}: no version manifest yet (`vo run` writes one when it starts; "
              "`vo versions --record` writes it now)")
    for info in found:
        mark = "*" if info.current else " "
        code = info.manifest.get("code", {})
        surveys = ", ".join(f"{name} analysis {chain.get('analysis', '?')}"
                            for name, chain in info.manifest.get("versions", {}).items())
        catalogs = ", ".join(h[:12] for h in info.catalog_hashes) or "-"
        print(f"{mark} {info.version}  {info.created}  code {code.get('version', '?')}  catalog {catalogs}  {surveys}")
        disk = use.get(info.version)
        if disk is not None:
            steps = ", ".join(f"{_STEP_PRODUCTS[step]} {size(n)}" for step, n in disk.by_step.items() if n)
            print(f"      disk {size(disk.bytes)} in {disk.files} files ({steps or 'none'}); pruning it frees "
                  f"{size(disk.frees)}")
            print(f"      rows: {row_summary(disk.rows)}")
        for d in info.changes:
            print(f"      {d.key}: {d.old!r} -> {d.new!r}")
        if len(info.revisions):
            print(f"      (+{len(info.revisions)} later manifest(s) with other non-science settings or catalog)")
    if current not in {v.version for v in found}:
        print(f"current configuration: version {current} (no manifest yet)")


def plot(args: argparse.Namespace) -> int:
    """``vo plot CONFIG --out FIGURE``: a source's lightcurves with detections, or the efficiency map."""
    if args.what == "lightcurves" and not args.source:
        raise DataError("vo plot --what lightcurves needs --source NAME")
    if args.stamps and args.what != "lightcurves":
        raise DataError("vo plot --stamps draws a source's detections: it does not go with --what efficiency")

    def action(products):
        survey = products.survey(args.survey)
        if args.stamps:
            from virtualobserver.adapters.figures.stamps import plot_stamps

            stamped = list(products.stamps(survey.name, names=[args.source]))
            if not stamped:
                raise DataError(f"source {args.source!r} has no detection with image stamps at the current "
                                f"version of {survey.name}")
            return plot_stamps(stamped, args.out)
        if args.what == "efficiency":
            from virtualobserver.adapters.figures.efficiency import plot_efficiency

            histograms = products.histograms("efficiency", survey.name)
            if histograms is None:
                raise DataError(f"no efficiency map at the current version of {survey.name} (run `vo simulate` first)")
            return plot_efficiency(histograms, args.out)
        from virtualobserver.adapters.figures.lightcurves import plot_lightcurves
        from virtualobserver.services.product_tables import flux_unit

        item = products.source(args.source, survey.name, include_simulated=args.simulated)
        if item is None:
            raise DataError(f"project {products.name!r} has no source {args.source!r}")
        products.load(item.lightcurves)
        unit = flux_unit(survey.name)
        label = f"Flux [{unit.to_string()}]" if unit is not None else \
            f"Flux [10^(-0.4 (mag - {survey.reduction.zero_point:g}))]"
        return plot_lightcurves(item, args.out, flux=args.flux, flux_label=label, scores=products.epoch_scores(item),
                                injections=products.injections(item) if args.simulated else None)

    path = _with_products(args, action, "drawing the figure")
    what = "stamps" if args.stamps else args.what
    if args.json:
        print(json.dumps({"what": what, "output": str(path)}))
    else:
        print(f"wrote {what} figure to {path}")
    return 0
