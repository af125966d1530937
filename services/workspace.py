"""The projects a user can open: project files (YAML) found on disk and the projects in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import VOError
from virtualobserver.services.ports import AbstractUnitOfWork, ProjectRecord

__all__ = ["ConfigEntry", "Workspace", "list_projects"]


def list_projects(uow_factory: Callable[[], AbstractUnitOfWork]) -> list[ProjectRecord]:
    """Return every project of the database with its per-version step counts.

    Parameters
    ----------
    uow_factory : callable
        Returns a new unit of work.

    Returns
    -------
    list of ProjectRecord
        By project name.
    """
    with uow_factory() as uow:
        return uow.projects.list()


@dataclass
class ConfigEntry:
    """A project file and what it configures (or why it cannot be read).

    Attributes
    ----------
    path : str
        The YAML file.
    project : str or None
        Name of the project it configures (None if it is invalid).
    description : str
        Its free-text description.
    versions : dict
        Survey -> stage (``download``, ``reduce``, ``analyse``, ``simulate``) -> current version.
    error : str or None
        Why the file is not a valid configuration.
    """

    path: str
    project: str | None = None
    description: str = ""
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    error: str | None = None


def _versions(config: ProjectConfig) -> dict[str, dict[str, str]]:
    return {s.name: {"download": s.download_version, "reduce": s.reduction_version,
                     "analyse": s.analysis_version, "simulate": s.simulation_version} for s in config.surveys}


class Workspace:
    """Finds project files, lists the database's projects and opens a project from its file.

    The composition root supplies how files are found and read and how a
    :class:`~services.project.Project` is built, so the user interface needs
    nothing but this object.

    Parameters
    ----------
    uow_factory : callable
        Returns a new unit of work.
    find_configs : callable
        Returns the paths of the candidate project files.
    load_config : callable
        Reads and validates one file into a :class:`ProjectConfig` (raises a VOError if invalid).
    make_project : callable
        Builds the project of a configuration.
    """

    def __init__(self, uow_factory: Callable[[], AbstractUnitOfWork], *,
                 find_configs: Callable[[], Sequence[str]], load_config: Callable[[str], ProjectConfig],
                 make_project: Callable[[ProjectConfig], object]):
        self.uow_factory = uow_factory
        self.find_configs = find_configs
        self.load_config = load_config
        self.make_project = make_project

    def projects(self) -> list[ProjectRecord]:
        """Return the database's projects (see :func:`list_projects`)."""
        return list_projects(self.uow_factory)

    def configs(self) -> list[ConfigEntry]:
        """Return every project file found, read and validated (an invalid one carries its error)."""
        entries = []
        for path in self.find_configs():
            try:
                config = self.load_config(path)
            except VOError as exc:
                entries.append(ConfigEntry(str(path), error=" ".join(str(exc).split())))
                continue
            entries.append(ConfigEntry(str(path), config.name, config.description, _versions(config)))
        return entries

    def open(self, path: str):
        """Return the project configured by the file ``path``.

        Raises
        ------
        ConfigError
            If the file is not a valid configuration.
        """
        return self.make_project(self.load_config(path))
