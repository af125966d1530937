"""SQLAlchemy repositories of the science core: injections, per-source summaries, histogram parts."""

from __future__ import annotations

import dataclasses
from operator import attrgetter, itemgetter
from typing import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.bulk import execute, insert_new_ids, insert_rows
from virtualobserver.adapters.postgres.orm import histogram_parts, injections as injections_table, projects, source_summaries
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.repository import SqlAlchemyDetectionRepository, _in_project, _Repository
from virtualobserver.adapters.postgres.rows import BATCH, _assign, _json_text, _optional_float, _reader
from virtualobserver.domain.detection import Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.summary import FILTER_FIELDS, SourceSummary
from virtualobserver.services.ports import HistogramPartRepository, InjectionRepository, SummaryRepository, batched

__all__ = [
    "SqlAlchemyInjectionRepository",
    "SqlAlchemySummaryRepository",
    "SqlAlchemyHistogramPartRepository",
]

_INJ_KEY = ("source_id", "version", "sequence")
_INJ_VALUES = (
    "lightcurve_id", "kind", "peak_mjd", "start_mjd", "end_mjd", "amplitude", "snr_amplitude", "width", "u0",
    "params", "recovered", "covered", "found_in", "overlaps_real",
)
_SUMMARY_FIELDS = tuple(f.name for f in dataclasses.fields(SourceSummary))
_SUMMARY_KEY = ("source_id", "survey", "version")
_SUMMARY_INTS = ("source_id", "num_lightcurves", "num_epochs", "num_good", "num_detections", "detections_dropped")
_SUMMARY_FLOATS = ("mag_median", "rms", "best_snr", "best_peak_mjd")
#: Summary fields ranked by their size rather than their value: the strongest event first, whatever its sign.
_BY_SIZE = ("best_snr",)
_INJ_COLUMNS = _INJ_KEY + _INJ_VALUES


def _same(value):
    return value


_SUMMARY_CONVERT = {**dict.fromkeys(_SUMMARY_INTS, int), **dict.fromkeys(_SUMMARY_FLOATS, _optional_float),
                    "per_filter": _json_text}


_read_injection = _reader(_INJ_COLUMNS)
_inj_required = itemgetter(*(_INJ_COLUMNS.index(c) for c in ("source_id", "version")))


def _injection_row(values: tuple) -> tuple:
    """Column values of an injection (key columns first), from ``_read_injection``, in types the driver adapts."""
    (source_id, version, sequence, lightcurve_id, kind, peak_mjd, start_mjd, end_mjd, amplitude, snr_amplitude,
     width, u0, params, recovered, covered, found_in, overlaps_real) = values
    return (
        int(source_id), version, int(sequence), None if lightcurve_id is None else int(lightcurve_id), kind,
        float(peak_mjd), float(start_mjd), float(end_mjd), float(amplitude), float(snr_amplitude), float(width),
        None if u0 is None else float(u0), _json_text(params), bool(recovered), int(covered), int(found_in),
        bool(overlaps_real),
    )


_read_summary = attrgetter(*_SUMMARY_FIELDS)
_SUMMARY_CONVERTERS = tuple(_SUMMARY_CONVERT.get(f, _same) for f in _SUMMARY_FIELDS)


def _summary_row(summary: SourceSummary) -> tuple:
    """Field values of a summary (``_SUMMARY_FIELDS``), converted to types the driver adapts."""
    # Not dataclasses.asdict: it deep-copies every value, and the values are scalars.
    return tuple([convert(value) for convert, value in zip(_SUMMARY_CONVERTERS, _read_summary(summary))])


def _project_id(session, project: str, *, create: bool) -> int | None:
    if create:
        session.execute(pg_insert(projects).values(name=project).on_conflict_do_nothing(index_elements=["name"]))
    return session.execute(select(projects.c.id).where(projects.c.name == project)).scalar_one_or_none()


class SqlAlchemyInjectionRepository(_Repository, InjectionRepository):
    """Injected events and their simulated detections; an injection is unique by (source, version, sequence).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add_many(self, injections: Sequence[Injection]) -> None:
        """Insert injections and their detections; re-adding an existing injection changes nothing.

        Every given injection gets its ``id``. Its ``detection`` (if any: the strongest detection it
        caused) is stored with ``is_simulated=True`` and ``injection_id`` set (``source_id``,
        ``lightcurve_id`` and ``version`` default to the injection's) and gets its ``id``; for an injection already
        stored, the detection gets the id of the stored one instead, and nothing is written.
        """
        values = [_read_injection(inj) for inj in injections]
        for inj, v in zip(injections, values):
            if None in _inj_required(v):
                raise ValueError(f"{inj!r} needs source_id and version before it is stored")
        detections = SqlAlchemyDetectionRepository(self.session)
        for batch, batch_values in zip(batched(injections, BATCH), batched(values, BATCH)):
            keyed = [(inj, _injection_row(v)) for inj, v in zip(batch, batch_values)]
            rows: dict[tuple, tuple] = {}
            for _, row in keyed:
                rows.setdefault(row[:len(_INJ_KEY)], row)  # the first of duplicates wins
            ids, new = insert_new_ids(self.session, injections_table, _INJ_COLUMNS, list(rows.values()),
                                      key=_INJ_KEY, json_columns=("params",))
            fresh: list[Detection] = []
            stale: dict[int, list[Detection]] = {}
            first_of_key: set[tuple] = set()
            for inj, row in keyed:
                key = row[:len(_INJ_KEY)]
                _assign(inj, id=ids[key])
                det = inj.detection
                if det is None:
                    continue
                values = dict(is_simulated=True, injection_id=ids[key])
                for name in ("source_id", "lightcurve_id", "version"):
                    if getattr(det, name, None) is None:
                        values[name] = getattr(inj, name)
                _assign(det, **values)
                if key in new and key not in first_of_key:
                    first_of_key.add(key)
                    fresh.append(det)
                else:
                    stale.setdefault(ids[key], []).append(det)
            detections.add_many(fresh)
            if stale:
                stored = dict(
                    self.session.execute(
                        select(detections_table.c.injection_id, func.min(detections_table.c.id))
                        .where(detections_table.c.injection_id.in_(list(stale)))
                        .group_by(detections_table.c.injection_id)
                    ).all()
                )
                for injection_id, dets in stale.items():
                    for det in dets:
                        _assign(det, id=stored.get(injection_id))

    def _select(self, what, project: str, version: str):
        joined, condition = _in_project(project)
        joined = joined.join(injections_table, injections_table.c.source_id == sources_table.c.id)
        return select(what).select_from(joined).where(condition, injections_table.c.version == version)

    def count_for_sources(self, project: str, version: str, source_ids: Sequence[int]) -> int:
        """Return how many injections these sources of ``project`` have at ``version``."""
        total = 0
        for batch in batched(list(source_ids), BATCH):
            total += self.session.execute(self._select(func.count(), project, version).where(
                injections_table.c.source_id.in_(batch))).scalar_one()
        return total

    def for_sources(self, project: str, version: str, source_ids: Sequence[int]) -> list[Injection]:
        """Return the injections of these sources of ``project`` at ``version``, by source name and sequence."""
        found: list[Injection] = []
        for batch in batched(list(source_ids), BATCH):
            stmt = self._select(Injection, project, version).where(injections_table.c.source_id.in_(batch))
            found.extend(self.session.scalars(stmt.order_by(sources_table.c.name, injections_table.c.sequence)))
        return found

    def list(self, project: str, version: str) -> list[Injection]:
        """Return the injections of ``project`` at ``version`` by source name and sequence.

        Their ``detection`` is None (not loaded).
        """
        stmt = self._select(Injection, project, version).order_by(
            sources_table.c.name, injections_table.c.sequence
        )
        return list(self.session.scalars(stmt))

    def count(self, project: str, version: str, *, recovered: bool | None = None) -> int:
        """Return how many injections ``project`` has at ``version`` (only recovered or missed ones if given)."""
        stmt = self._select(func.count(), project, version)
        if recovered is not None:
            stmt = stmt.where(injections_table.c.recovered.is_(bool(recovered)))
        return self.session.execute(stmt).scalar_one()


class SqlAlchemySummaryRepository(_Repository, SummaryRepository):
    """Per-source summaries, unique by (source, survey, version), read and written with Core.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def upsert_many(self, summaries: Sequence[SourceSummary], *, scores_file: str | None = None) -> None:
        """Insert summaries, replacing every field of an existing (source_id, survey, version).

        ``scores_file`` (the batch file of their per-epoch products) is recorded with each. One
        statement per page of rows (:func:`~adapters.postgres.bulk.insert_rows`), not one per row.
        """
        # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the last of duplicates.
        key_of = itemgetter(*(_SUMMARY_FIELDS.index(f) for f in _SUMMARY_KEY))
        rows = {key_of(row): row + (scores_file,) for row in map(_summary_row, summaries)}
        columns = _SUMMARY_FIELDS + ("scores_file",)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in _SUMMARY_KEY)
        insert_rows(self.session, source_summaries, columns, list(rows.values()),
                    on_conflict=f"ON CONFLICT ({', '.join(_SUMMARY_KEY)}) DO UPDATE SET {updates}",
                    json_columns=("per_filter",))

    def scores_file(self, source_id: int, survey: str, version: str) -> str | None:
        """Return the per-epoch products file recorded with a source's summary (None if none)."""
        stmt = select(source_summaries.c.scores_file).where(
            source_summaries.c.source_id == int(source_id), source_summaries.c.survey == survey,
            source_summaries.c.version == version)
        return self.session.execute(stmt).scalar_one_or_none()

    def list(self, project: str, survey: str, version: str, *, order_by: str = "best_snr",
             limit: int | None = None) -> list[tuple[str, SourceSummary]]:
        """Return (source name, summary) pairs by ``order_by`` descending, NULLs last, then by name.

        ``best_snr`` is signed, and ranks by its absolute value: the strongest event first, brightening
        or dimming.

        Raises
        ------
        ValueError
            If ``order_by`` is not a field of :class:`SourceSummary`.
        """
        if order_by not in _SUMMARY_FIELDS:
            raise ValueError(f"cannot order summaries by {order_by!r}; choose one of {', '.join(_SUMMARY_FIELDS)}")
        joined, condition = _in_project(project)
        joined = joined.join(source_summaries, source_summaries.c.source_id == sources_table.c.id)
        stmt = (
            select(sources_table.c.name, *(source_summaries.c[f] for f in _SUMMARY_FIELDS))
            .select_from(joined)
            .where(condition, source_summaries.c.survey == survey, source_summaries.c.version == version)
            .order_by(_ranked(source_summaries.c[order_by], order_by).desc().nulls_last(), sources_table.c.name)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        per_filter = _SUMMARY_FIELDS.index("per_filter") + 1
        return [(row[0], SourceSummary(*row[1:per_filter], _in_field_order(row[per_filter]), *row[per_filter + 1:]))
                for row in self.session.execute(stmt)]


def _in_field_order(per_filter: dict) -> dict:
    # JSONB keeps an object's keys in its own order (shortest first): give each filter's in FILTER_FIELDS order.
    return {band: {**{k: values[k] for k in FILTER_FIELDS if k in values}, **values}
            for band, values in per_filter.items()}


def _ranked(column, name: str):
    return func.abs(column) if name in _BY_SIZE else column


class SqlAlchemyHistogramPartRepository(_Repository, HistogramPartRepository):
    """Records of histogram part files; a key is recorded once (adding it again is a no-op).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def add(self, project: str, survey: str, version: str, kind: str, key: str) -> None:
        """Record the part ``key`` of (project, survey, version, kind); creates the project on first use."""
        # The statements of _project_id and the insert, in one round trip: every batch records several parts.
        execute(self.session,
                "INSERT INTO projects (name) VALUES (%s) ON CONFLICT (name) DO NOTHING; "
                "INSERT INTO histogram_parts (project_id, survey, version, kind, key) "
                "VALUES ((SELECT id FROM projects WHERE name = %s), %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
                (project, project, survey, version, kind, key))

    def keys(self, project: str, survey: str, version: str, kind: str) -> list[str]:
        """Return the keys of every recorded part, oldest first."""
        stmt = (
            select(histogram_parts.c.key)
            .join(projects, projects.c.id == histogram_parts.c.project_id)
            .where(
                projects.c.name == project,
                histogram_parts.c.survey == survey,
                histogram_parts.c.version == version,
                histogram_parts.c.kind == kind,
            )
            .order_by(histogram_parts.c.id)
        )
        return list(self.session.scalars(stmt))

    def replace(self, project: str, survey: str, version: str, kind: str, old: Sequence[str], new: str) -> None:
        """Forget the parts ``old`` of this product and record ``new`` (as the newest part)."""
        project_id = _project_id(self.session, project, create=True)
        for batch in batched(old, BATCH):
            self.session.execute(
                delete(histogram_parts).where(
                    histogram_parts.c.project_id == project_id,
                    histogram_parts.c.survey == survey,
                    histogram_parts.c.version == version,
                    histogram_parts.c.kind == kind,
                    histogram_parts.c.key.in_(batch),
                )
            )
        self.add(project, survey, version, kind, new)
