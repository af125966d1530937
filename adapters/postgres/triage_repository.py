"""SQLAlchemy repository of triage labels: what a person decided about each detection."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import func, select, update

from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.orm import lightcurves as lightcurves_table
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.repository import _in_project, _Repository
from virtualobserver.adapters.postgres.rows import BATCH
from virtualobserver.domain.detection import Detection
from virtualobserver.services.ports import TriageRepository, batched

__all__ = ["SqlAlchemyTriageRepository"]


class SqlAlchemyTriageRepository(_Repository, TriageRepository):
    """Labels in ``detections.label`` (with ``labelled_at``), read and written with Core.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def set_labels(self, labels: dict[int, str | None]) -> int:
        """Set or clear labels by detection id; return how many detections were found."""
        changed = 0
        for label in set(labels.values()):
            ids = [int(i) for i, value in labels.items() if value == label]
            for batch in batched(ids, BATCH):
                stmt = (update(detections_table).where(detections_table.c.id.in_(batch))
                        .values(label=label, labelled_at=None if label is None else func.now()))
                changed += self.session.execute(stmt).rowcount
        return changed

    def labels(self, detection_ids: Sequence[int]) -> dict[int, str]:
        """Return the labels of these detections by id (unlabelled ones are absent)."""
        found: dict[int, str] = {}
        for batch in batched([int(i) for i in detection_ids if i is not None], BATCH):
            stmt = select(detections_table.c.id, detections_table.c.label).where(
                detections_table.c.id.in_(batch), detections_table.c.label.is_not(None))
            found.update((int(i), label) for i, label in self.session.execute(stmt))
        return found

    def rows(self, project: str, version: str, *, include_simulated: bool = False):
        """Return ``(detection, source name, filter, season, label)`` at ``version``, by source and peak time."""
        joined, condition = _in_project(project)
        joined = joined.join(detections_table, detections_table.c.source_id == sources_table.c.id).outerjoin(
            lightcurves_table, lightcurves_table.c.id == detections_table.c.lightcurve_id)
        stmt = (select(Detection, sources_table.c.name, lightcurves_table.c.filter, lightcurves_table.c.season,
                       detections_table.c.label)
                .select_from(joined).where(condition, detections_table.c.version == version)
                .order_by(sources_table.c.name, detections_table.c.peak_mjd, detections_table.c.id))
        if not include_simulated:
            stmt = stmt.where(detections_table.c.is_simulated.is_(False))
        return [tuple(row) for row in self.session.execute(stmt)]
