"""The ``vo`` command: run, status, export, versions, prune, plot, rate, db upgrade, demo-catalog, tui."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys

from virtualobserver.domain.errors import DatabaseConnectionLost, VOError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``vo``."""
    parser = argparse.ArgumentParser(prog="vo", description="Survey-scale lightcurve searches.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    def project_command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("config", help="project YAML file (e.g. configs/demo.yaml)")
        sub.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
        sub.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                         help="override a configuration value, e.g. observatories.analysis.threshold=4")
        return sub

    run = project_command("run", "download, reduce and analyse the selected sources")
    run.add_argument("--limit", type=int, default=None, help="process only the first N selected sources")
    _executor_arguments(run)
    simulate = project_command("simulate", "inject simulated events into the analysed sources and measure "
                                           "the recovery efficiency")
    simulate.add_argument("--limit", type=int, default=None, help="only the first N sources of the project")
    project_command("status", "counts of the project's products at the current versions")
    from virtualobserver.adapters.cli.product_commands import add_product_parsers

    add_product_parsers(commands, project_command)  # export, versions, plot
    from virtualobserver.adapters.cli.doctor_command import add_doctor_parser

    add_doctor_parser(commands, project_command)  # doctor
    from virtualobserver.adapters.cli.prune_command import add_prune_parser

    add_prune_parser(commands, project_command)  # prune
    from virtualobserver.adapters.cli.rate_command import add_rate_parser

    add_rate_parser(commands, project_command)  # rate
    from virtualobserver.adapters.cli.evidence_command import add_evidence_parser

    add_evidence_parser(commands, project_command)  # evidence
    ingest = project_command("ingest", "add survey files you already have (an IRSA ZTF answer, a TESS lc.fits) "
                                       "as raw data of the matching catalog sources")
    ingest.add_argument("survey", help="survey the files come from (e.g. ztf, tess)")
    ingest.add_argument("files", nargs="+", help="the files")
    ingest.add_argument("--source", default=None, help="catalog name of the source all files belong to "
                                                       "(default: the selected source nearest each file's position)")
    ingest.add_argument("--radius-arcsec", type=float, default=5.0,
                        help="largest distance from a file's position to its source (default 5)")
    top = project_command("top", "sources ranked by a per-source summary statistic, to prioritise follow-up")
    top.add_argument("--by", default="best_snr",
                     choices=["best_snr", "num_detections", "rms", "num_good", "num_epochs", "mag_median",
                              "detections_dropped"],
                     help="summary field to rank by, largest first; best_snr (signed) by its size, the strongest "
                          "brightening or dimming first (default best_snr)")
    top.add_argument("--limit", type=int, default=20, help="how many sources (default 20)")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="upgrade: migrate the schema to the latest revision")
    demo = commands.add_parser("demo-catalog", help="write a synthetic demo catalog (CSV)")
    demo.add_argument("output")
    demo.add_argument("--rows", type=int, default=2400)
    demo.add_argument("--seed", type=int, default=42)
    commands.add_parser("config-reference", help="print the Markdown reference of every configuration key")
    from virtualobserver.adapters.cli.gaia_command import add_gaia_parser

    add_gaia_parser(commands)
    from virtualobserver.adapters.cli.init_command import add_init_parser

    add_init_parser(commands)  # init
    tui = commands.add_parser("tui", help="open the terminal user interface")
    tui.add_argument("config", nargs="?", default=None, metavar="CONFIG|FOLDER",
                     help="project YAML file to open, or a folder whose project files to list (default: list "
                          "./configs and choose one in the app)")
    tui.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                     help="override a configuration value of CONFIG, e.g. observatories.analysis.threshold=4")
    # The TUI runs in this process unless asked: a cluster's log lines would write over the screen.
    _executor_arguments(tui, auto=False)
    return parser


def _executor_arguments(parser: argparse.ArgumentParser, *, auto: bool = True) -> None:
    # `--workers` counts processes doing batches (it used to count download threads, now
    # `--download-threads`): the issue's `vo run CONFIG --workers N` starts N Dask workers.
    if auto:
        parser.add_argument("--workers", default=None, metavar="N|auto",
                            help="worker processes for the batches: auto (the default, unless the project's "
                                 "project.workers says otherwise) one per core this process may use, one process "
                                 "without a cluster on a one-core machine or for a single batch; 1: this process; "
                                 "N > 1 starts a local Dask cluster of N single-threaded workers")
    else:
        parser.add_argument("--workers", default="1", metavar="N|auto",
                            help="worker processes for the batches (default 1: this process); N > 1 or auto starts "
                                 "a local Dask cluster of single-threaded workers")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the batches on an existing Dask cluster (tcp://HOST:PORT) whose workers reach "
                             "the same PostgreSQL server (VO_DATABASE_URL), data folder (VO_DATA) and project file")
    parser.add_argument("--dashboard", nargs="?", const="127.0.0.1:8787", default=None, metavar="ADDRESS",
                        help="serve the local Dask cluster's dashboard (default address 127.0.0.1:8787); off "
                             "unless given, as every user of the machine can see it")
    parser.add_argument("--download-threads", type=int, default=4,
                        help="download threads per process doing batches (default 4; raised to the surveys' "
                             "max_concurrency)")


#: Exit codes of ``vo`` (README.md lists them too).
EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT = 0, 1, 2
#: The database connection was lost mid-run and did not come back within the retries: try again later
#: (sysexits' EX_TEMPFAIL, which batch systems and mail agents already treat as "retry").
EXIT_DATABASE_LOST = 75
#: stdout was closed by its reader (``vo top | head -1``): 128 + SIGPIPE, what a shell reports for a
#: producer cut off, so ``set -o pipefail`` scripts see vo as they see ``cat`` or ``grep``.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    """Run ``vo``; return the exit code.

    0 success; 1 a full disk or an unexpected failure (one line naming the command and, where known,
    the file); 2 bad input (configuration, catalog, selection) or a busy project; 75 the database
    connection was lost and stayed down; 130 interrupted; 141 stdout closed by its reader (quietly).
    README.md lists them too.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit code.
    """
    from virtualobserver.adapters.cli.progress import CloseOnWrite, terminal_progress

    # On a terminal, a spinner from the start (loading the command's modules takes seconds), then its
    # phases and stage bars, on stderr; ended before the first result reaches a terminal's stdout.
    progress = terminal_progress(sys.argv[1:] if argv is None else list(argv))
    if progress is None:
        return _main(argv, None)
    stdout = sys.stdout
    if stdout.isatty():
        sys.stdout = CloseOnWrite(stdout, progress)
    try:
        return _main(argv, progress)
    finally:
        progress.close()
        sys.stdout = stdout


def _main(argv: list[str] | None, progress) -> int:
    args = build_parser().parse_args(argv)
    args.progress = progress
    _exit_cleanly_on_signals()
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe, handled below
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except DatabaseConnectionLost as exc:
        print(f"vo: error: {args.command}: {_one_line(exc)}; everything committed so far is kept, run again "
              "to resume", file=sys.stderr)
        return EXIT_DATABASE_LOST
    except VOError as exc:
        print(f"vo: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("vo: interrupted; everything committed so far is kept, run again to resume", file=sys.stderr)
        return 130
    except OSError as exc:
        if args.debug:
            raise
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            # An environment failure, not a bug: say which file and what to do, no "unexpected".
            print(f"vo: error: {args.command}: {os.strerror(exc.errno)}: cannot write {_file(exc) or 'a file'}; free some "
                  "space and run again (everything committed so far is kept)", file=sys.stderr)
            return EXIT_UNEXPECTED
        return _unexpected(args, exc)
    except Exception as exc:  # noqa: BLE001 - the CLI promises a one-line error
        if args.debug:
            raise
        return _unexpected(args, exc)


def _unexpected(args: argparse.Namespace, exc: BaseException) -> int:
    # Whatever slipped through every specific check still says which command failed, on which file
    # where the error knows one, and how to see more.
    where = f" ({_file(exc)})" if _file(exc) and _file(exc) not in str(exc) else ""
    config = f" {args.config}" if getattr(args, "config", None) else ""
    print(f"vo: unexpected error in 'vo {args.command}{config}': {type(exc).__name__}: {_one_line(exc)}{where} "
          "(use --debug for details)", file=sys.stderr)
    return EXIT_UNEXPECTED


def _file(exc: BaseException) -> str | None:
    # The file an error concerns: an OSError's own, else the first one found along its causes.
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = getattr(exc, "filename", None)
        if name:
            return repr(str(name))
        exc = exc.__cause__ or exc.__context__
    return None


def _quiet_broken_pipe() -> int:
    # The reader is gone (`vo top | head -1`): nothing more can be said on stdout and the user asked for
    # no more, so no message. Point stdout at /dev/null, or the interpreter's final flush would fail again
    # and print "Exception ignored".
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _exit_cleanly_on_signals() -> None:
    # SIGTERM (batch schedulers) and SIGHUP (a dropped SSH session) would otherwise skip atexit
    # handlers: turn them into SystemExit so transactions roll back and the embedded server is released.
    def handler(signum, frame):
        print(f"vo: stopped by {signal.Signals(signum).name}; everything committed so far is kept, "
              "run again to resume", file=sys.stderr)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or unsupported here
            pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "handler", None) is not None:
        return args.handler(args)
    if args.command == "demo-catalog":
        from virtualobserver.adapters.catalogs.demo import write_demo_catalog

        n = write_demo_catalog(args.output, rows=args.rows, seed=args.seed)
        print(f"wrote {n} sources to {args.output}")
        return 0
    if args.command == "config-reference":
        from virtualobserver.adapters.cli.reference import config_reference

        print(config_reference())
        return 0
    from virtualobserver.adapters.cli import commands

    return getattr(commands, args.command.replace("-", "_"))(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
