"""Browse a project's catalog: a further selection, a cone search, and what the project has of each row."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from virtualobserver.domain.astrometry import angular_separation_deg
from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import SelectionError
from virtualobserver.services.ports import AbstractUnitOfWork, CatalogReader, batched
from virtualobserver.services.stages import ANALYSE
from virtualobserver.services.targets import selected_catalog

__all__ = ["Cone", "parse_cone", "CatalogRow", "CatalogPage", "CatalogBrowser", "FLAGS"]

#: What a row can be required to have, for :meth:`CatalogBrowser.page`'s ``only``.
FLAGS = ("data", "lightcurves", "detections")

_UNITS = {"deg": 1.0, "d": 1.0, "°": 1.0, "arcmin": 1 / 60, "m": 1 / 60, "'": 1 / 60,
          "arcsec": 1 / 3600, "s": 1 / 3600, '"': 1 / 3600}


@dataclass(frozen=True)
class Cone:
    """A circle on the sky: centre (ICRS degrees) and radius (degrees)."""

    ra: float
    dec: float
    radius: float


def _angle(text: str, hours: bool) -> float:
    from astropy.coordinates import Angle
    import astropy.units as u

    sexagesimal = ":" in text or any(c in text for c in "hms")
    unit = u.hourangle if hours and sexagesimal and "d" not in text else u.deg
    try:
        return float(Angle(text, unit=unit).deg)
    except (ValueError, u.UnitsError) as exc:
        raise SelectionError(f"cone: cannot read {text!r} as an angle ({exc})") from None


def parse_cone(text: str) -> Cone | None:
    """Read ``"RA DEC RADIUS"`` (e.g. ``150.1 2.2 0.5``, ``10:00:24 +02:12:00 30arcmin``).

    RA and Dec are degrees, or sexagesimal (RA in hours when written ``hh:mm:ss`` or ``10h00m24s``).
    The radius is in degrees unless it ends in ``arcmin`` (or ``'``) or ``arcsec`` (or ``"``).

    Parameters
    ----------
    text : str
        The cone; empty or blank means no cone.

    Returns
    -------
    Cone or None
        The cone, or None for an empty text.

    Raises
    ------
    SelectionError
        If the text is not three angles, or the position is off the sky.
    """
    parts = text.replace(",", " ").split()
    if not parts:
        return None
    if len(parts) != 3:
        raise SelectionError(f"cone: expected 'RA DEC RADIUS', got {text!r}")
    ra, dec = _angle(parts[0], hours=True), _angle(parts[1], hours=False)
    match = re.fullmatch(r"([0-9.eE+-]+)\s*(deg|d|°|arcmin|m|'|arcsec|s|\")?", parts[2])
    if match is None:
        raise SelectionError(f"cone: cannot read the radius {parts[2]!r} (e.g. 0.5, 30arcmin, 10arcsec)")
    try:
        radius = float(match.group(1)) * _UNITS[match.group(2) or "deg"]
    except ValueError:
        raise SelectionError(f"cone: cannot read the radius {parts[2]!r}") from None
    if not (0 <= ra < 360 or np.isclose(ra, 360)) or not -90 <= dec <= 90 or not 0 < radius <= 180:
        raise SelectionError(f"cone: need 0 <= RA < 360, -90 <= Dec <= 90 and 0 < radius <= 180 deg, got {text!r}")
    return Cone(ra % 360.0, dec, radius)




@dataclass
class CatalogRow:
    """One catalog row and what the project holds of it (for the project's first or chosen survey).

    Attributes
    ----------
    name : str
        Catalog name.
    ra, dec : float
        Position (degrees).
    mag : float or None
        Catalog magnitude.
    separation : float or None
        Distance from the cone's centre (degrees), when browsing a cone.
    in_project : bool
        Whether a run registered it as a source of the project.
    has_data : bool
        Raw data of the current download version exists.
    lightcurves : int
        Lightcurves at the current reduction version.
    analysed : bool
        Analysed at the current analysis version.
    detections : int
        Real detections at the current analysis version.
    """

    name: str
    ra: float
    dec: float
    mag: float | None = None
    separation: float | None = None
    in_project: bool = False
    has_data: bool = False
    lightcurves: int = 0
    analysed: bool = False
    detections: int = 0


@dataclass
class CatalogPage:
    """A page of matching catalog rows and the counts around it.

    Attributes
    ----------
    catalog : int
        Rows of the catalog file.
    selected : int
        Rows passing the project's own selection.
    matching : int
        Rows also passing the browse selection, cone and ``only`` filter.
    offset : int
        Index of the first row of the page among the matching rows.
    rows : list of CatalogRow
        The page.
    """

    catalog: int
    selected: int
    matching: int
    offset: int
    rows: list[CatalogRow] = field(default_factory=list)


class CatalogBrowser:
    """Pages through a project's selected catalog rows with extra filters; reads the catalog once.

    Parameters
    ----------
    config : ProjectConfig
        The project configuration (catalog and selection, survey versions).
    reader : CatalogReader
        Reads the catalog file.
    uow_factory : callable
        Returns a new unit of work.
    """

    def __init__(self, config: ProjectConfig, reader: CatalogReader,
                 uow_factory: Callable[[], AbstractUnitOfWork]):
        self.config = config
        self.reader = reader
        self.uow_factory = uow_factory
        self._full: Catalog | None = None
        self._selected: Catalog | None = None

    def _catalogs(self) -> tuple[Catalog, Catalog]:
        if self._selected is None:
            self._full = self.reader.read(self.config.catalog)
            self._selected = selected_catalog(self.config, _Fixed(self._full))
        return self._full, self._selected

    def page(self, selection: str = "", cone: Cone | None = None, *, survey=None, only: str | None = None,
             offset: int = 0, limit: int = 200) -> CatalogPage:
        """Return one page of the selected rows that also pass ``selection``, ``cone`` and ``only``.

        Parameters
        ----------
        selection : str
            Further selection expression (same language as ``catalog.selection``).
        cone : Cone, optional
            Keep rows inside it, nearest first.
        survey : SurveyConfig
            Survey whose products are flagged.
        only : str, optional
            Keep rows that have ``data``, ``lightcurves`` or ``detections``.
        offset, limit : int
            The page.

        Returns
        -------
        CatalogPage
            Counts and rows.

        Raises
        ------
        SelectionError
            If the selection is invalid or ``only`` is unknown.
        """
        if only is not None and only not in FLAGS:
            raise SelectionError(f"only: expected one of {', '.join(FLAGS)}, got {only!r}")
        full, catalog = self._catalogs()
        selected = len(catalog)
        if selection.strip():
            catalog = catalog.select(selection)
        order = np.arange(len(catalog))
        separations = None
        if cone is not None:
            separations = angular_separation_deg(cone.ra, cone.dec, catalog.columns["ra"], catalog.columns["dec"])
            inside = np.flatnonzero(separations <= cone.radius)
            order = inside[np.argsort(separations[inside], kind="stable")]
        rows = [self._row(catalog, i, separations) for i in order] if only else None
        if only is not None:
            # The flags need the database: look them up a batch at a time over the matching rows.
            kept = []
            for chunk in batched(rows, 1000):
                self._flag(chunk, survey)
                kept += [r for r in chunk if _has(r, only)]
            return CatalogPage(len(full), selected, len(kept), offset, kept[offset:offset + limit])
        page = [self._row(catalog, i, separations) for i in order[offset:offset + limit]]
        self._flag(page, survey)
        return CatalogPage(len(full), selected, len(order), offset, page)

    @staticmethod
    def _row(catalog: Catalog, i: int, separations) -> CatalogRow:
        c = catalog.columns
        mag = float(c["mag"][i]) if "mag" in c and np.isfinite(c["mag"][i]) else None
        return CatalogRow(str(c["name"][i]), float(c["ra"][i]), float(c["dec"][i]), mag,
                          None if separations is None else float(separations[i]))

    def _flag(self, rows: list[CatalogRow], survey) -> None:
        if not rows:
            return
        names = [r.name for r in rows]
        with self.uow_factory() as uow:
            sources = uow.sources.get_many(self.config.name, names)
            raws = uow.raw_data.get_many(survey.name, survey.download_version, names)
            ids = [s.id for s in sources.values()]
            lightcurves = uow.lightcurves.for_sources(ids, survey.name, survey.reduction_version) if ids else {}
            detections = uow.detections.for_sources(ids, survey.analysis_version) if ids else {}
            analysed = uow.steps.done(ANALYSE, survey.name, survey.analysis_version, ids) if ids else set()
        for row in rows:
            source = sources.get(row.name)
            row.has_data = row.name in raws
            if source is None:
                continue
            row.in_project = True
            row.lightcurves = len(lightcurves.get(source.id, []))
            row.detections = len(detections.get(source.id, []))
            row.analysed = source.id in analysed


def _has(row: CatalogRow, only: str) -> bool:
    return {"data": row.has_data, "lightcurves": row.lightcurves > 0, "detections": row.detections > 0}[only]


class _Fixed(CatalogReader):
    """A reader returning a catalog already read (so the file is read once)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def read(self, spec) -> Catalog:  # noqa: D102
        return self.catalog
