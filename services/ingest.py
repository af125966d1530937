"""Ingest survey files a user already has: each becomes the raw data of the catalog source it is about."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from virtualobserver.domain.astrometry import ARCSEC_PER_DEG, angular_separation_deg
from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.errors import DataError, SurveyError, VOError
from virtualobserver.domain.rawdata import RawData
from virtualobserver.services.ports import AbstractUnitOfWork, CatalogReader, DataStore, SurveyClient
from virtualobserver.services.stages import DOWNLOAD
from virtualobserver.services.targets import selected_catalog

__all__ = ["IngestReport", "ingest_files", "nearest_row"]


@dataclass
class IngestReport:
    """What ``vo ingest`` did.

    Attributes
    ----------
    ingested : dict
        Source name -> files that became its raw data.
    kept : dict
        Source name -> files not ingested because the source already has raw data of this version.
    failed : dict
        File -> one-line reason (unreadable, or no catalog source near its position).
    """

    ingested: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return the report as plain data (for ``--json``)."""
        return {"ingested": self.ingested, "kept": self.kept, "failed": self.failed}


def nearest_row(catalog: Catalog, ra: float, dec: float, radius_arcsec: float) -> int | None:
    """Return the index of the catalog row nearest to a position, if within ``radius_arcsec``.

    Parameters
    ----------
    catalog : Catalog
        Selected catalog.
    ra, dec : float
        Position in degrees.
    radius_arcsec : float
        Largest separation accepted.

    Returns
    -------
    int or None
        Row index, or None when no row is close enough.
    """
    if not (np.isfinite(ra) and np.isfinite(dec)) or len(catalog) == 0:
        return None
    separation = angular_separation_deg(ra, dec, catalog.columns["ra"], catalog.columns["dec"]) * ARCSEC_PER_DEG
    best = int(np.argmin(separation))
    return best if separation[best] <= radius_arcsec else None


def ingest_files(
    config: ProjectConfig,
    reader: CatalogReader,
    uow_factory: Callable[[], AbstractUnitOfWork],
    store: DataStore,
    client: SurveyClient,
    survey_name: str,
    paths: Sequence[str | Path],
    *,
    source_name: str | None = None,
    radius_arcsec: float = 5.0,
) -> IngestReport:
    """Add survey files to a project as raw data of the sources they are about.

    Each file is read by the survey client; it belongs to ``source_name`` when
    given, else to the selected catalog source nearest its position (within
    ``radius_arcsec``). Files of one source are combined into one epoch table
    and stored at the survey's current download version, so the next run
    reduces and analyses them like downloaded data and downloads nothing for
    that source. A source that already has raw data of this version keeps it.

    Parameters
    ----------
    config : ProjectConfig
        Project configuration.
    reader : CatalogReader
        Reads the project's catalog.
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Where the arrays go (written before the records are committed).
    client : SurveyClient
        Client of the survey the files come from.
    survey_name : str
        Survey name, which must be one of the project's.
    paths : sequence of path
        Files to ingest.
    source_name : str, optional
        Catalog name of the source every file belongs to.
    radius_arcsec : float
        Largest distance between a file's position and its catalog source.

    Returns
    -------
    IngestReport
        What was ingested, kept or refused, per source and file.
    """
    survey = next((s for s in config.surveys if s.name == survey_name), None)
    if survey is None:
        known = ", ".join(s.name for s in config.surveys)
        raise SurveyError(f"survey {survey_name!r} is not in project {config.name!r} (it has: {known})")
    catalog = selected_catalog(config, reader)
    names = catalog.columns["name"]
    if source_name is not None and not np.any(names == source_name):
        # One line for the name, not one per file (every file would fail for it).
        raise DataError(f"no selected catalog source named {source_name!r} in project {config.name!r}")
    report = IngestReport()
    groups: dict[int, list[tuple[str, RawData]]] = {}
    for path in map(str, paths):
        try:
            raw = client.parse_file(path)
        except (VOError, OSError) as exc:
            report.failed[path] = str(exc)
            continue
        if source_name is not None:
            rows = np.flatnonzero(names == source_name)
            row = int(rows[0]) if rows.size else None
            reason = f"no selected catalog source named {source_name!r}"
        else:
            row = nearest_row(catalog, raw.ra, raw.dec, radius_arcsec)
            reason = (f"no selected catalog source within {radius_arcsec:g} arcsec of its position "
                      f"({raw.ra:.6f}, {raw.dec:.6f})")
        if row is None:
            report.failed[path] = reason
            continue
        groups.setdefault(row, []).append((path, raw))
    if not groups:
        return report
    sources = [catalog.sources(config.name, row, row + 1)[0] for row in sorted(groups)]
    with uow_factory() as uow:
        uow.sources.add_many(config.name, sources)
        existing = uow.raw_data.get_many(survey.name, survey.download_version, [s.name for s in sources])
        new = []
        for row, source in zip(sorted(groups), sources):
            files = [path for path, _ in groups[row]]
            if source.name in existing:
                report.kept[source.name] = files
                continue
            raw = client.combine([r for _, r in groups[row]])
            raw.source_name, raw.version, raw.survey = source.name, survey.download_version, survey.name
            raw.meta = {**raw.meta, "ingested_from": [Path(f).name for f in files]}
            store.save_raw(raw)
            new.append(raw)
            report.ingested[source.name] = files
        uow.raw_data.add_many(new)
        persisted = uow.sources.get_many(config.name, list(report.ingested))
        # A download that failed before is no longer outstanding once its data is here.
        uow.steps.clear_failures(DOWNLOAD, survey.name, [s.id for s in persisted.values()])
        uow.commit()
    return report
