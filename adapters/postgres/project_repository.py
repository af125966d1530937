"""SQLAlchemy repository of the database's projects, with what each holds at every version."""

from __future__ import annotations

from sqlalchemy import func, select

from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.orm import failures, projects, steps
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.repository import _Repository
from virtualobserver.services.ports import ProjectRecord, ProjectRepository

__all__ = ["SqlAlchemyProjectRepository"]


class SqlAlchemyProjectRepository(_Repository, ProjectRepository):
    """Projects with source counts, finished steps per (survey, stage, version), detections and failures.

    Four grouped queries, whatever the number of projects.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def list(self) -> list[ProjectRecord]:
        """Return every project with its per-version step counts, by name."""
        by_source = projects.outerjoin(sources_table, sources_table.c.project_id == projects.c.id)
        records = {
            name: ProjectRecord(name, created, count)
            for name, created, count in self.session.execute(
                select(projects.c.name, projects.c.created_at, func.count(sources_table.c.id))
                .select_from(by_source).group_by(projects.c.id).order_by(projects.c.name))
        }
        in_project = projects.join(sources_table, sources_table.c.project_id == projects.c.id)
        step_rows = self.session.execute(
            select(projects.c.name, steps.c.survey, steps.c.stage, steps.c.version, func.count())
            .select_from(in_project.join(steps, steps.c.source_id == sources_table.c.id))
            .group_by(projects.c.name, steps.c.survey, steps.c.stage, steps.c.version)
            .order_by(projects.c.name, steps.c.survey, steps.c.stage, steps.c.version))
        for name, survey, stage, version, count in step_rows:
            records[name].steps.append((survey, stage, version, count))
        detection_rows = self.session.execute(
            select(projects.c.name, detections_table.c.version, func.count())
            .select_from(in_project.join(detections_table, detections_table.c.source_id == sources_table.c.id))
            .where(detections_table.c.is_simulated.is_(False))
            .group_by(projects.c.name, detections_table.c.version))
        for name, version, count in detection_rows:
            records[name].detections[version] = count
        failure_rows = self.session.execute(
            select(projects.c.name, func.count())
            .select_from(in_project.join(failures, failures.c.source_id == sources_table.c.id))
            .group_by(projects.c.name))
        for name, count in failure_rows:
            records[name].failures = count
        return list(records.values())
