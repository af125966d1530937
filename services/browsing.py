"""What a person browses in a project: its catalog, detections (with triage labels), failures, other projects."""

from __future__ import annotations

from typing import Callable

from virtualobserver.domain.config import ProjectConfig, SurveyConfig
from virtualobserver.domain.stamps import Stamps
from virtualobserver.services.catalog_browser import CatalogBrowser, CatalogPage, Cone
from virtualobserver.services.ports import AbstractUnitOfWork, CatalogReader, DataStore
from virtualobserver.services.stamps import detection_stamps
from virtualobserver.services.status import current_failures
from virtualobserver.services.triage import DetectionRow, label_detections, list_detections
from virtualobserver.services.workspace import list_projects

__all__ = ["Browsing"]


class Browsing:
    """Read-mostly queries of a project for interactive use (the TUI, notebooks); :class:`~services.project.Project`
    forwards its browsing methods here.

    Parameters
    ----------
    config : ProjectConfig
        The project's configuration.
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Arrays on disk (the stamps).
    catalog_reader : CatalogReader
        Reads the target catalog.
    survey : callable
        ``survey(name)`` -> the project's SurveyConfig of that name (None: the first), or ConfigError.
    """

    def __init__(self, config: ProjectConfig, *, uow_factory: Callable[[], AbstractUnitOfWork], store: DataStore,
                 catalog_reader: CatalogReader, survey: Callable[[str | None], SurveyConfig]):
        self.config = config
        self.uow_factory = uow_factory
        self.store = store
        self.catalog_reader = catalog_reader
        self._survey = survey
        self._browser: CatalogBrowser | None = None  # made at the first page: it reads the catalog

    @property
    def name(self) -> str:
        """Project name."""
        return self.config.name

    def failures(self) -> list[dict]:
        """Return the current failures (at the current versions), by source name.

        Returns
        -------
        list of dict
            ``source``, ``stage``, ``survey`` and ``message`` of each.
        """
        with self.uow_factory() as uow:
            return current_failures(self.config, uow)

    def detections(self, survey: str | None = None, *, order_by: str = "snr", descending: bool | None = None,
                   include_simulated: bool = False, label: str | None = "any") -> list[DetectionRow]:
        """Return the detections of the current analysis version with their triage labels, sorted.

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the first of the project).
        order_by : str
            ``snr`` (absolute S/N, strongest first), ``time``, ``source``, ``label`` (unjudged first) or
            ``centroid`` (centroid offset significance, largest first; unmeasured last).
        descending : bool, optional
            Reverse the natural direction of ``order_by`` when given.
        include_simulated : bool
            Add the simulated detections of the current simulation version (hidden by default).
        label : str or None
            ``"any"``, None (unlabelled only) or one of ``real``, ``artifact``, ``unsure``.

        Returns
        -------
        list of DetectionRow
            Detection, source name, filter, season and label.
        """
        config = self._survey(survey)
        with self.uow_factory() as uow:
            return list_detections(uow, self.name, config, order_by=order_by, descending=descending,
                                   include_simulated=include_simulated, label=label)

    def label_detections(self, labels: dict[int, str | None]) -> int:
        """Persist triage labels (``real``, ``artifact``, ``unsure``; None clears) by detection id.

        Parameters
        ----------
        labels : dict
            Detection id -> label.

        Returns
        -------
        int
            Detections labelled.

        Raises
        ------
        DataError
            If a label or an id is unknown (nothing is changed then).
        """
        with self.uow_factory() as uow:
            return label_detections(uow, labels)

    def detection_labels(self, detection_ids) -> dict[int, str]:
        """Return the triage labels of the given detections (unlabelled ones are left out).

        Parameters
        ----------
        detection_ids : iterable of int
            Detection ids (as in :meth:`detections`).

        Returns
        -------
        dict of int to str
            Detection id -> ``real``, ``artifact`` or ``unsure``.
        """
        ids = [int(i) for i in detection_ids]
        if not ids:
            return {}
        with self.uow_factory() as uow:
            return uow.triage.labels(ids)

    def source_names(self, limit: int | None = 100_000) -> list[str]:
        """Return the names of the project's registered sources (those a run has seen), sorted.

        Parameters
        ----------
        limit : int, optional
            At most this many (the first by name); None for all.

        Returns
        -------
        list of str
            Source names.
        """
        with self.uow_factory() as uow:
            return [s.name for s in uow.sources.list(self.name, limit=limit)]

    def detection_stamps(self, source_name: str, detection_id: int) -> Stamps | None:
        """Return the reference, peak and difference stamps persisted for a detection (None when it has none).

        Parameters
        ----------
        source_name : str
            The detection's source.
        detection_id : int
            The detection's id (as in :meth:`detections`).

        Returns
        -------
        Stamps or None
            None when the source or detection is unknown at the current analysis version, or the
            detection has no stamps (its survey has no images of it, or it is simulated).

        Raises
        ------
        DataError
            Naming the file, if the stamps on record cannot be read.
        """
        with self.uow_factory() as uow:
            return detection_stamps(uow, self.store, self.config, source_name, detection_id)

    def browse_catalog(self, selection: str = "", cone: Cone | None = None, *, survey: str | None = None,
                       only: str | None = None, offset: int = 0, limit: int = 200) -> CatalogPage:
        """Return a page of the project's selected catalog rows, filtered further, with what the project has of each.

        Parameters
        ----------
        selection : str
            Extra selection expression, applied after ``catalog.selection``.
        cone : Cone, optional
            Keep rows within the cone (see ``services.catalog_browser.parse_cone``), nearest first.
        survey : str, optional
            Survey whose data, lightcurves and detections are flagged (default: the first).
        only : str, optional
            Keep rows with ``data``, ``lightcurves`` or ``detections``.
        offset, limit : int
            The page.

        Returns
        -------
        CatalogPage
            Row counts and the page's rows.

        Raises
        ------
        CatalogError, SelectionError
            If the catalog cannot be read or a selection is invalid.
        """
        config = self._survey(survey)
        if self._browser is None:
            self._browser = CatalogBrowser(self.config, self.catalog_reader, self.uow_factory)
        return self._browser.page(selection, cone, survey=config, only=only, offset=offset, limit=limit)

    def source(self, name: str):
        """Return the persisted source ``name`` of the project (None if no run registered it).

        Parameters
        ----------
        name : str
            Source name.

        Returns
        -------
        Source or None
            With its catalog properties.
        """
        with self.uow_factory() as uow:
            return uow.sources.get_many(self.name, [name]).get(name)

    def projects(self):
        """Return every project in the database with its per-version counts (see ``list_projects``)."""
        return list_projects(self.uow_factory)
