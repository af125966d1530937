"""The SQLAlchemy unit of work on a real PostgreSQL: commit keeps, leaving without commit discards."""

import pytest

from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.domain.source import Source


def _sources():
    return [Source("a", 10.0, 20.0), Source("b", 11.0, 21.0)]


def test_commit_persists(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.sources.add_many("p", _sources())
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.sources.count("p") == 2


def test_exit_without_commit_rolls_back(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.sources.add_many("p", _sources())
        assert uow.sources.count("p") == 2
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.sources.count("p") == 0


def test_exception_rolls_back(session_factory):
    with pytest.raises(RuntimeError, match="boom"):
        with SqlAlchemyUnitOfWork(session_factory) as uow:
            uow.sources.add_many("p", _sources())
            raise RuntimeError("boom")
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert uow.sources.count("p") == 0


def test_explicit_rollback_then_commit(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.sources.add_many("p", _sources()[:1])
        uow.rollback()
        uow.sources.add_many("p", _sources()[1:])
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        assert [s.name for s in uow.sources.list("p")] == ["b"]


def test_objects_usable_after_exit(session_factory):
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.sources.add_many("p", _sources())
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory) as uow:
        loaded = uow.sources.list("p")
    assert [(s.name, s.project, s.ra) for s in loaded] == [("a", "p", 10.0), ("b", "p", 11.0)]
