"""Select the targets of a project from its catalog."""

from __future__ import annotations

import math
from typing import Callable

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import CatalogError
from virtualobserver.services.ports import AbstractUnitOfWork, CatalogReader

__all__ = ["selected_catalog", "check_known_sources"]

#: Rows compared per query.
_CHUNK = 10_000


def selected_catalog(config: ProjectConfig, reader: CatalogReader) -> Catalog:
    """Read the project's catalog and return its selected rows (columns only, no Source objects).

    Sources are then made a batch at a time (:meth:`Catalog.batches`), so a large
    catalog streams through with memory that does not grow with its length.

    Parameters
    ----------
    config : ProjectConfig
        Project configuration (catalog spec and selection).
    reader : CatalogReader
        Port that reads the catalog file.

    Returns
    -------
    Catalog
        The selected rows.

    Raises
    ------
    CatalogError, SelectionError
        If the catalog or the selection is invalid.
    """
    return reader.read(config.catalog).select(config.catalog.selection)


def check_known_sources(catalog: Catalog, project: str, uow_factory: Callable[[], AbstractUnitOfWork],
                        stop: int | None = None) -> None:
    """Refuse catalog rows that give a source already in the project other values than it was stored with.

    A source is known by its name, and every step skips what is done for that name: a row whose
    position (or magnitude, proper motion, parallax, epoch) was edited would otherwise be ignored, its
    old products kept, silently. Versions do not follow the catalog (adding rows must not redo the
    finished sources), so a changed row is an error, naming the source and the field.

    Parameters
    ----------
    catalog : Catalog
        The selected rows.
    project : str
        Project name.
    uow_factory : callable
        Returns a unit of work.
    stop : int, optional
        Only the first ``stop`` rows (a run's ``--limit``).

    Raises
    ------
    CatalogError
        Naming the catalog file, the row, the field and the source, with the stored and the new value.
    """
    end = len(catalog) if stop is None else min(stop, len(catalog))
    with uow_factory() as uow:
        fields = uow.sources.VALUE_FIELDS
        for start in range(0, end, _CHUNK):
            names = [str(n) for n in catalog.columns["name"][start:min(start + _CHUNK, end)]]
            stored = uow.sources.stored_values(project, names)
            if not stored:
                continue
            for i, name in enumerate(names, start):
                if name not in stored:
                    continue
                for field, old in zip(fields, stored[name]):
                    new = catalog.epoch if field == "epoch" else _value(catalog, field, i)
                    if not _same(old, new):
                        raise CatalogError(
                            f"source {name!r} is already in project {project!r} with {field} = {old}, and the "
                            f"catalog now gives {new}; its products were made with the old value and would be "
                            "kept silently. Restore the row, give the changed source a new name, or use a new "
                            "project name", path=catalog.name, row=int(catalog.row_numbers[i]), field=field)


def _value(catalog: Catalog, field: str, i: int):
    column = catalog.columns.get(field)
    return None if column is None else float(column[i])


def _same(old, new) -> bool:
    # Missing (None) and NaN mean the same: no value. Values are stored as doubles, so equal ones compare equal.
    old_missing = old is None or (isinstance(old, float) and math.isnan(old))
    new_missing = new is None or (isinstance(new, float) and math.isnan(new))
    if old_missing or new_missing:
        return old_missing and new_missing
    return float(old) == float(new)
