"""``vo doctor CONFIG [--repair | --rebuild-db | --cluster]``: check that records and files agree, and repair them;
or that a cluster's workers reach the same database and data folder."""

from __future__ import annotations

import argparse
import contextlib
import json

__all__ = ["add_doctor_parser", "doctor"]

#: Exit code when problems were found (and, with --repair, some could not be repaired).
PROBLEMS_FOUND = 3


def add_doctor_parser(commands, project_command) -> None:
    """Register ``doctor`` (it sets ``args.handler``)."""
    sub = project_command("doctor", "check that every file has a record and every record a readable file; "
                                    "--repair quarantines orphans and removes what is broken, to be re-made")
    mode = sub.add_mutually_exclusive_group()
    mode.add_argument("--repair", action="store_true",
                      help="move orphan and temporary files to $VO_DATA/quarantine/, remove records whose files "
                           "are missing or corrupt (and what was made from them), so the next run re-makes them")
    mode.add_argument("--rebuild-db", action="store_true",
                      help="the database was lost: re-create the raw-data and lightcurve records from the files, "
                           "then repair; the next run redoes the analysis")
    mode.add_argument("--cluster", action="store_true",
                      help="check that every worker of the cluster (--scheduler, or a local one of --workers) "
                           "reaches this database and data folder, and that database sessions are kept (no "
                           "transaction-mode pooler: the batch leases need session-level advisory locks)")
    sub.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="with --cluster: the existing Dask cluster to check (tls://HOST:PORT)")
    sub.add_argument("--workers", default="auto", metavar="N|auto",
                     help="with --cluster and no --scheduler: the local cluster to start (default auto)")
    sub.set_defaults(handler=doctor)


def doctor(args: argparse.Namespace) -> int:
    """Run the doctor; exit 0 when healthy (or fully repaired), 3 when problems remain."""
    from virtualobserver.adapters.cli.commands import make_container
    from virtualobserver.adapters.cli.progress import phase, stage_progress
    from virtualobserver.adapters.files.data_folder import ProductFolder
    from virtualobserver.adapters.postgres.doctor_records import SqlRecordIndex
    from virtualobserver.services.doctor import Doctor
    from virtualobserver.services.targets import selected_catalog

    if args.cluster:
        return cluster_doctor(args)
    container = make_container(args)
    config = container.project_config()  # a bad configuration fails here, before the database is touched
    try:
        phase(args, "opening the database")
        engine = container.database().engine
        medic = Doctor(config, lambda: SqlRecordIndex(engine), ProductFolder(container.data_dir()),
                       progress=stage_progress(args))
        changing = args.repair or args.rebuild_db
        # Hold the project's run lock while changing things: a run's uncommitted files look like orphans.
        lock = container.run_lock().hold(config.name) if changing else contextlib.nullcontext()
        with lock:
            actions = []
            if args.rebuild_db:
                phase(args, "re-creating records from the files")
                catalog = selected_catalog(config, container.catalog_reader())
                sources = [s for batch in catalog.batches(config.batch_size, config.name, None) for s in batch]
                actions = medic.rebuild_database(container.uow, sources).actions
            # After a rebuild, only report: files no row names yet (analyses, other projects' products)
            # are re-made or claimed by the next runs, and --repair sets aside what is left.
            phase(args, "reading every file and record" + (", then repairing" if args.repair else ""))
            report = medic.repair() if args.repair else medic.check()
            report.actions[:0] = actions
    finally:
        container.database().close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report, "repair" if args.repair else "rebuild" if args.rebuild_db else "check")
    if args.rebuild_db:
        return 0
    unrepaired = [f for f in report.findings if not (args.repair and f.repairable)]
    return PROBLEMS_FOUND if unrepaired else 0


def _print(report, mode: str) -> None:
    print(f"checked {report.files} files and {report.records} records: "
          + ("healthy" if report.healthy else f"{len(report.findings)} problems"))
    for finding in report.findings:
        print(f"  {finding.line()}")
    for action in report.actions:
        print(f"  {action}")
    if report.findings and mode == "check":
        print("run `vo doctor CONFIG --repair` to repair (files are quarantined, never deleted)")
    elif report.findings and mode == "rebuild":
        print("after the next `vo run`, `vo doctor CONFIG --repair` sets aside the files no record claims")


def cluster_doctor(args: argparse.Namespace) -> int:
    """``vo doctor CONFIG --cluster``: every worker's database and data folder, and the sessions; exit 3 on a problem.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (``config``, ``set``, ``scheduler``, ``workers``, ``json``).

    Returns
    -------
    int
        0 when every worker agrees with this client and sessions are kept, else 3.
    """
    from virtualobserver.adapters.cli.commands import make_container
    from virtualobserver.adapters.container import close_container
    from virtualobserver.adapters.executors.cluster_check import (SESSION_REQUIREMENT, ClusterCheck,
                                                                  sessions_pinned)

    container = make_container(args)
    container.project_config()
    try:
        database, data = container.database(), container.data_dir()
        pinned = sessions_pinned(database.url)
        executor = container.executor()
        lines: list[str] = []
        workers: dict = {}
        if executor.in_process:
            lines.append("one process (one usable core, or --workers 1): no cluster to check")
        else:
            check = ClusterCheck(lambda: database.url, lambda: data)
            expected, workers, seen = check.views(executor.client)
            problems = check.problems_in(expected, workers, seen)
            for address, view in sorted(workers.items()):
                same = not any(line.startswith(f"worker {address} ") for line in problems)
                lines.append(f"worker {address} (host {view.host}, pid {view.pid}): "
                             + ("same database and data folder" if same else "DIFFERS"))
            lines += problems
    finally:
        close_container(container)
    problems_found = any("DIFFERS" in line for line in lines) or not pinned
    sessions = ("sessions: each connection keeps its own server session" if pinned else
                "sessions: two connections shared one server session: a transaction-mode pooler is between "
                "vo and PostgreSQL")
    if args.json:
        print(json.dumps({"workers": len(workers), "lines": lines, "sessions_kept": pinned,
                          "requirement": SESSION_REQUIREMENT, "healthy": not problems_found}, indent=2))
    else:
        print(f"cluster of {len(workers)} workers; database {database.safe_url}; data folder {data}")
        for line in lines:
            print(f"  {line}")
        print(f"  {sessions}")
        print(f"  requirement: {SESSION_REQUIREMENT}")
    return PROBLEMS_FOUND if problems_found else 0
