"""``vo catalog-gaia``: a Gaia DR3 cone search saved as a catalog file the project reads."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

# The parser's choices only: the TAP client (requests, numpy, astropy) is imported when the command runs.
from virtualobserver.adapters.catalogs.catalog_formats import OUTPUT_FORMATS

__all__ = ["add_gaia_parser", "catalog_gaia", "BASE_URL_ENV"]

#: Environment variable that points the command at another TAP service (a mirror, or a test server).
BASE_URL_ENV = "VO_GAIA_TAP_URL"
_EXTENSIONS = {".ecsv": "ecsv", ".vot": "votable", ".xml": "votable", ".votable": "votable", ".fits": "fits",
               ".fit": "fits", ".csv": "csv"}


def add_gaia_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``catalog-gaia`` on ``subparsers``; its handler is ``args.handler`` (:func:`catalog_gaia`).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``vo`` sub-command group.

    Returns
    -------
    argparse.ArgumentParser
        The new sub-parser.
    """
    sub = subparsers.add_parser(
        "catalog-gaia", help="save a Gaia DR3 cone search (TAP) as a catalog file",
        description="Query the Gaia archive for the sources in a cone and write them as a catalog file; "
                    "positions are at epoch J2016.0.")
    sub.add_argument("--ra", type=float, required=True, help="centre right ascension (ICRS degrees)")
    sub.add_argument("--dec", type=float, required=True, help="centre declination (ICRS degrees)")
    sub.add_argument("--radius-deg", type=float, required=True, help="cone radius (degrees)")
    sub.add_argument("--where", default="", help="extra ADQL condition over gaia_source columns (any read-only "
                                                 "ADQL condition), e.g. \"phot_g_mean_mag < 18 AND "
                                                 "phot_variable_flag = 'VARIABLE'\"")
    sub.add_argument("--columns", nargs="+", default=None, metavar="COLUMN",
                     help="columns to fetch (default: a useful set; 'all' for all 152)")
    sub.add_argument("--top", type=int, default=None, help="row limit (default: the row_limit parameter; 0 = none)")
    sub.add_argument("--async", dest="async_job", action="store_true",
                     help="run as an asynchronous job (long queries, many rows)")
    sub.add_argument("--out", required=True, help="output catalog file")
    sub.add_argument("--format", choices=sorted(OUTPUT_FORMATS), default=None,
                     help="output format (default: from the extension of --out, else ecsv)")
    sub.add_argument("--base-url", default=None,
                     help=f"TAP service root (default: ${BASE_URL_ENV} or the ESA archive)")
    sub.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                     help="override a Gaia parameter, e.g. row_limit=5000 or rate_limit_per_s=1")
    sub.add_argument("--print-query", action="store_true", help="print the ADQL and stop (no request)")
    sub.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    sub.set_defaults(handler=catalog_gaia)
    return sub


def catalog_gaia(args: argparse.Namespace, *, session=None) -> int:
    """Run ``vo catalog-gaia``: query, write the file, print how to use it as the project catalog.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`add_gaia_parser`.
    session : requests.Session, optional
        HTTP session (tests pass their own).

    Returns
    -------
    int
        0 on success (errors are raised as :class:`domain.errors.VOError`).
    """
    from virtualobserver.adapters.catalogs.gaia_tap import GAIA_CATALOG_COLUMNS, GAIA_DR3_EPOCH, GaiaParameters, GaiaTap
    from virtualobserver.adapters.config_file import parse_overrides

    values = parse_overrides(args.set)
    base_url = args.base_url or os.environ.get(BASE_URL_ENV, "").strip()
    if base_url:
        values["base_url"] = base_url
    parameters = GaiaParameters(source="command line", **values)
    columns = args.columns
    if columns is not None:
        columns = [c for item in columns for c in item.split(",") if c.strip()]
        if [c.lower() for c in columns] in (["all"], ["*"]):
            columns = []
    tap = GaiaTap(parameters, session=session)
    try:
        adql = tap.cone(args.ra, args.dec, args.radius_deg, where=args.where, columns=columns, top=args.top)
        if args.print_query:
            print(adql)
            return 0
        out = Path(args.out)
        out_format = args.format or _EXTENSIONS.get(out.suffix.lower(), "ecsv")
        rows = tap.save_table(adql, out, out_format=out_format, mode="async" if args.async_job else "sync")
    finally:
        if session is None:  # a caller's session is the caller's to close
            tap.close()
    limit = parameters.row_limit if args.top is None else args.top
    summary = {"output": str(out), "format": out_format, "rows": rows, "epoch": GAIA_DR3_EPOCH,
               "row_limit_reached": bool(limit and rows >= limit), "query": adql,
               "catalog": {"path": str(out), "columns": dict(GAIA_CATALOG_COLUMNS), "epoch": GAIA_DR3_EPOCH}}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"wrote {rows} Gaia DR3 sources to {out} ({out_format}; positions at J{GAIA_DR3_EPOCH:.1f})")
    if summary["row_limit_reached"]:
        print(f"the answer reached the row limit ({limit}): raise --top or narrow the cone or --where")
    print("use it in a project configuration as:\n"
          f"  catalog:\n    path: {out}\n    columns: {{name: source_id, mag: phot_g_mean_mag}}\n"
          f"    epoch: {GAIA_DR3_EPOCH}")
    return 0
