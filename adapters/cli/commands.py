"""Implementations of the ``vo`` sub-commands over the container."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from virtualobserver.adapters.cli.failure_classes import failure_lines
from virtualobserver.adapters.cli.progress import LogProgress, RichProgress, phase
from virtualobserver.adapters.config_file import parse_overrides
from virtualobserver.adapters.container import Container, build_container, close_container
from virtualobserver.domain.config import parse_workers
from virtualobserver.domain.errors import ConfigError
from virtualobserver.services.rates import efficiency_includes

__all__ = ["run", "simulate", "status", "ingest", "top", "export", "db", "tui", "tui_container", "make_container"]


def make_container(args: argparse.Namespace, progress=None) -> Container:
    """Build the composition root for a command's arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (``config``, ``set``, ``download_threads``, ``workers``, ``scheduler`` and
        ``dashboard`` where present; ``workers`` counts batch worker processes, not threads).
    progress : ProgressSink, optional
        Sink for progress events.

    Returns
    -------
    Container
        The wired container.
    """
    _check_counts(args)
    phase(args, "reading the configuration")
    workers = getattr(args, "workers", 1)
    if workers is not None:  # None: the configuration's project.workers (default auto)
        workers = parse_workers(workers, key="--workers", source="command line")
    return build_container(getattr(args, "config", None), parse_overrides(getattr(args, "set", [])),
                           workers=getattr(args, "download_threads", 4), progress=progress,
                           batch_workers=workers, scheduler=getattr(args, "scheduler", None),
                           dashboard=getattr(args, "dashboard", None))


#: Options that count something, and the least each may be (`--limit 0` is a valid dry selection).
_COUNTS = {"download_threads": 1, "limit": 0, "radius_arcsec": 0}  # --workers: checked as it is parsed (N or auto)


def _check_counts(args: argparse.Namespace) -> None:
    # argparse checks the type only: `--download-threads 0` would reach a thread pool as a ValueError
    # ("unexpected error"), a negative `--limit` would silently select from the end.
    for name, least in _COUNTS.items():
        value = getattr(args, name, None)
        if value is not None and not value >= least:  # `not >=`: NaN (--radius-arcsec nan) fails too
            raise ConfigError(f"must be at least {least}, got {value}", key="--" + name.replace("_", "-"),
                              source="command line")


def _progress(args: argparse.Namespace):
    # The terminal's display main() started, else log lines (a batch job's log shows how far it got).
    return getattr(args, "progress", None) or (RichProgress() if sys.stderr.isatty() else LogProgress())


def _with_project(args: argparse.Namespace, action, progress=None, doing: str | None = None):
    """Validate the configuration, then call ``action(project)`` and release the database after it.

    ``doing`` says on a terminal's progress display what the action does.
    """
    container = make_container(args, progress)
    container.project_config()  # a bad configuration fails here, before the database is touched
    try:
        phase(args, "opening the database")
        project = container.project()
        phase(args, doing or "working")
        return action(project)
    finally:
        close_container(container)


def _report(project, report) -> dict:
    # processes: how many processes ran the batches (this one, or a cluster's workers).
    return {**report.as_dict(), "processes": len(report.processes), "status": project.status()}


#: ``vo run`` and ``vo simulate`` finished, but some sources failed (kept pending: the next run retries them).
EXIT_SOURCES_FAILED = 4


def _run_code(summary: dict) -> int:
    return EXIT_SOURCES_FAILED if summary["failures"] else 0


def run(args: argparse.Namespace) -> int:
    """``vo run CONFIG``: run the workflow and print a summary; exit 4 when sources failed."""
    summary = _with_project(args, lambda p: _report(p, p.run(limit=args.limit)), _progress(args),
                           doing="selecting the sources")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_run(summary)
    return _run_code(summary)


def simulate(args: argparse.Namespace) -> int:
    """``vo simulate CONFIG``: run simulation mode alone over the analysed sources; exit 4 when sources failed."""
    summary, efficiency, includes = _with_project(
        args, lambda p: (_report(p, p.simulate(limit=args.limit)), p.histograms("efficiency"),
                         {s.name: efficiency_includes(s.simulation) for s in p.config.surveys}), _progress(args),
        doing="selecting the analysed sources")
    if args.json:
        print(json.dumps({**summary, "efficiency_includes": includes}, indent=2))
    else:
        _print_run(summary)
        if efficiency is not None:
            print(_efficiency_table(efficiency))
            for survey, sentences in includes.items():
                print(f"  the efficiency ({survey}) includes " + "; ".join(sentences))
    return _run_code(summary)


def _efficiency_table(efficiency) -> str:
    injected = efficiency.project("injected", "kind")
    recovered = efficiency.project("recovered", "kind")
    rows = [f"  {str(kind):<14} {int(r):>6} / {int(i):<6} = {r / i:6.1%}"
            for kind, i, r in zip(injected["kind"].values, injected.values, recovered.values) if i]
    return "efficiency by kind (recovered / injected):\n" + "\n".join(rows)


def status(args: argparse.Namespace) -> int:
    """``vo status CONFIG``: print counts at the current versions and the size of the raw-answer cache."""
    container = make_container(args)
    container.project_config()
    try:
        phase(args, "opening the database")
        project = container.project()
        phase(args, "counting products")
        summary = project.status()
    finally:
        container.database().close()
    cache = container.raw_cache()
    summary["cache"] = {"path": str(cache.root), "bytes": cache.size_bytes(),
                        "surveys": {s: cache.size_bytes(s) for s in summary.get("surveys", {})}}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_status(summary)
    return 0


def top(args: argparse.Namespace) -> int:
    """``vo top CONFIG``: list sources ranked by a summary statistic of the current analysis."""
    rows = _with_project(args, lambda p: p.summaries(order_by=args.by, limit=args.limit), doing="ranking sources")
    if args.json:
        print(json.dumps([{"source": name, **summary.as_dict()} for name, summary in rows], indent=2))
        return 0
    # best S/N is signed (negative: dimming); kind is that of its detection ('-': the strongest epoch, no
    # detection) and peak MJD its time.
    print(f"{'source':<24} {'best S/N':>9} {'kind':<11} {'peak MJD':>12} {'detections':>10} {'good/epochs':>12} "
          f"{'mag':>7} {'rms':>7}")
    for name, s in rows:
        print(f"{name:<24} {_fmt(s.best_snr, '+.1f'):>9} {s.best_kind or '-':<11} {_fmt(s.best_peak_mjd, '.4f'):>12} "
              f"{s.num_detections:>10} {f'{s.num_good}/{s.num_epochs}':>12} {_fmt(s.mag_median, '.2f'):>7} "
              f"{_fmt(s.rms, '.3f'):>7}")
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def export(args: argparse.Namespace) -> int:
    """``vo export CONFIG WHAT OUTPUT``: write a product table or a merged histogram to a file."""
    from virtualobserver.adapters.files.cf_histograms import write_histograms
    from virtualobserver.adapters.files.tables import write_rows
    from virtualobserver.domain.errors import DataError

    def action(project):
        if args.what in ("detections", "injections", "summaries"):
            return write_rows(project.export(args.what, include_simulated=args.include_simulated), args.output)
        histograms = project.histograms(args.what)
        if histograms is None:
            raise DataError(f"no histogram {args.what!r} at the current version (run or simulate first)")
        write_histograms(histograms, args.output)
        return histograms.total(histograms.variables[0])

    count = _with_project(args, action, doing=f"writing {args.what}")
    if args.json:
        print(json.dumps({"what": args.what, "output": args.output, "count": count}))
    else:
        print(f"wrote {args.what} ({count} {'rows' if args.what in ('detections', 'injections', 'summaries') else 'counts'}) to {args.output}")
    return 0


def db(args: argparse.Namespace) -> int:
    """``vo db upgrade``: migrate the schema of the configured database to head."""
    container = make_container(args)
    database = container.database()
    try:
        revision = database.upgrade()
        print(f"database schema is up to date (revision {revision}, {database.safe_url})")
    finally:
        database.close()
    return 0


def tui(args: argparse.Namespace) -> int:
    """``vo tui [CONFIG | FOLDER]``: open the terminal user interface (on CONFIG's project, or on the project
    list of FOLDER, default ./configs)."""
    from virtualobserver.tui.app import VirtualObserverApp

    container = tui_container(args)
    try:
        project = container.project() if container.config_path() else None
        app = VirtualObserverApp(project=project, workspace=container.workspace())
        app.run()
    finally:
        close_container(container)
    return app.return_code or 0


def tui_container(args: argparse.Namespace) -> Container:
    """The container of ``vo tui``: CONFIG's project, or the project files of a folder.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``vo tui`` arguments; ``config`` is a project file, a folder or None.

    Returns
    -------
    Container
        With ``config_path`` set for a file, ``project_folder`` for a folder.

    Raises
    ------
    ConfigError
        If the file is not a valid configuration, or ``--set`` is given with a folder.
    """
    folder = None
    if args.config and Path(args.config).is_dir():
        # A folder of project files: list those (instead of ./configs) and open none.
        if args.set:
            raise ConfigError("--set applies to a project file, not to a folder", key="--set", source="command line")
        folder, args = args.config, argparse.Namespace(**{**vars(args), "config": None})
    container = make_container(args)
    if folder is not None:
        container.project_folder.override(folder)
    if args.config:
        container.project_config()  # a bad configuration is a one-line error before the screen opens
    return container


#: What each stage's products are (a run's summary names them, not "products").
_MADE = {"download": "raw data", "reduce": "lightcurves", "analyse": "detections", "simulate": "injections"}


def _print_run(summary: dict) -> None:
    print(f"project {summary['status']['project']}: {summary['selected']} sources selected, "
          f"{summary['new_sources']} new")
    for stage, made in _MADE.items():
        if stage not in summary:
            continue
        s = summary[stage]
        print(f"  {stage:<9} done {s['done']:>6}  skipped {s['skipped']:>6}  failed {s['failed']:>4}"
              f"  {made:<11} {s['products']:>6}")
    if summary["selected"] == 0:
        print("no catalog rows pass the selection: nothing to do (check catalog.selection and --limit)")
    elif summary["nothing_to_do"]:
        print("nothing to do: every selected source is already done at the current versions")
    for line in failure_lines(summary["failures"]):
        print(f"  {line}")
    _print_status(summary["status"], failures=not summary["failures"])  # each failure once
    if summary["failures"]:
        print("the failed sources stay pending: `vo run` again retries them (exit code 4)")


def ingest(args: argparse.Namespace) -> int:
    """``vo ingest CONFIG SURVEY FILE...``: add survey files the user has as raw data of their sources."""
    report = _with_project(args, lambda p: p.ingest(args.survey, args.files, source_name=args.source,
                                                    radius_arcsec=args.radius_arcsec), doing="reading the files")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for name, files in report.ingested.items():
            print(f"ingested {len(files)} file(s) as {args.survey} raw data of {name}")
        for name, files in report.kept.items():
            print(f"kept: {name} already has {args.survey} raw data of this version ({len(files)} file(s) not used)")
        for path, reason in report.failed.items():
            print(f"failed: {path}: {reason}")
        if report.ingested:
            print("run `vo run` to reduce and analyse them")
    return 0 if not report.failed else 2


#: Rows of the status table: key and what it counts (the simulation rows only when something was simulated).
_STATUS_ROWS = (("sources", "sources"), ("downloaded", "sources with raw data"), ("reduced", "sources reduced"),
                ("analysed", "sources analysed"), ("lightcurves", "lightcurves"), ("detections", "detections (real)"),
                ("failed", "failures (source and step)"))
_SIMULATION_ROWS = (("simulated", "sources simulated"), ("injections", "injected events"),
                    ("detections_simulated", "simulated detections"))


def _print_status(status: dict, *, failures: bool = True) -> None:
    # Two columns: the sources this configuration selects, and every source the project holds (an earlier
    # or wider selection left its own); both at the current versions.
    selected = status.get("selected")
    rows = _STATUS_ROWS + (_SIMULATION_ROWS if status.get("simulated") else ())
    print(f"{'at the current versions':<28} {'selected by this config':>23} {'all in the project':>19}")
    for key, label in rows:
        mine = "-" if selected is None else selected[key]
        print(f"  {label:<26} {mine:>23} {status[key]:>19}")
    if selected is not None and selected["registered"] < selected["sources"]:
        print(f"  ({selected['sources'] - selected['registered']} selected sources are not in the project yet: "
              "`vo run` adds them)")
    if status.get("selected_error"):
        print(f"  (selection not counted: {status['selected_error']})")
    stages = sorted({failure["stage"] for failure in status["failures"]}) if failures else []
    for stage in stages:
        by_source = {f["source"]: f["message"] for f in status["failures"] if f["stage"] == stage}
        for line in failure_lines(by_source):
            print(f"  at {stage}: {line}")
