"""Composition root: the only module that names concrete adapters."""

from __future__ import annotations

import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.executors.cores import resolve_workers
from virtualobserver.adapters.postgres.database import Database
from virtualobserver.adapters.settings import data_dir, database_url_from_env, workers_from_env
from virtualobserver.adapters.surveys.registry import SURVEYS, LazyMapping, survey_parameters
from virtualobserver.domain.config import AUTO_WORKERS, parse_workers
from virtualobserver.services.ports import NullProgress

if TYPE_CHECKING:
    from virtualobserver.adapters.http.cache import RawCache
    from virtualobserver.adapters.postgres.archive_limits import PostgresArchiveLimits
    from virtualobserver.services.project import Project
    from virtualobserver.services.workspace import Workspace

# Every other adapter is imported by the provider that makes it (the functions below): a command builds
# only what it uses, and `vo status` does not pay for the survey readers, Dask or the HDF5 and netCDF
# libraries (issue 18; tests/e2e/test_startup_imports.py).

__all__ = ["Container", "SURVEYS", "WorkerRecipe", "open_project", "close_container", "build_container", "find_project_files"]

def _survey_factories(cache: RawCache, archive_limits=None) -> LazyMapping:
    # Clients of real archives keep their answers in the shared raw cache; the demo needs none.
    # ``archive_limits`` is taken only so the clients are never built before their limits are shared.
    # Each client's module is imported when a project uses that survey (adapters.surveys.registry).
    return LazyMapping(SURVEYS, functools.partial(_survey_factory, cache))


def _survey_factory(cache: RawCache, name: str):
    if name == "ztf":
        return functools.partial(_ztf_client, cache=cache)
    cls = SURVEYS[name]
    return functools.partial(cls, cache=cache) if "cache" in inspect.signature(cls).parameters else cls


def _ztf_client(parameters=None, *, cache: RawCache):
    # One survey, two places its epochs come from: IRSA's API per source, or a HATS collection in bulk.
    if parameters is not None and parameters.access == "hats":
        from virtualobserver.adapters.surveys.ztf_hats import VirtualZtfHats

        return VirtualZtfHats(parameters, cache=cache)
    return SURVEYS["ztf"](parameters, cache=cache)


def _hdf5_store(root: Path):
    from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore

    return Hdf5DataStore(root=root)


def _histogram_store(root: Path):
    from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore

    return NetCdfHistogramStore(root=root)


def _manifest_store(root: Path):
    from virtualobserver.adapters.files.manifest_store import FileManifestStore

    return FileManifestStore(root=root)


def _catalog_reader():
    from virtualobserver.adapters.catalogs.files import FileCatalogReader

    return FileCatalogReader()


def _raw_cache(root: Path) -> RawCache:
    from virtualobserver.adapters.http.cache import RawCache

    return RawCache(root / "cache")


def _uow(session_factory):
    from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork

    return SqlAlchemyUnitOfWork(session_factory=session_factory)


def _run_lock(database: Database):
    from virtualobserver.adapters.postgres.lock import PostgresRunLock

    return PostgresRunLock(database.engine)


def _in_process_executor():
    from virtualobserver.services.executor import InProcessExecutor

    return InProcessExecutor()


def _project(**parts) -> Project:
    from virtualobserver.services.project import Project

    return Project(**parts)


def _download_threads(workers: int, config) -> int:
    # Enough threads for the busiest survey's allowed concurrency; each client's own limiter
    # then keeps every service within its configured concurrency and rate.
    wanted = [getattr(s.download, "max_concurrency", 0) for s in config.surveys] if config else []
    return max([int(workers), *wanted])


def _thread_map(workers: int):
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vo-download")
    return pool.map


def _executor(batch_workers, scheduler: str | None, dashboard: str | None = None, project_config=None,
              cluster_check=None):
    # ``batch_workers`` None: $VO_WORKERS, else the configuration's project.workers (default auto); "auto": one
    # worker per usable core. One worker runs the batches in this process (no cluster to start).
    key = "--workers"
    if batch_workers is None:
        batch_workers, key = workers_from_env(), "VO_WORKERS"
    if batch_workers is None:
        config = project_config() if project_config is not None else None
        batch_workers, key = (config.workers if config is not None else AUTO_WORKERS), "project.workers"
    automatic = parse_workers(batch_workers, key=key) == AUTO_WORKERS
    if scheduler is None:
        count = resolve_workers(batch_workers, key=key)
        if count <= 1:
            return _in_process_executor()
    from virtualobserver.adapters.executors.dask_executor import DaskExecutor

    if scheduler is not None:
        return DaskExecutor(scheduler=scheduler, preflight=cluster_check)
    # A cluster costs seconds to start: chosen automatically, it is started only for runs of 2 batches or more.
    return DaskExecutor(workers=count, dashboard=dashboard, preflight=cluster_check, single_batch_in_process=automatic)


def _cluster_check(database_provider, data_dir_provider):
    # Built lazily: the check needs the database's URL (starting an embedded server) only when a cluster runs.
    from virtualobserver.adapters.executors.cluster_check import ClusterCheck

    return ClusterCheck(lambda: database_provider().url, lambda: Path(data_dir_provider()))


def _share_archive_limits(database: Database) -> PostgresArchiveLimits:
    from virtualobserver.adapters.http.ratelimit import share_limits
    from virtualobserver.adapters.postgres.archive_limits import PostgresArchiveLimits

    # Every process that builds a project (the driver, each Dask worker through WorkerRecipe, another
    # run on the same database) takes its archive slots and rate turns from the database, so together
    # they keep each archive's rate_limit_per_s and max_concurrency. Its engine opens on first request.
    limits = PostgresArchiveLimits(database.url)
    share_limits(limits)
    # However the database is closed (close_container, or database().close() as several commands do),
    # the process stops taking its turns from it.
    database.on_close(functools.partial(_stop_sharing, limits))
    return limits


def _stop_sharing(limits: PostgresArchiveLimits) -> None:
    from virtualobserver.adapters.http.ratelimit import share_limits, shared_limits

    if shared_limits() is limits:
        share_limits(None)
    limits.close()


@dataclass(frozen=True)
class WorkerRecipe:
    """Everything a worker process needs to build the driver's project: picklable and hashable.

    Workers connect to the driver's database URL (for the embedded server, its unix socket), so
    they never start a server of their own, and never ship sessions or engines across processes.

    Attributes
    ----------
    config_path : str
        Project YAML file.
    overrides : tuple of tuple
        Dotted key -> value pairs.
    data_dir : str
        Data folder shared with the driver.
    database_url : str
        URL of the driver's database server.
    download_threads : int
        Download threads inside the worker.
    """

    config_path: str
    overrides: tuple
    data_dir: str
    database_url: str
    download_threads: int

    def __call__(self):
        """Return the project wired in this process (with the in-process executor)."""
        container = build_container(self.config_path, dict(self.overrides), workers=self.download_threads)
        container.data_dir.override(Path(self.data_dir))
        # The driver already migrated the schema; each worker only connects.
        container.database.override(providers.Singleton(Database, url=self.database_url,
                                                        data_dir=Path(self.data_dir), migrate=False))
        return container.project()


def _worker_recipe(executor, config_path, overrides, workers, data_dir, database):
    if executor.in_process or config_path is None:
        return None
    return WorkerRecipe(str(Path(config_path).resolve()), tuple(sorted(overrides.items())), str(data_dir),
                        database.url, int(workers))


class Container(containers.DeclarativeContainer):
    """Wires ports to adapters.

    Inputs (override them, or use :func:`build_container`): ``config_path``
    (project YAML), ``overrides`` (dotted key -> value; kept as a plain object
    because a Configuration provider would split the dotted keys), ``workers``
    (download threads; raised to the largest ``max_concurrency`` of the project's surveys),
    ``batch_workers`` (worker processes for the batches: a number, 1 runs them in this process; ``"auto"``
    one per usable core; None the configuration's ``project.workers``),
    ``scheduler`` (address of an existing Dask scheduler, instead) and ``dashboard`` (address of
    the local cluster's dashboard; None: none); ``project_folder`` (where the TUI lists project files
    when no project file is given; None: ./configs).
    """

    config_path = providers.Object(None)
    overrides = providers.Object({})
    workers = providers.Object(4)
    batch_workers = providers.Object(1)
    scheduler = providers.Object(None)
    dashboard = providers.Object(None)
    project_folder = providers.Object(None)

    data_dir = providers.Singleton(data_dir)
    database = providers.Singleton(Database, url=providers.Callable(database_url_from_env), data_dir=data_dir)
    session_factory = providers.Singleton(lambda db: db.session_factory(), database)
    uow = providers.Factory(_uow, session_factory=session_factory)
    run_lock = providers.Singleton(_run_lock, database)
    store = providers.Singleton(_hdf5_store, root=data_dir)
    histogram_store = providers.Singleton(_histogram_store, root=data_dir)
    manifest_store = providers.Singleton(_manifest_store, root=data_dir)
    catalog_reader = providers.Singleton(_catalog_reader)
    raw_cache = providers.Singleton(_raw_cache, data_dir)
    archive_limits = providers.Singleton(_share_archive_limits, database)
    surveys = providers.Singleton(_survey_factories, raw_cache, archive_limits)
    survey_parameters = providers.Object(survey_parameters())
    progress = providers.Object(NullProgress())
    project_config = providers.Singleton(
        load_config, config_path, survey_parameters=survey_parameters, overrides=overrides
    )
    executor = providers.Singleton(_executor, batch_workers, scheduler, dashboard,
                                   providers.Callable(lambda path, config: config if path else None, config_path,
                                                      project_config.provider),
                                   providers.Callable(_cluster_check, database.provider, data_dir.provider))
    mapper = providers.Singleton(_thread_map, workers=providers.Callable(_download_threads, workers, project_config))
    project = providers.Factory(
        _project,
        config=project_config,
        uow_factory=uow.provider,
        store=store,
        catalog_reader=catalog_reader,
        histogram_store=histogram_store,
        surveys=surveys,
        progress=progress,
        mapper=mapper,
        run_lock=run_lock,
        manifest_store=manifest_store,
        executor=executor,
        worker_recipe=providers.Callable(_worker_recipe, executor, config_path, overrides, workers, data_dir,
                                         database),
        reconnect=database.provided.revive,
    )

    # -- The TUI's workspace (project files on disk, projects in the database); see _workspace below.
    workspace = providers.Singleton(
        lambda *args: _workspace(*args), uow.provider, project.provider, survey_parameters, config_path, overrides,
        workers, project_folder,
    )


def open_project(config_path, overrides=None, *, workers: int = 4, progress=None, batch_workers: int | str | None = 1,
                 scheduler: str | None = None) -> tuple[Container, Project]:
    """Build the container for a project YAML and return it with the project (the Python entry point).

    Parameters
    ----------
    config_path, overrides, workers, progress, batch_workers, scheduler
        As for :func:`build_container`.

    Returns
    -------
    tuple
        ``(container, project)``; call :func:`close_container` when done.

    Examples
    --------
    >>> container, project = open_project("configs/demo.yaml")  # doctest: +SKIP
    >>> project.run(limit=100); project.status()                  # doctest: +SKIP
    """
    container = build_container(config_path, overrides, workers=workers, progress=progress,
                                batch_workers=batch_workers, scheduler=scheduler)
    return container, container.project()


def close_container(container: Container) -> None:
    """Stop the executor's workers (a local cluster), then release the database (and embedded server).

    Parameters
    ----------
    container : Container
        The container of :func:`build_container`.
    """
    try:
        container.executor().close()
    finally:
        container.database().close()


def build_container(config_path=None, overrides=None, *, workers: int = 4, progress=None,
                    batch_workers: int | str | None = 1,
                    scheduler: str | None = None, dashboard: str | None = None) -> Container:
    """Return a container configured for one project YAML (or none, for database commands).

    Parameters
    ----------
    config_path : str or pathlib.Path, optional
        Project YAML file.
    overrides : mapping, optional
        Dotted key -> value, winning over the file.
    workers : int
        Download threads (per process doing batches).
    progress : ProgressSink, optional
        Receives progress events.
    batch_workers : int or str or None
        Worker processes for the batches: 1 (the default from Python) runs them in this process, more start a
        local Dask cluster; ``"auto"`` one per usable core; None (``vo run``'s default): ``$VO_WORKERS``, else
        the configuration's ``project.workers`` (default ``auto``).
    scheduler : str, optional
        Address of an existing Dask scheduler whose workers share the database and data folder.
    dashboard : str, optional
        Address of the local Dask cluster's dashboard (``HOST:PORT``); None: no dashboard.

    Returns
    -------
    Container
        The wired composition root.
    """
    container = Container()
    container.config_path.override(str(config_path) if config_path else None)
    container.overrides.override(dict(overrides or {}))
    container.workers.override(int(workers))
    container.batch_workers.override(batch_workers if batch_workers in (None, AUTO_WORKERS) else int(batch_workers))
    container.scheduler.override(scheduler)
    container.dashboard.override(dashboard)
    if progress is not None:
        container.progress.override(progress)
    return container


# -- The TUI's workspace -------------------------------------------------------------------------------
# `vo tui` lists the project files next to the one it was given (and in ./configs), or those of the folder
# it was given, and the projects in the database, and opens any of them; opening builds a Project exactly
# as `vo run` does.

def find_project_files(*folders) -> list[str]:
    """Return the YAML files of ``folders`` (those that exist), sorted, each once.

    Parameters
    ----------
    *folders : str or pathlib.Path
        Folders to look in.

    Returns
    -------
    list of str
        Paths of ``*.yaml`` and ``*.yml`` files.
    """
    found: dict[Path, str] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                found.setdefault(path.resolve(), str(path))
    return list(found.values())


def _workspace(uow_factory, project_factory, survey_parameters, config_path, overrides, workers,
               project_folder=None) -> Workspace:
    given = Path(config_path).resolve() if config_path else None

    def load(path):
        # Command-line overrides belong to the file they were given with, not to every project file.
        extra = overrides if given is not None and Path(path).resolve() == given else None
        return load_config(path, survey_parameters=survey_parameters, overrides=extra)

    def make(config):
        # Workers rebuild a project from the command line's file: projects opened here run in this process.
        return project_factory(config=config, mapper=_thread_map(_download_threads(workers, config)),
                               executor=_in_process_executor(), worker_recipe=None)

    from virtualobserver.services.workspace import Workspace

    if project_folder is not None:
        folders = [Path(project_folder)]
    else:
        folders = ([given.parent] if given else []) + [Path.cwd() / "configs"]
    return Workspace(uow_factory, find_configs=lambda: find_project_files(*folders), load_config=load,
                     make_project=make)

