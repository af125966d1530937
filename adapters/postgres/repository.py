"""SQLAlchemy repositories: the persistence ports of services.ports on PostgreSQL, in batches."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from sqlalchemy import and_, func, inspect, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from adapters.postgres.bulk import execute_values, insert_new_ids, on_conflict_update, upsert_ids
from adapters.postgres.orm import detections as detections_table
from adapters.postgres.orm import failures, projects, raw_data, steps
from adapters.postgres.orm import lightcurves as lightcurves_table
from adapters.postgres.orm import sources as sources_table
from domain.detection import Detection
from domain.healpix import INDEX_ORDER, angular_distance_deg, ang2pix_nested, cone_ranges
from domain.lightcurve import Lightcurve
from domain.rawdata import RawData
from domain.source import Source
from services.ports import (
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

# Rows per statement: large enough to amortise round trips, small enough for modest statements.
BATCH = 1000

_SOURCE_FIELDS = ("name", "ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax", "epoch")
_RAW_FIELDS = ("survey", "source_name", "version", "ra", "dec", "num_epochs", "file", "key")
_LC_KEY = ("source_id", "survey", "version", "filter", "season")
_LC_VALUES = (
    "raw_data_id", "file", "key", "num_epochs", "num_good", "mjd_start", "mjd_end",
    "flux_median", "flux_rms", "mag_median", "mag_rms", "time_scale",
)
# injection_id is NULL for real detections; the constraint treats NULLs as equal (NULLS NOT DISTINCT).
_DET_KEY = ("lightcurve_id", "version", "peak_mjd", "is_simulated", "injection_id")
_DET_VALUES = (
    "source_id", "kind", "start_mjd", "end_mjd", "snr", "peak_flux", "delta_mag", "baseline_flux", "num_epochs",
    "filter_width", "first_epoch", "last_epoch", "quality",
)


def _json_safe(value: Any) -> Any:
    """Return ``value`` with NumPy scalars and arrays made plain, and NaN or infinity made None.

    JSONB accepts neither NumPy types nor the non-standard ``NaN`` and ``Infinity`` tokens.
    """
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def _detection_row(det: Detection) -> dict:
    """Column values of a detection, converted to types the driver adapts."""
    row = {f: getattr(det, f, None) for f in _DET_KEY + _DET_VALUES}
    row.update(
        peak_mjd=float(det.peak_mjd),
        is_simulated=bool(det.is_simulated),
        injection_id=_optional_int(row["injection_id"]),
        num_epochs=_optional_int(row["num_epochs"]),
        filter_width=float(row["filter_width"] or 0.0),
        first_epoch=_optional_int(row["first_epoch"]),
        last_epoch=_optional_int(row["last_epoch"]),
        quality=_json_safe(dict(row["quality"] or {})),
    )
    return row


def _source_value(value):
    # Catalog values may be NumPy scalars, which the driver does not adapt.
    return value.item() if isinstance(value, np.generic) else value


def _raw_row(raw: RawData) -> dict:
    """Column values of a raw data record, converted to types the driver adapts."""
    return dict(survey=raw.survey, source_name=raw.source_name, version=raw.version, ra=_optional_float(raw.ra),
                dec=_optional_float(raw.dec), num_epochs=int(raw.num_epochs), file=raw.file, key=raw.key)


def _lightcurve_key(lc: Lightcurve) -> tuple:
    return (int(lc.source_id), lc.survey, lc.version, lc.filter, int(lc.season))


def _lightcurve_row(lc: Lightcurve) -> dict:
    """Column values of a lightcurve record, converted to types the driver adapts."""
    row = {f: getattr(lc, f, None) for f in _LC_VALUES}
    row.update(zip(_LC_KEY, _lightcurve_key(lc)))
    for name in ("raw_data_id", "num_epochs", "num_good"):
        row[name] = _optional_int(row[name])
    for name in ("mjd_start", "mjd_end", "flux_median", "flux_rms", "mag_median", "mag_rms"):
        row[name] = _optional_float(row[name])
    return row


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _assign(obj, **values) -> None:
    """Set attributes of a domain object, whether it is instrumented by the mapping or not."""
    if inspect(obj, raiseerr=False) is None:
        # Created before start_mappers(): it has no ORM state, its __dict__ is its only storage.
        obj.__dict__.update(values)
    else:
        for name, value in values.items():
            setattr(obj, name, value)


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
        self.session.execute(pg_insert(projects).values(name=project).on_conflict_do_nothing(index_elements=["name"]))
        project_id = self.session.execute(select(projects.c.id).where(projects.c.name == project)).scalar_one()
        new = 0
        for batch in batched(sources, BATCH):
            pixels = ang2pix_nested(INDEX_ORDER, [s.ra for s in batch], [s.dec for s in batch])
            rows = [{"project_id": project_id, "healpix": int(p),
                     **{f: _source_value(getattr(s, f)) for f in _SOURCE_FIELDS}}
                    for s, p in zip(batch, pixels)]
            found, fresh = insert_new_ids(self.session, sources_table, ("project_id", "healpix") + _SOURCE_FIELDS,
                                          rows, key=("project_id", "name"))
            new += len(fresh)
            ids = {name: i for (_, name), i in found.items()}
            for source in batch:
                _assign(source, id=ids[source.name], project=project)
        return new

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
        distance = angular_distance_deg(ra, dec, [s.ra for s in candidates], [s.dec for s in candidates])
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
            keys = [(r.survey, r.source_name, r.version) for r in batch]
            # Existing rows (a batch retried after a crash) are left as they are.
            ids, _ = insert_new_ids(self.session, raw_data, _RAW_FIELDS, rows,
                                    key=("survey", "source_name", "version"))
            for raw, key in zip(batch, keys):
                _assign(raw, id=ids[key])

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


class SqlAlchemyLightcurveRepository(_Repository, LightcurveRepository):
    """Records of reduced lightcurves; re-adding one (same source, survey, version, filter, season) updates it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add_many(self, lightcurves: Sequence[Lightcurve]) -> None:
        """Insert or update records; every given lightcurve gets its ``id``."""
        for lc in lightcurves:
            if lc.source_id is None or lc.version is None:
                raise ValueError(f"lightcurve {lc.label} needs source_id and version before it is stored")
        for batch in batched(lightcurves, BATCH):
            # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the last of duplicates.
            rows = {_lightcurve_key(lc): _lightcurve_row(lc) for lc in batch}
            ids = upsert_ids(self.session, lightcurves_table, _LC_KEY + _LC_VALUES, list(rows.values()), key=_LC_KEY,
                             on_conflict=on_conflict_update("uq_lightcurves_identity", _LC_VALUES))
            for lc in batch:
                _assign(lc, id=ids[_lightcurve_key(lc)])

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
        for det in detections:
            if det.source_id is None or det.lightcurve_id is None or det.version is None:
                raise ValueError(f"{det!r} needs source_id, lightcurve_id and version before it is stored")
        for batch in batched(detections, BATCH):
            keyed = [(det, _detection_row(det)) for det in batch]
            # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the last of duplicates.
            rows = {tuple(row[f] for f in _DET_KEY): row for _, row in keyed}
            ids = upsert_ids(self.session, detections_table, _DET_KEY + _DET_VALUES, list(rows.values()), key=_DET_KEY,
                             on_conflict=on_conflict_update("uq_detections_identity", _DET_VALUES),
                             json_columns=("quality",))
            for det, row in keyed:
                _assign(det, id=ids[tuple(row[f] for f in _DET_KEY)])

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
        ids = [int(i) for i in source_ids]
        if not ids:
            return set()
        return set(self.session.scalars(
            text("SELECT source_id FROM steps WHERE stage = :stage AND survey = :survey AND version = :version "
                 "AND source_id = ANY(:ids)"),
            {"stage": stage, "survey": survey, "version": version, "ids": ids}))

    def mark_done(self, stage: str, survey: str, version: str, counts: dict[int, int]) -> None:
        """Record that these sources finished ``stage``; a repeated step updates count and time.

        One statement per batch through ``execute_values``: the driver's row-by-row ``executemany``
        cost more than the rest of a batch's bookkeeping together.
        """
        if not counts:
            return
        rows = [(int(sid), stage, survey, version, int(n)) for sid, n in counts.items()]
        execute_values(
            self.session,
            "INSERT INTO steps (source_id, stage, survey, version, count) VALUES %s "
            "ON CONFLICT (source_id, stage, survey, version) "
            "DO UPDATE SET count = EXCLUDED.count, finished_at = now()",
            rows,
        )

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
        ids = [int(i) for i in source_ids]
        if ids:
            self.session.execute(
                text("DELETE FROM failures WHERE stage = :stage AND survey = :survey AND source_id = ANY(:ids)"),
                {"stage": stage, "survey": survey, "ids": ids})

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
