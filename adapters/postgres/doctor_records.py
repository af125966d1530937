"""SqlRecordIndex: the doctor's view of the rows that point at files, and its removals, with SQLAlchemy Core."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, null, select

from virtualobserver.adapters.postgres.connection_scope import ConnectionScope
from virtualobserver.adapters.postgres.orm import (
    detections,
    histogram_parts,
    lightcurves,
    projects,
    raw_data,
    source_summaries,
    sources,
    steps,
)
from virtualobserver.services.doctor_ports import (
    LightcurveRecord,
    PartRecord,
    RawRecord,
    RecordIndex,
    ScoresRecord,
    StampsRecord,
    StepRecord,
)
from virtualobserver.services.ports import batched

__all__ = ["SqlRecordIndex"]

_BATCH = 1000


class SqlRecordIndex(ConnectionScope, RecordIndex):
    """One connection and one transaction on the project database; every statement is parameterised.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of the database.
    """

    def raw(self) -> list[RawRecord]:
        """Return every raw-data row."""
        rows = self.connection.execute(select(raw_data.c.id, raw_data.c.survey, raw_data.c.source_name,
                                              raw_data.c.version, raw_data.c.file, raw_data.c.key))
        return [RawRecord(*row) for row in rows]

    def steps(self, stage: str) -> list[StepRecord]:
        """Return every finished step of ``stage``, over all projects."""
        stmt = (select(projects.c.name, steps.c.stage, steps.c.survey, steps.c.version, sources.c.id, sources.c.name)
                .select_from(steps.join(sources, sources.c.id == steps.c.source_id)
                             .join(projects, projects.c.id == sources.c.project_id))
                .where(steps.c.stage == stage))
        return [StepRecord(*row) for row in self.connection.execute(stmt)]

    def scores(self) -> list[ScoresRecord]:
        """Return every per-source summary with the batch file of its epoch scores (None in the per-source layout)."""
        # The column arrives with the batch layout (migration 0005); older schemas have only per-source files.
        file = source_summaries.c["scores_file"] if "scores_file" in source_summaries.c else null()
        stmt = (select(projects.c.name, source_summaries.c.survey, source_summaries.c.version, sources.c.id,
                       sources.c.name, file)
                .select_from(source_summaries.join(sources, sources.c.id == source_summaries.c.source_id)
                             .join(projects, projects.c.id == sources.c.project_id)))
        return [ScoresRecord(*row) for row in self.connection.execute(stmt)]

    def lightcurves(self) -> list[LightcurveRecord]:
        """Return every lightcurve row."""
        stmt = (select(lightcurves.c.id, projects.c.name, lightcurves.c.survey, lightcurves.c.version,
                       sources.c.id, sources.c.name, lightcurves.c.file, lightcurves.c.key)
                .select_from(lightcurves.join(sources, sources.c.id == lightcurves.c.source_id)
                             .join(projects, projects.c.id == sources.c.project_id)))
        return [LightcurveRecord(*row) for row in self.connection.execute(stmt)]

    def parts(self) -> list[PartRecord]:
        """Return every histogram part row."""
        stmt = (select(projects.c.name, histogram_parts.c.survey, histogram_parts.c.version, histogram_parts.c.kind,
                       histogram_parts.c.key)
                .select_from(histogram_parts.join(projects, projects.c.id == histogram_parts.c.project_id)))
        return [PartRecord(*row) for row in self.connection.execute(stmt)]

    def stamps(self) -> list[StampsRecord]:
        """Return every detection row with image stamps (the survey is its lightcurve's)."""
        if "stamps_file" not in detections.c:  # pragma: no cover - the mapping follows the head revision
            return []
        stmt = (select(projects.c.name, lightcurves.c.survey, detections.c.version, sources.c.name,
                       detections.c.stamps_file, detections.c.stamps_key)
                .select_from(detections.join(lightcurves, lightcurves.c.id == detections.c.lightcurve_id)
                             .join(sources, sources.c.id == detections.c.source_id)
                             .join(projects, projects.c.id == sources.c.project_id))
                .where(detections.c.stamps_file.is_not(None)))
        return [StampsRecord(*row) for row in self.connection.execute(stmt)]

    def forget_raw(self, ids: Sequence[int]) -> None:
        """Remove raw-data rows (lightcurves made from them keep their files; their link becomes NULL)."""
        for batch in batched(list(ids), _BATCH):
            self.connection.execute(delete(raw_data).where(raw_data.c.id.in_(batch)))

    def forget_reduction(self, project: str, survey: str, version: str, source_ids: Sequence[int]) -> None:
        """Remove the sources' lightcurves of this version and their reduce steps.

        Detections and injections on those lightcurves go with them (ON DELETE CASCADE).
        """
        for batch in batched(list(source_ids), _BATCH):
            self.connection.execute(delete(lightcurves).where(
                lightcurves.c.source_id.in_(batch), lightcurves.c.survey == survey, lightcurves.c.version == version))
            self.connection.execute(delete(steps).where(
                steps.c.source_id.in_(batch), steps.c.stage == "reduce", steps.c.survey == survey,
                steps.c.version == version))

    def reset_stage(self, project: str, stage: str, survey: str, version: str) -> list[str]:
        """Remove the steps of ``stage`` at ``version`` for every source of ``project``, and the version's parts.

        Returns
        -------
        list of str
            Keys of the removed histogram parts.
        """
        project_id = self.connection.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
        if project_id is None:
            return []
        in_project = select(sources.c.id).where(sources.c.project_id == project_id)
        self.connection.execute(delete(steps).where(
            steps.c.source_id.in_(in_project), steps.c.stage == stage, steps.c.survey == survey,
            steps.c.version == version))
        if stage == "analyse":
            # Summaries name the epoch-score files; the rerun writes both again. Detections and
            # injections stay: the rerun upserts the same rows by their identity (triage labels survive).
            self.connection.execute(delete(source_summaries).where(
                source_summaries.c.source_id.in_(in_project), source_summaries.c.survey == survey,
                source_summaries.c.version == version))
        removed = self.connection.execute(delete(histogram_parts).where(
            histogram_parts.c.project_id == project_id, histogram_parts.c.survey == survey,
            histogram_parts.c.version == version).returning(histogram_parts.c.key))
        return sorted(removed.scalars())
