"""SQLAlchemy repositories: the persistence ports of services.ports on PostgreSQL, in batches."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from virtualobserver.adapters.postgres.bulk import execute, insert_new_ids, on_conflict_update, upsert_ids
from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.orm import failures, projects, raw_data, steps
from virtualobserver.adapters.postgres.orm import lightcurves as lightcurves_table
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.rows import (
    _DET_COLUMNS,
    _DET_KEY,
    _DET_VALUES,
    _LC_COLUMNS,
    _LC_KEY,
    _LC_VALUES,
    _RAW_FIELDS,
    _SOURCE_COLUMNS,
    BATCH,
    _assign,
    _det_required,
    _detection_row,
    _id_array,
    _lightcurve_row,
    _raw_row,
    _read_detection,
    _read_lightcurve,
    _read_source,
    _source_values,
)
from virtualobserver.domain.detection import Detection
from virtualobserver.domain.astrometry import angular_separation_deg
from virtualobserver.domain.healpix import INDEX_ORDER, ang2pix_nested, cone_ranges
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source
from virtualobserver.services.ports import (
    DetectionRepository,
    LightcurveRepository,
    RawDataRepository,
    SourceRepository,
    StepRepository,
    batched,
)

__all__ = [
    "SqlAlchemySourceRepository",
    "SqlAlchemyRawDataRepository",
    "SqlAlchemyLightcurveRepository",
    "SqlAlchemyDetectionRepository",
    "SqlAlchemyStepRepository",
]

def _in_project(project: str):
    """Return the join of sources to projects and the condition selecting ``project``."""
    return sources_table.join(projects, projects.c.id == sources_table.c.project_id), projects.c.name == project


class _Repository:
    def __init__(self, session: Session):
        self.session = session


class SqlAlchemySourceRepository(_Repository, SourceRepository):
    """Sources of projects; ``add_many`` creates the project on first use.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add_many(self, project: str, sources: Sequence[Source]) -> int:
        """Insert the sources not yet in ``project``; return how many were new.

        Every given source gets ``id`` and ``project`` set, whether it was new or not.
        """
        # Create the project if needed and read its id, in one round trip.
        found = execute(self.session, "INSERT INTO projects (name) VALUES (%s) ON CONFLICT (name) DO NOTHING; "
                                      "SELECT id FROM projects WHERE name = %s", (project, project), fetch=True)
        if len(found) != 1:
            raise NoResultFound("No row was found when one was required")
        project_id = found[0][0]
        new = 0
        for batch in batched(sources, BATCH):
            fields = [_read_source(s) for s in batch]
            pixels = ang2pix_nested(INDEX_ORDER, [f[1] for f in fields], [f[2] for f in fields])  # ra, dec
            rows = [(project_id, int(p)) + _source_values(f) for f, p in zip(fields, pixels.tolist())]
            found, fresh = insert_new_ids(self.session, sources_table, _SOURCE_COLUMNS, rows,
                                          key=("project_id", "name"))
            new += len(fresh)
            ids = {name: i for (_, name), i in found.items()}
            for source in batch:
                _assign(source, id=ids[source.name], project=project)
        return new

    def stored_values(self, project: str, names: Sequence[str]) -> dict[str, tuple]:
        """Return the value fields of the stored sources of ``project`` with these names (see the port).

        Plain rows, not mapped objects: a run compares every selected row of its catalog with them.
        """
        found: dict[str, tuple] = {}
        for batch in batched(list(names), 10 * BATCH):  # the columns of VALUE_FIELDS, in its order
            rows = execute(self.session, "SELECT s.name, s.ra, s.dec, s.mag, s.mag_err, s.pmra, s.pmdec, s.parallax, "
                                         "s.epoch FROM sources s JOIN projects p ON p.id = s.project_id "
                                         "WHERE p.name = %s AND s.name = ANY(%s)", (project, list(batch)), fetch=True)
            found.update((row[0], tuple(row[1:])) for row in rows)
        return found

    def get_many(self, project: str, names: Sequence[str]) -> dict[str, Source]:
        """Return the persisted sources of ``project`` with these names, by name."""
        joined, condition = _in_project(project)
        found: dict[str, Source] = {}
        for batch in batched(names, BATCH):
            stmt = select(Source).select_from(joined).where(condition, sources_table.c.name.in_(batch))
            found.update((s.name, s) for s in self.session.scalars(stmt))
        return found

    def list(self, project: str, *, limit: int | None = None, offset: int = 0) -> list[Source]:
        """Return sources of ``project`` ordered by name."""
        joined, condition = _in_project(project)
        stmt = select(Source).select_from(joined).where(condition).order_by(sources_table.c.name).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def cone(self, project: str, ra: float, dec: float, radius_deg: float) -> list[tuple[Source, float]]:
        """Return the sources of ``project`` within ``radius_deg`` of (ra, dec) with their distances, nearest first.

        The HEALPix index ranges covering the cone select candidates through the btree index on
        (project_id, healpix); the exact great-circle distance then keeps those inside.
        """
        ranges = cone_ranges(ra, dec, radius_deg)
        joined, condition = _in_project(project)
        pix = sources_table.c.healpix
        stmt = select(Source).select_from(joined).where(condition, or_(*(pix.between(lo, hi) for lo, hi in ranges)))
        candidates = list(self.session.scalars(stmt))
        if not candidates:
            return []
        distance = angular_separation_deg(ra, dec, [s.ra for s in candidates], [s.dec for s in candidates])
        found = [(s, float(d)) for s, d in zip(candidates, distance) if d <= radius_deg]
        return sorted(found, key=lambda pair: (pair[1], pair[0].name))

    def count(self, project: str) -> int:
        """Return the number of sources in ``project``."""
        joined, condition = _in_project(project)
        return self.session.execute(select(func.count()).select_from(joined).where(condition)).scalar_one()


class SqlAlchemyRawDataRepository(_Repository, RawDataRepository):
    """Records of raw data shared by all projects, unique by (survey, source name, version).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def get_many(self, survey: str, version: str, names: Sequence[str]) -> dict[str, RawData]:
        """Return records (arrays not loaded) for these source names, by name."""
        found: dict[str, RawData] = {}
        for batch in batched(names, BATCH):
            stmt = select(RawData).where(
                raw_data.c.survey == survey, raw_data.c.version == version, raw_data.c.source_name.in_(batch)
            )
            found.update((r.source_name, r) for r in self.session.scalars(stmt))
        return found

    def add_many(self, raws: Sequence[RawData]) -> None:
        """Insert records, leaving existing ones as they are; every given record gets its ``id``."""
        for batch in batched(raws, BATCH):
            rows = [_raw_row(r) for r in batch]
            # Existing rows (a batch retried after a crash) are left as they are.
            ids, _ = insert_new_ids(self.session, raw_data, _RAW_FIELDS, rows,
                                    key=("survey", "source_name", "version"))
            for raw, row in zip(batch, rows):
                _assign(raw, id=ids[row[:3]])

    def count_for_project(self, project: str, survey: str, version: str) -> int:
        """Return how many sources of ``project`` have raw data of this version."""
        joined, condition = _in_project(project)
        joined = joined.join(
            raw_data,
            and_(
                raw_data.c.source_name == sources_table.c.name,
                raw_data.c.survey == survey,
                raw_data.c.version == version,
            ),
        )
        return self.session.execute(select(func.count()).select_from(joined).where(condition)).scalar_one()

    def names_for_project(self, project: str, survey: str, version: str) -> set[str]:
        """Return the names of the sources of ``project`` that have raw data of this version."""
        joined, condition = _in_project(project)
        joined = joined.join(raw_data, and_(raw_data.c.source_name == sources_table.c.name,
                                            raw_data.c.survey == survey, raw_data.c.version == version))
        return set(self.session.scalars(select(sources_table.c.name).select_from(joined).where(condition)))


class SqlAlchemyLightcurveRepository(_Repository, LightcurveRepository):
    """Records of reduced lightcurves; re-adding one (same source, survey, version, filter, season) updates it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add_many(self, lightcurves: Sequence[Lightcurve]) -> None:
        """Insert or update records; every given lightcurve gets its ``id``."""
        values = [_read_lightcurve(lc) for lc in lightcurves]
        for lc, (source_id, _, version, *_) in zip(lightcurves, values):  # _LC_KEY first
            if source_id is None or version is None:
                raise ValueError(f"lightcurve {lc.label} needs source_id and version before it is stored")
        for batch, batch_values in zip(batched(lightcurves, BATCH), batched(values, BATCH)):
            # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the last of duplicates.
            rows = [_lightcurve_row(v) for v in batch_values]
            keys = [row[:len(_LC_KEY)] for row in rows]
            unique = dict(zip(keys, rows))
            ids = upsert_ids(self.session, lightcurves_table, _LC_COLUMNS, list(unique.values()), key=_LC_KEY,
                             on_conflict=on_conflict_update("uq_lightcurves_identity", _LC_VALUES))
            for lc, key in zip(batch, keys):
                _assign(lc, id=ids[key])

    def for_sources(self, source_ids: Sequence[int], survey: str, version: str) -> dict[int, list[Lightcurve]]:
        """Return the lightcurves of these sources by source id (an empty list for a source without any)."""
        found: dict[int, list[Lightcurve]] = {int(i): [] for i in source_ids}
        for batch in batched(found, BATCH):
            stmt = (
                select(Lightcurve)
                .where(
                    lightcurves_table.c.source_id.in_(batch),
                    lightcurves_table.c.survey == survey,
                    lightcurves_table.c.version == version,
                )
                .order_by(lightcurves_table.c.source_id, lightcurves_table.c.filter, lightcurves_table.c.season)
            )
            for lc in self.session.scalars(stmt):
                found[lc.source_id].append(lc)
        return found

    def count_for_sources(self, source_ids: Sequence[int], survey: str, version: str) -> int:
        """Return how many lightcurves these sources have at ``version``."""
        total = 0
        for batch in batched(list(source_ids), BATCH):
            total += self.session.execute(select(func.count()).select_from(lightcurves_table).where(
                lightcurves_table.c.source_id.in_(batch), lightcurves_table.c.survey == survey,
                lightcurves_table.c.version == version)).scalar_one()
        return total

    def count(self, project: str, version: str | None = None) -> int:
        """Return the number of lightcurves of ``project`` (of one version if given)."""
        joined, condition = _in_project(project)
        stmt = select(func.count()).select_from(
            joined.join(lightcurves_table, lightcurves_table.c.source_id == sources_table.c.id)
        ).where(condition)
        if version is not None:
            stmt = stmt.where(lightcurves_table.c.version == version)
        return self.session.execute(stmt).scalar_one()


class SqlAlchemyDetectionRepository(_Repository, DetectionRepository):
    """Detections; simulated ones are excluded unless ``include_simulated`` is true.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add_many(self, detections: Sequence[Detection]) -> None:
        """Insert or update detections; every given detection gets its ``id``.

        A detection is identified by (lightcurve, version, peak time, simulated, injection):
        adding it again updates the other columns.
        """
        values = [_read_detection(det) for det in detections]
        for det, v in zip(detections, values):
            if None in _det_required(v):
                raise ValueError(f"{det!r} needs source_id, lightcurve_id and version before it is stored")
        for batch, batch_values in zip(batched(detections, BATCH), batched(values, BATCH)):
            rows = [_detection_row(v) for v in batch_values]
            keys = [row[:len(_DET_KEY)] for row in rows]
            # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the last of duplicates.
            unique = dict(zip(keys, rows))
            ids = upsert_ids(self.session, detections_table, _DET_COLUMNS, list(unique.values()), key=_DET_KEY,
                             on_conflict=on_conflict_update("uq_detections_identity", _DET_VALUES),
                             json_columns=("quality",))
            for det, key in zip(batch, keys):
                _assign(det, id=ids[key])

    def _select(self, what, project: str, version: str | None, include_simulated: bool):
        joined, condition = _in_project(project)
        joined = joined.join(detections_table, detections_table.c.source_id == sources_table.c.id)
        stmt = select(what).select_from(joined).where(condition)
        if version is not None:
            stmt = stmt.where(detections_table.c.version == version)
        if not include_simulated:
            stmt = stmt.where(detections_table.c.is_simulated.is_(False))
        return stmt

    def list(
        self, project: str, version: str | None = None, *, include_simulated: bool = False
    ) -> list[Detection]:
        """Return detections of ``project``, ordered by source name and peak time."""
        stmt = self._select(Detection, project, version, include_simulated)
        stmt = stmt.order_by(sources_table.c.name, detections_table.c.peak_mjd, detections_table.c.id)
        return list(self.session.scalars(stmt))

    def count(self, project: str, version: str | None = None, *, include_simulated: bool = False) -> int:
        """Return the number of detections of ``project``."""
        return self.session.execute(self._select(func.count(), project, version, include_simulated)).scalar_one()

    def count_for_sources(self, source_ids: Sequence[int], version: str, *, include_simulated: bool = False) -> int:
        """Return how many detections these sources have at ``version`` (simulated ones only if asked)."""
        total = 0
        for batch in batched(list(source_ids), BATCH):
            stmt = select(func.count()).select_from(detections_table).where(
                detections_table.c.source_id.in_(batch), detections_table.c.version == version)
            if not include_simulated:
                stmt = stmt.where(detections_table.c.is_simulated.is_(False))
            total += self.session.execute(stmt).scalar_one()
        return total

    def for_sources(self, source_ids: Sequence[int], version: str, *,
                    include_simulated: bool = False) -> dict[int, list[Detection]]:
        """Return the detections of these sources at ``version``, by source id, in peak-time order."""
        found: dict[int, list[Detection]] = {}
        for batch in batched(list(source_ids), BATCH):
            stmt = select(Detection).where(detections_table.c.source_id.in_(batch),
                                           detections_table.c.version == version)
            if not include_simulated:
                stmt = stmt.where(detections_table.c.is_simulated.is_(False))
            for det in self.session.scalars(stmt.order_by(detections_table.c.peak_mjd, detections_table.c.id)):
                found.setdefault(det.source_id, []).append(det)
        return found


class SqlAlchemyStepRepository(_Repository, StepRepository):
    """Run state: finished steps per source and version, and current failures.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def done(self, stage: str, survey: str, version: str, source_ids: Sequence[int]) -> set[int]:
        """Return the ids among ``source_ids`` that finished ``stage`` at ``version``."""
        # One array parameter, not one bound parameter per id: the statement is the same for every batch.
        ids = _id_array([int(i) for i in source_ids])
        if ids is None:
            return set()
        rows = execute(self.session, "SELECT source_id FROM steps WHERE stage = %s AND survey = %s AND version = %s "
                                     "AND source_id = ANY(%s::bigint[])", (stage, survey, version, ids), fetch=True)
        return {row[0] for row in rows}

    def mark_done(self, stage: str, survey: str, version: str, counts: dict[int, int]) -> None:
        """Record that these sources finished ``stage``; a repeated step updates count and time.

        One statement per page of sources, their ids and counts as two arrays: the driver's row-by-row
        ``executemany`` cost more than the rest of a batch's bookkeeping together.
        """
        pairs = [(int(sid), int(n)) for sid, n in counts.items()]
        for batch in batched(pairs, BATCH):
            ids, numbers = zip(*batch)
            execute(self.session,
                    "INSERT INTO steps (source_id, stage, survey, version, count) SELECT source_id, %s, %s, %s, count "
                    "FROM unnest(%s::bigint[], %s::integer[]) AS page (source_id, count) "
                    "ON CONFLICT (source_id, stage, survey, version) "
                    "DO UPDATE SET count = EXCLUDED.count, finished_at = now()",
                    (stage, survey, version, _id_array(ids), _id_array(numbers)))

    def done_names(self, project: str, stage: str, survey: str, version: str) -> set[str]:
        """Return the names of the sources of ``project`` that finished ``stage`` at ``version``, in one query."""
        joined, condition = _in_project(project)
        joined = joined.join(steps, steps.c.source_id == sources_table.c.id)
        stmt = select(sources_table.c.name).select_from(joined).where(
            condition, steps.c.stage == stage, steps.c.survey == survey, steps.c.version == version
        )
        return set(self.session.scalars(stmt))

    def count_done(self, project: str, stage: str, survey: str, version: str) -> int:
        """Return how many sources of ``project`` finished ``stage`` at ``version``."""
        joined, condition = _in_project(project)
        joined = joined.join(steps, steps.c.source_id == sources_table.c.id)
        stmt = select(func.count()).select_from(joined).where(
            condition, steps.c.stage == stage, steps.c.survey == survey, steps.c.version == version
        )
        return self.session.execute(stmt).scalar_one()

    def record_failures(self, stage: str, survey: str, version: str, messages: dict[int, str]) -> None:
        """Record failures by source id; a repeated failure counts one more attempt."""
        if not messages:
            return
        stmt = pg_insert(failures)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id", "stage", "survey"],
            set_={
                "version": stmt.excluded.version,
                "message": stmt.excluded.message,
                "attempts": failures.c.attempts + 1,
                "updated_at": func.now(),
            },
        )
        rows = [
            {"source_id": sid, "stage": stage, "survey": survey, "version": version, "message": str(msg)}
            for sid, msg in messages.items()
        ]
        for batch in batched(rows, BATCH):
            self.session.execute(stmt, batch)

    def clear_failures(self, stage: str, survey: str, source_ids: Sequence[int]) -> None:
        """Forget failures of these sources at ``stage`` (they succeeded since)."""
        ids = _id_array([int(i) for i in source_ids])
        if ids is not None:
            execute(self.session,
                    "DELETE FROM failures WHERE stage = %s AND survey = %s AND source_id = ANY(%s::bigint[])",
                    (stage, survey, ids))

    def failures(self, project: str) -> list[tuple[str, str, str, str, str]]:
        """Return (source name, stage, survey, version, message) of the current failures of ``project``."""
        joined, condition = _in_project(project)
        stmt = (
            select(sources_table.c.name, failures.c.stage, failures.c.survey, failures.c.version,
                   failures.c.message)
            .select_from(joined.join(failures, failures.c.source_id == sources_table.c.id))
            .where(condition)
            .order_by(sources_table.c.name, failures.c.stage, failures.c.survey)
        )
        return [tuple(row) for row in self.session.execute(stmt)]
