"""Select the targets of a project from its catalog."""

from __future__ import annotations

from domain.catalog import Catalog
from domain.config import ProjectConfig
from services.ports import CatalogReader

__all__ = ["selected_catalog"]


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
