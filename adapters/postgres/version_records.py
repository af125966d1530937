"""SqlVersionRecords: the rows of one step version, counted, listed and removed with SQLAlchemy Core."""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import and_, delete, false, func, not_, select, true

from virtualobserver.adapters.faults import fault_point
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.postgres.connection_scope import ConnectionScope
from virtualobserver.adapters.postgres.orm import (
    detections,
    failures,
    histogram_parts,
    injections,
    lightcurves,
    projects,
    raw_data,
    source_summaries,
    sources,
    steps,
)
from virtualobserver.services.ports import batched
from virtualobserver.services.prune_ports import StepVersion, VersionRecords

__all__ = ["SqlVersionRecords", "ROW_KINDS"]

#: Kinds of rows, in the order they are removed (children before what they point at).
ROW_KINDS = ("detections", "simulated_detections", "injections", "summaries", "histogram_parts", "steps",
             "failures", "lightcurves", "raw_data")
_BATCH = 1000


def _histogram_file(key: str) -> str:
    return NetCdfHistogramStore.relative_path(key).as_posix()


class SqlVersionRecords(ConnectionScope, VersionRecords):
    """One connection and one transaction on the project database; every statement is parameterised.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of the database.
    """

    def _in_project(self, project: str):
        project_id = select(projects.c.id).where(projects.c.name == project).scalar_subquery()
        return select(sources.c.id).where(sources.c.project_id == project_id), project_id

    def _conditions(self, project: str, product: StepVersion) -> dict:
        # Each kind of row of the step version, as (table, condition); a version hash names its survey and step.
        in_project, project_id = self._in_project(project)
        v = product.version
        own = {
            "detections": (detections, and_(detections.c.source_id.in_(in_project), detections.c.version == v,
                                             detections.c.is_simulated.is_(false()))),
            "simulated_detections": (detections, and_(detections.c.source_id.in_(in_project),
                                                      detections.c.version == v,
                                                      detections.c.is_simulated.is_(true()))),
            "injections": (injections, and_(injections.c.source_id.in_(in_project), injections.c.version == v)),
            "summaries": (source_summaries, and_(source_summaries.c.source_id.in_(in_project),
                                                 source_summaries.c.version == v)),
            "histogram_parts": (histogram_parts, and_(histogram_parts.c.project_id == project_id,
                                                      histogram_parts.c.version == v)),
            "steps": (steps, and_(steps.c.source_id.in_(in_project), steps.c.version == v)),
            "failures": (failures, and_(failures.c.source_id.in_(in_project), failures.c.version == v)),
            "lightcurves": (lightcurves, and_(lightcurves.c.source_id.in_(in_project), lightcurves.c.version == v)),
            "raw_data": (raw_data, and_(raw_data.c.survey == product.survey, raw_data.c.version == v)
                         if product.step == "download" else false()),
        }
        return {kind: own[kind] for kind in ROW_KINDS}

    def rows(self, project: str, product: StepVersion) -> dict[str, int]:
        """Return how many rows of each kind the step version has in ``project`` (raw data: in all projects)."""
        return {kind: self.connection.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
                for kind, (table, condition) in self._conditions(project, product).items()}

    def files(self, project: str, product: StepVersion) -> set[str]:
        """Return the files that the step version's rows point at."""
        c = self._conditions(project, product)
        found: set[str] = set()
        for column, kind in ((raw_data.c.file, "raw_data"), (lightcurves.c.file, "lightcurves"),
                             (source_summaries.c.scores_file, "summaries"), (detections.c.stamps_file, "detections")):
            found.update(self.connection.execute(select(column).distinct().where(c[kind][1], column.isnot(None)))
                         .scalars())
        keys = self.connection.execute(select(histogram_parts.c.key).where(c["histogram_parts"][1])).scalars()
        return found | {_histogram_file(key) for key in keys}

    def raw_used_elsewhere(self, project: str, product: StepVersion, pruned: Sequence[str]) -> bool:
        """Whether a lightcurve outside ``project``'s reduction versions ``pruned`` was made from this raw data."""
        in_project, _ = self._in_project(project)
        raws = select(raw_data.c.id).where(raw_data.c.survey == product.survey, raw_data.c.version == product.version)
        ours = and_(lightcurves.c.source_id.in_(in_project), lightcurves.c.version.in_(list(pruned)))
        stmt = select(lightcurves.c.id).where(lightcurves.c.raw_data_id.in_(raws), not_(ours)).limit(1)
        return self.connection.execute(stmt).first() is not None

    def referenced(self, paths: Iterable[str], project: str | None = None, versions: Sequence[str] = ()) -> set[str]:
        """Return the ``paths`` some row points at, not counting the rows of ``project`` at ``versions``."""
        paths = sorted(set(paths))
        versions = list(versions)
        in_project, project_id = self._in_project(project or "")
        found: set[str] = set()
        for batch in batched(paths, _BATCH):
            for table, column, owned in (
                    (raw_data, raw_data.c.file, raw_data.c.version.in_(versions)),
                    (lightcurves, lightcurves.c.file, lightcurves.c.source_id.in_(in_project)),
                    (source_summaries, source_summaries.c.scores_file, source_summaries.c.source_id.in_(in_project)),
                    (detections, detections.c.stamps_file, detections.c.source_id.in_(in_project))):
                excluded = and_(owned, table.c.version.in_(versions)) if versions else false()
                found.update(self.connection.execute(
                    select(column).distinct().where(column.in_(batch), not_(excluded))).scalars())
            keys = [p[: -len(".nc")] for p in batch if p.endswith(".nc")]
            if keys:
                excluded = and_(histogram_parts.c.project_id == project_id,
                                histogram_parts.c.version.in_(versions)) if versions else false()
                found.update(_histogram_file(k) for k in self.connection.execute(
                    select(histogram_parts.c.key).where(histogram_parts.c.key.in_(keys), not_(excluded))).scalars())
        return found

    def remove(self, project: str, product: StepVersion) -> dict[str, int]:
        """Remove the step version's rows in ``project`` (and its raw data for ``download``); return the counts."""
        return {kind: self.connection.execute(delete(table).where(condition)).rowcount
                for kind, (table, condition) in self._conditions(project, product).items()}

    def commit(self) -> None:
        """Make the removals durable."""
        super().commit()
        fault_point("prune.after_commit")

