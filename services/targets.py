"""Select the targets of a project from its catalog."""

from __future__ import annotations

from domain.config import ProjectConfig
from domain.source import Source
from services.ports import CatalogReader

__all__ = ["select_targets"]


def select_targets(config: ProjectConfig, reader: CatalogReader, limit: int | None = None) -> list[Source]:
    """Read the project's catalog, apply its selection and return the sources.

    Parameters
    ----------
    config : ProjectConfig
        Project configuration (catalog spec and selection).
    reader : CatalogReader
        Port that reads the catalog file.
    limit : int, optional
        Keep only the first ``limit`` selected rows (catalog order).

    Returns
    -------
    list of Source
        Selected sources, tagged with the project name.

    Raises
    ------
    CatalogError, SelectionError
        If the catalog or the selection is invalid.
    """
    catalog = reader.read(config.catalog).select(config.catalog.selection)
    sources = catalog.sources(project=config.name)
    return sources if limit is None else sources[:limit]
