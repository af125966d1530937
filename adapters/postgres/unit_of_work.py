"""Unit of work on PostgreSQL: one session, one transaction, all repositories."""

from __future__ import annotations

import contextlib
from typing import Callable

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from virtualobserver.adapters.postgres.repository import (
    SqlAlchemyDetectionRepository,
    SqlAlchemyLightcurveRepository,
    SqlAlchemyRawDataRepository,
    SqlAlchemySourceRepository,
    SqlAlchemyStepRepository,
)
from virtualobserver.adapters.postgres.science_repository import (
    SqlAlchemyHistogramPartRepository,
    SqlAlchemyInjectionRepository,
    SqlAlchemySummaryRepository,
)
from virtualobserver.adapters.postgres.project_repository import SqlAlchemyProjectRepository
from virtualobserver.adapters.postgres.rate_repository import SqlAlchemyRateRepository
from virtualobserver.adapters.postgres.triage_repository import SqlAlchemyTriageRepository
from virtualobserver.adapters.faults import fault_point
from virtualobserver.domain.errors import DatabaseConnectionLost
from virtualobserver.services.ports import AbstractUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork"]


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """Opens a session on ``__enter__``; leaving without :meth:`commit` discards every change.

    Objects loaded inside the block stay readable after it (detached, not expired).

    The mappers must have been started (``start_mappers``) before use.

    Parameters
    ----------
    session_factory : callable
        Returns a new :class:`sqlalchemy.orm.Session` (see ``make_session_factory``).

    Examples
    --------
    >>> with SqlAlchemyUnitOfWork(session_factory) as uow:  # doctest: +SKIP
    ...     uow.sources.add_many("demo", sources)
    ...     uow.commit()
    """

    def __init__(self, session_factory: Callable[[], Session]):
        self.session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        self.session = self.session_factory()
        self.sources = SqlAlchemySourceRepository(self.session)
        self.raw_data = SqlAlchemyRawDataRepository(self.session)
        self.lightcurves = SqlAlchemyLightcurveRepository(self.session)
        self.detections = SqlAlchemyDetectionRepository(self.session)
        self.steps = SqlAlchemyStepRepository(self.session)
        self.injections = SqlAlchemyInjectionRepository(self.session)
        self.summaries = SqlAlchemySummaryRepository(self.session)
        self.histogram_parts = SqlAlchemyHistogramPartRepository(self.session)
        self.triage = SqlAlchemyTriageRepository(self.session)
        self.projects = SqlAlchemyProjectRepository(self.session)
        self.rates = SqlAlchemyRateRepository(self.session)
        super().__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        error = exc_info[1]
        # Server gone, connection cut, deadlock: all transient. A killed backend may also surface as another
        # DBAPIError class (DatabaseError, InterfaceError) that SQLAlchemy recognised as a disconnect.
        lost = isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated)
        try:
            # Detach loaded objects first: a rollback expires the objects of its session, and
            # expired detached objects cannot be read. The database work is still rolled back.
            self.session.expunge_all()
            with contextlib.suppress(*((DBAPIError,) if lost else ())):  # the transaction died with it
                super().__exit__(*exc_info)  # rolls back whatever was not committed
        finally:
            self.session.close()
            self.session = None
        if lost:  # a port-level error, so the service can retry the batch without knowing SQLAlchemy
            raise DatabaseConnectionLost(" ".join(str(error.orig or error).split())) from error

    def commit(self) -> None:
        """Make every change since the last commit durable."""
        fault_point("db.before_commit")
        self.session.commit()
        fault_point("db.after_commit")

    def rollback(self) -> None:
        """Discard every change since the last commit."""
        self.session.rollback()
