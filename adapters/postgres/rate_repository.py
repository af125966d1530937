"""SQLAlchemy repository of event rates: aggregate counts of injections, real detections and searched data."""

from __future__ import annotations

from sqlalchemy import and_, case, func, select

from virtualobserver.adapters.postgres.orm import detections as detections_table
from virtualobserver.adapters.postgres.orm import injections as injections_table
from virtualobserver.adapters.postgres.orm import lightcurves as lightcurves_table
from virtualobserver.adapters.postgres.orm import sources as sources_table
from virtualobserver.adapters.postgres.orm import steps
from virtualobserver.adapters.postgres.repository import _in_project, _Repository
from virtualobserver.domain.rates import Candidate, Exposure, InjectionCounts
from virtualobserver.services.rate_ports import RateRepository

__all__ = ["SqlAlchemyRateRepository"]

#: A source has an observed span from a lightcurve with at least this many good epochs (the Simulator's rule).
_SPAN_EPOCHS = 2


class SqlAlchemyRateRepository(_Repository, RateRepository):
    """Counts for rates, each one aggregate query (GROUP BY in the database, a few rows back).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the unit of work.
    """

    def injection_counts(self, project: str, version: str) -> dict[str, InjectionCounts]:
        """Return injected, recovered, in-gap and real-overlapping injections at ``version`` by kind."""
        inj = injections_table.c
        joined, condition = _in_project(project)
        joined = joined.join(injections_table, inj.source_id == sources_table.c.id)
        stmt = (select(inj.kind, func.count(), func.count().filter(inj.recovered),
                       func.count().filter(inj.covered == 0), func.count().filter(inj.overlaps_real))
                .select_from(joined).where(condition, inj.version == version).group_by(inj.kind))
        return {kind: InjectionCounts(int(n), int(recovered), int(gaps), int(real))
                for kind, n, recovered, gaps, real in self.session.execute(stmt)}

    def candidates(self, project: str, version: str, kind: str) -> list[Candidate]:
        """Return the real detections of ``kind`` at ``version`` with label and their lightcurve's mean step."""
        det, lc = detections_table.c, lightcurves_table.c
        joined, condition = _in_project(project)
        joined = joined.join(detections_table, det.source_id == sources_table.c.id).outerjoin(
            lightcurves_table, lc.id == det.lightcurve_id)
        cadence = case((lc.num_epochs > 1, (lc.mjd_end - lc.mjd_start) / (lc.num_epochs - 1)), else_=0.0)
        stmt = (select(det.source_id, det.lightcurve_id, func.coalesce(det.start_mjd, det.peak_mjd),
                       func.coalesce(det.end_mjd, det.peak_mjd), det.label, cadence)
                .select_from(joined)
                .where(condition, det.version == version, det.is_simulated.is_(False), det.kind == kind)
                .order_by(det.source_id, det.peak_mjd))
        return [Candidate(int(source_id), int(lightcurve_id), float(start), float(end), label, float(step or 0.0))
                for source_id, lightcurve_id, start, end, label, step in self.session.execute(stmt)]

    def exposure(self, project: str, survey: str, reduction_version: str, *, stage: str, version: str,
                 min_good_epochs: int) -> Exposure:
        """Return the analysed sources' summed spans and the searched lightcurves' epochs and spans."""
        joined, condition = _in_project(project)
        analysed = (select(sources_table.c.id.label("source_id"))
                    .select_from(joined.join(steps, steps.c.source_id == sources_table.c.id))
                    .where(condition, steps.c.stage == stage, steps.c.survey == survey, steps.c.version == version)
                    .subquery())
        lc = lightcurves_table.c
        mine = (select(lc.source_id, lc.num_good, lc.mjd_start, lc.mjd_end)
                .join(analysed, analysed.c.source_id == lc.source_id)
                .where(lc.survey == survey, lc.version == reduction_version, lc.mjd_start.is_not(None),
                       lc.mjd_end.is_not(None))
                .subquery())
        searched = mine.c.num_good >= min_good_epochs
        lightcurves, good, days = self.session.execute(
            select(func.count().filter(searched), func.coalesce(func.sum(mine.c.num_good).filter(searched), 0),
                   func.coalesce(func.sum(mine.c.mjd_end - mine.c.mjd_start).filter(searched), 0.0))
        ).one()
        spans = (select((func.max(mine.c.mjd_end) - func.min(mine.c.mjd_start)).label("span"))
                 .where(mine.c.num_good >= _SPAN_EPOCHS).group_by(mine.c.source_id).subquery())
        observed, source_days = self.session.execute(
            select(func.count().filter(and_(spans.c.span > 0)), func.coalesce(func.sum(spans.c.span), 0.0))).one()
        sources = self.session.execute(select(func.count()).select_from(analysed)).scalar_one()
        return Exposure(sources=int(sources), observed_sources=int(observed), source_days=float(source_days),
                        lightcurves=int(lightcurves), good_epochs=int(good), lightcurve_days=float(days))
