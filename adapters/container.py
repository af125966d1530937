"""Composition root: the only module that names concrete adapters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dependency_injector import containers, providers

from adapters.catalogs.files import FileCatalogReader
from adapters.config_file import load_config
from adapters.files.hdf5_store import Hdf5DataStore
from adapters.postgres.database import Database
from adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from adapters.settings import data_dir, database_url_from_env
from adapters.surveys.demo import VirtualDemoObs
from services.ports import NullProgress
from services.project import Project

__all__ = ["Container", "SURVEYS"]

#: Survey clients by configuration name; a new survey plugs in here.
SURVEYS = {VirtualDemoObs.name: VirtualDemoObs}


def _thread_map(workers: int):
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vo-download")
    return pool.map


class Container(containers.DeclarativeContainer):
    """Wires ports to adapters.

    Configuration keys: ``config_path`` (project YAML), ``overrides``
    (dotted key -> value), ``workers`` (download threads).
    """

    config = providers.Configuration()

    data_dir = providers.Singleton(data_dir)
    database = providers.Singleton(Database, url=providers.Callable(database_url_from_env), data_dir=data_dir)
    session_factory = providers.Singleton(lambda db: db.session_factory(), database)
    uow = providers.Factory(SqlAlchemyUnitOfWork, session_factory=session_factory)
    store = providers.Singleton(Hdf5DataStore, root=data_dir)
    catalog_reader = providers.Singleton(FileCatalogReader)
    surveys = providers.Object(SURVEYS)
    survey_parameters = providers.Object({name: cls.parameters_class for name, cls in SURVEYS.items()})
    progress = providers.Object(NullProgress())
    mapper = providers.Singleton(_thread_map, workers=config.workers.as_(int))

    project_config = providers.Singleton(
        load_config, config.config_path, survey_parameters=survey_parameters, overrides=config.overrides
    )
    project = providers.Factory(
        Project,
        config=project_config,
        uow_factory=uow.provider,
        store=store,
        catalog_reader=catalog_reader,
        surveys=surveys,
        progress=progress,
        mapper=mapper,
    )
