"""``vo init CATALOG``: a commented project configuration for a catalog file, with its columns recognised."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

# Cheap at import (no numpy, no astropy): `vo --help` builds this command's parser. The readers are
# imported where the command runs.
from virtualobserver.adapters.config_template import SURVEY_BLOCKS, ProjectDraft, render_config
from virtualobserver.adapters.files.atomic import atomic_path
from virtualobserver.domain.catalog_columns import REQUIRED_ROLES, ROLES, recognise
from virtualobserver.domain.errors import CatalogError, ConfigError

if TYPE_CHECKING:
    from virtualobserver.adapters.catalogs.describe import CatalogDescription

__all__ = ["add_init_parser", "init_project", "DEFAULT_SURVEY"]

#: Survey of a configuration when no --survey is given: public, all-sky north of -30 deg, every kind of star.
DEFAULT_SURVEY = "ztf"
#: Roles that have a flag to choose their column (the others are taken only when unambiguous).
_FLAG_ROLES = ("name", "ra", "dec", "mag")
#: Units the optional columns must have when the file states one (the first is the one vo reads).
_UNITS = {"pmra": ("mas / yr", "mas yr-1"), "pmdec": ("mas / yr", "mas yr-1"), "parallax": ("mas",)}
_ROLE_WORDS = {"name": "source names", "ra": "right ascension", "dec": "declination", "mag": "magnitude",
               "pmra": "proper motion in RA", "pmdec": "proper motion in Dec", "parallax": "parallax"}


def add_init_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``init`` on ``subparsers``; its handler is ``args.handler`` (:func:`init_project`).

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
        "init", help="write a commented project configuration for a catalog file (columns recognised)",
        description="Read a catalog (CSV, ECSV, FITS, VOTable, HDF5), recognise its name, RA, Dec and magnitude "
                    "columns by UCD, unit or common name, and write a project configuration that runs.")
    sub.add_argument("catalog", help="the catalog file")
    sub.add_argument("--survey", action="append", choices=sorted(SURVEY_BLOCKS), default=None,
                     help=f"survey to search (repeat for several; default {DEFAULT_SURVEY})")
    sub.add_argument("--out", default=None,
                     help="configuration to write (default configs/<catalog name>.yaml)")
    sub.add_argument("--name", default=None, help="project name (default: the configuration's file name)")
    for role in _FLAG_ROLES:
        extra = " ('none': no magnitude)" if role == "mag" else ""
        sub.add_argument(f"--{role}-column", default=None, metavar="COLUMN",
                         help=f"the catalog's column of {_ROLE_WORDS[role]}{extra} (default: recognised)")
    sub.add_argument("--epoch", type=float, default=None,
                     help="Julian year of the positions (default: the file's reference epoch, else 2000.0)")
    sub.add_argument("--offline", action="store_true",
                     help="real surveys use only answers already cached or ingested (`vo ingest`), never the network")
    sub.add_argument("--force", action="store_true", help="overwrite the configuration if it exists")
    sub.set_defaults(handler=init_project)
    return sub


def init_project(args: argparse.Namespace) -> int:
    """Run ``vo init``: recognise the columns, write the configuration, check that it loads and reads.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`add_init_parser`.

    Returns
    -------
    int
        0 on success (bad input is raised as :class:`domain.errors.VOError`: exit 2).
    """
    from virtualobserver.adapters.catalogs.describe import describe_catalog

    catalog = Path(args.catalog)
    out = Path(args.out) if args.out else Path("configs") / f"{_stem(catalog)}.yaml"
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError("the configuration must end in .yaml or .yml", key="--out", source="command line")
    if out.exists() and not args.force:
        raise ConfigError(f"{out} exists; use --force to overwrite it", key="--out", source="command line")
    description = describe_catalog(catalog)
    columns, standard, reasons, notes = _choose_columns(description, args, catalog)
    epoch, epoch_reason = _epoch(description, args, columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    surveys = list(dict.fromkeys(args.survey or [DEFAULT_SURVEY]))
    draft = ProjectDraft(
        name=args.name or _stem(out), catalog_path=_catalog_path(catalog, out),
        columns={role: (columns[role], reasons[role]) for role in columns if columns[role] != role},
        standard=standard, notes=notes, epoch=epoch, epoch_reason=epoch_reason, surveys=surveys,
        offline=args.offline, source=str(catalog), selected=description.rows)
    text = render_config(draft, str(out))
    with atomic_path(out) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
        _check(Path(temporary))  # a configuration that would not run is never left under the name
    _print_summary(out, description, columns, reasons, epoch, epoch_reason, surveys, notes, not args.survey)
    return 0


def _catalog_path(catalog: Path, out: Path) -> str:
    # Relative to the configuration (as configs/*.yaml are) when the catalog is part of the working tree,
    # so the pair can be moved together; absolute when it lies elsewhere.
    catalog = catalog.resolve()
    if catalog.is_relative_to(Path.cwd().resolve()):
        return os.path.relpath(catalog, out.parent.resolve())
    return str(catalog)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".fits", ".fit", ".ecsv", ".csv", ".vot", ".votable", ".xml", ".hdf5", ".h5", ".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name or "project"


def _choose_columns(description: CatalogDescription, args, catalog: Path) -> tuple[dict, list, dict, list]:
    """Return role -> column, the roles found under their standard name, role -> why, and notes on columns left out."""
    infos = {info.name: info for info in description.columns}
    chosen: dict[str, str] = {}
    reasons: dict[str, str] = {}
    # Columns the user named first, so that recognition never hands one of them to another role.
    for role in _FLAG_ROLES:
        given = getattr(args, f"{role}_column")
        if given is None or (role == "mag" and given.lower() == "none"):
            continue
        if given not in infos:
            raise CatalogError(f"no column {given!r} (have: {', '.join(infos)})", path=catalog,
                               field=f"--{role}-column")
        chosen[role], reasons[role] = given, "chosen with --" + role + "-column"
    for role in ROLES:
        if role in chosen or (role == "mag" and args.mag_column is not None):
            continue
        found = recognise(description.columns, role, taken=list(chosen.values()))
        if found.column is not None:
            chosen[role], reasons[role] = found.column, f"recognised by {found.reason}"
        elif found.candidates and role in _FLAG_ROLES:
            raise CatalogError(f"{len(found.candidates)} columns could be the {_ROLE_WORDS[role]} "
                               f"({', '.join(found.candidates)}: {found.reason}); choose one with --{role}-column",
                               path=catalog, field=role)
        elif role in REQUIRED_ROLES:
            raise CatalogError(f"no column recognised as the {_ROLE_WORDS[role]} (have: {', '.join(infos)}); "
                               f"choose one with --{role}-column", path=catalog, field=role)
    for role in ("ra", "dec"):
        _check_degrees(infos[chosen[role]], role, catalog)
    notes = []
    for role, units in _UNITS.items():
        unit = infos[chosen[role]].unit.strip() if role in chosen else ""
        if unit and unit not in units:
            if chosen[role] == role:  # read under its own name whatever the configuration says
                raise CatalogError(f"column {role!r} is in {unit}: vo reads {_ROLE_WORDS[role]} in {units[0]}",
                                   path=catalog, field=role)
            # Proper motions and parallaxes only move the positions a little: leave one out rather than stop.
            notes.append(f"{chosen.pop(role)} ({_ROLE_WORDS[role]}) is in {unit}, not {units[0]}: not used")
            reasons.pop(role)
    standard = [role for role in ROLES if chosen.get(role) == role]
    return chosen, standard, reasons, notes


def _check_degrees(info, role: str, catalog: Path) -> None:
    if not info.numeric:
        raise CatalogError(f"column {info.name!r} ({_ROLE_WORDS[role]}) holds text, not numbers: vo needs decimal "
                           f"degrees (sexagesimal positions must be converted first)", path=catalog, field=role)
    unit = info.unit.strip().lower()
    if unit and unit not in ("deg", "degree", "degrees"):
        raise CatalogError(f"column {info.name!r} ({_ROLE_WORDS[role]}) is in {info.unit}: vo needs degrees",
                           path=catalog, field=role)


def _epoch(description: CatalogDescription, args, columns: dict) -> tuple[float, str]:
    if args.epoch is not None:
        return args.epoch, "chosen with --epoch"
    # A J2000 position column (VizieR's RAJ2000 beside its Epoch column of 2016.0) is at 2000 whatever
    # epoch the file's other positions have.
    if "2000" in columns["ra"]:
        return 2000.0, f"the column name {columns['ra']}"
    if len(set(description.epochs.values())) == 1:
        column, value = next(iter(description.epochs.items()))
        return value, f"the file's {column} column"
    return 2000.0, "assumed (set it if your positions are of another epoch; Gaia DR3: 2016.0)"


def _check(path: Path) -> None:
    from virtualobserver.adapters.catalogs.files import FileCatalogReader
    from virtualobserver.adapters.config_file import load_config
    from virtualobserver.adapters.container import SURVEYS

    config = load_config(path, survey_parameters={n: c.parameters_class for n, c in SURVEYS.items()})
    FileCatalogReader().read(config.catalog)  # names unique, positions in range: what a run would refuse


def _print_summary(out: Path, description, columns: dict, reasons: dict, epoch: float, epoch_reason: str,
                   surveys: list, notes: list, defaulted: bool) -> None:
    print(f"read {description.rows} rows ({description.format}); columns:")
    for role in ROLES:
        if role in columns:
            print(f"  {role:<9} {columns[role]:<24} {reasons[role]}")
    print(f"  epoch     {epoch:<24} {epoch_reason}")
    for note in notes:
        print(f"  {note}")
    print(f"wrote {out} (surveys: {', '.join(surveys)}); next: vo run {out}")
    if defaulted:
        print(f"the survey is {DEFAULT_SURVEY} by default; --survey chooses ({', '.join(sorted(SURVEY_BLOCKS))}, "
              "repeated for several)")
