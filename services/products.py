"""Read a project's products lazily from Python and as tables to export (the Python API).

Sources come in batches (one short transaction per batch), lightcurves as records whose
arrays are read from the data store only when asked, detections with their triage labels. With a
project wired by ``open_project`` of the ``adapters.container`` module (this layer knows only ports)::

    container, project = open_project("configs/demo.yaml")
    products = Products.of(project)
    for item in products.sources(limit=10):
        for lc in products.load(item.lightcurves):
            series = products.timeseries(lc)
    container.database().close()
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from astropy.table import Table

from astropy.timeseries import TimeSeries

from virtualobserver.domain.config import ProjectConfig, SurveyConfig
from virtualobserver.domain.errors import ConfigError, DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.source import Source
from virtualobserver.domain.summary import SourceSummary
from virtualobserver.services.histograms import merged_histograms
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore, HistogramStore, NullProgress, ProgressSink
from virtualobserver.services.product_export import PRODUCTS, ProductTables
from virtualobserver.services.product_tables import flux_unit, to_timeseries
from virtualobserver.services.stamps import StampedDetection
from virtualobserver.services.provenance import catalog_fingerprint, code_version, project_version
from virtualobserver.services.triage import DetectionRow

__all__ = ["Products", "SourceProducts", "PRODUCTS", "to_timeseries"]


@dataclass
class SourceProducts:
    """What a project holds of one source in one survey at the current versions.

    Attributes
    ----------
    source : Source
        The source (with its catalog properties).
    survey : str
        Survey name.
    lightcurves : list of Lightcurve
        Records at the reduction version; their arrays are not loaded (see :meth:`Products.load`).
    detections : list of DetectionRow
        Detections at the analysis version (and simulated ones if asked), each with its triage label.
    """

    source: Source
    survey: str
    lightcurves: list[Lightcurve] = field(default_factory=list)
    detections: list[DetectionRow] = field(default_factory=list)

    def detections_of(self, lightcurve: Lightcurve) -> list[DetectionRow]:
        """Return the detections found in one of the source's lightcurves.

        Parameters
        ----------
        lightcurve : Lightcurve
            One of :attr:`lightcurves`.

        Returns
        -------
        list of DetectionRow
            In peak-time order.
        """
        return [row for row in self.detections if row.detection.lightcurve_id == lightcurve.id]


class Products:
    """Read-only access to a project's products at the versions of its configuration.

    Nothing is read until asked: :meth:`sources` reads one batch of sources (with their
    lightcurve records and labelled detections) per transaction, and arrays are read by
    :meth:`load`. Every table carries units and provenance metadata (:meth:`provenance`).

    Parameters
    ----------
    config : ProjectConfig
        The project's configuration (it sets the versions read).
    uow_factory : callable
        Returns a new unit of work.
    store : DataStore
        Arrays on disk.
    histogram_store : HistogramStore
        Histogram files.
    fingerprint : callable, optional
        ``fingerprint(path) -> str``, the SHA-256 of a file, for the catalog hash in the metadata
        (e.g. ``ManifestStore.fingerprint``); without it the hash is left empty.
    progress : ProgressSink, optional
        Told how many sources :meth:`sources` has read (stage ``sources read``), for long exports.
    """

    def __init__(self, config: ProjectConfig, *, uow_factory: Callable[[], AbstractUnitOfWork], store: DataStore,
                 histogram_store: HistogramStore, fingerprint: Callable[[str], str] | None = None,
                 progress: ProgressSink | None = None):
        self.progress = progress or NullProgress()
        self.config = config
        self.uow_factory = uow_factory
        self.store = store
        self.histogram_store = histogram_store
        self.fingerprint = fingerprint
        self._catalog_hash: str | None = None
        self._tables = ProductTables(self)

    @classmethod
    def of(cls, project, fingerprint: Callable[[str], str] | None = None) -> "Products":
        """Return the products of a :class:`~services.project.Project`.

        Parameters
        ----------
        project : Project
            An open project.
        fingerprint : callable, optional
            As for the constructor (default: the project's ``manifest_store.fingerprint``, if it has one).

        Returns
        -------
        Products
            Over the project's configuration, unit of work and stores.
        """
        if fingerprint is None:  # a project with a manifest store hashes the catalog the way its manifests do
            fingerprint = getattr(getattr(project, "manifest_store", None), "fingerprint", None)
        return cls(project.config, uow_factory=project.uow_factory, store=project.store,
                   histogram_store=project.histogram_store, fingerprint=fingerprint)

    @property
    def name(self) -> str:
        """Project name."""
        return self.config.name

    def lightcurve_tables(self, survey: str | None = None, *, names: Sequence[str] | None = None,
                          limit: int | None = None) -> Iterator[Table]:
        """Yield one table per lightcurve: see :meth:`services.product_export.ProductTables.lightcurve_tables`."""
        return self._tables.lightcurve_tables(survey, names=names, limit=limit)

    def stamps(self, survey: str | None = None, *, names: Sequence[str] | None = None,
               limit: int | None = None) -> Iterator[StampedDetection]:
        """Yield the real detections with their stamps: see :meth:`services.product_export.ProductTables.stamps`."""
        return self._tables.stamps(survey, names=names, limit=limit)

    def table(self, what: str, survey: str | None = None, *, simulated: bool = False,
              names: Sequence[str] | None = None, limit: int | None = None, histogram: str | None = None) -> Table:
        """Return one product as a single table: see :meth:`services.product_export.ProductTables.table`."""
        return self._tables.table(what, survey, simulated=simulated, names=names, limit=limit, histogram=histogram)

    def survey(self, name: str | None = None) -> SurveyConfig:
        """Return the configuration of survey ``name`` (default: the project's first).

        Parameters
        ----------
        name : str, optional
            Survey name.

        Returns
        -------
        SurveyConfig
            Its parameters and versions.

        Raises
        ------
        ConfigError
            If the project has no such survey.
        """
        for survey in self.config.surveys:
            if name in (None, survey.name):
                return survey
        known = ", ".join(s.name for s in self.config.surveys)
        raise ConfigError(f"survey {name!r} is not in project {self.name!r} (it has: {known})")

    # -- lazy iteration -----------------------------------------------------------------------
    def sources(self, survey: str | None = None, *, names: Sequence[str] | None = None, limit: int | None = None,
                include_simulated: bool = False, batch_size: int | None = None) -> Iterator[SourceProducts]:
        """Yield the project's sources (by name) with their lightcurve records and labelled detections.

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the project's first).
        names : sequence of str, optional
            Only these sources (unknown names are skipped).
        limit : int, optional
            At most this many sources.
        include_simulated : bool
            Also give the simulated detections of the current simulation version.
        batch_size : int, optional
            Sources read per transaction (default: the project's ``batch_size``).

        Yields
        ------
        SourceProducts
            One per source; lightcurve arrays are not loaded.
        """
        config = self.survey(survey)
        size = batch_size or self.config.batch_size
        given = None if names is None else sorted(set(names))
        yield from self._counted(self._sources(config, size, given, limit, include_simulated), given, limit)

    def _counted(self, items: Iterator[SourceProducts], given, limit) -> Iterator[SourceProducts]:
        """Pass the sources on, telling the progress sink (a stage of as many as will be read)."""
        if isinstance(self.progress, NullProgress):
            yield from items
            return
        if given is not None:
            total = len(given)
        else:
            with self.uow_factory() as uow:
                total = uow.sources.count(self.name)
        total = total if limit is None else min(total, limit)
        self.progress.start("sources read", total)
        try:
            for item in items:
                self.progress.advance("sources read")
                yield item
        finally:
            self.progress.finish("sources read")

    def _sources(self, config: SurveyConfig, size: int, given, limit, include_simulated) -> Iterator[SourceProducts]:
        done = 0
        offset = 0
        while limit is None or done < limit:
            want = size if limit is None else min(size, limit - done)
            with self.uow_factory() as uow:
                if given is None:
                    batch = uow.sources.list(self.name, limit=want, offset=offset)
                else:
                    found = uow.sources.get_many(self.name, given[offset:offset + want])
                    batch = [found[n] for n in given[offset:offset + want] if n in found]
                items = self._batch(uow, config, batch, include_simulated) if batch else []
            yield from items
            done += len(items)
            offset += want
            if (given is None and len(batch) < want) or (given is not None and offset >= len(given)):
                return

    def _batch(self, uow: AbstractUnitOfWork, survey: SurveyConfig, sources: list[Source],
               include_simulated: bool) -> list[SourceProducts]:
        ids = [s.id for s in sources]
        lightcurves = uow.lightcurves.for_sources(ids, survey.name, survey.reduction_version)
        detections = uow.detections.for_sources(ids, survey.analysis_version)
        if include_simulated:
            for source_id, found in uow.detections.for_sources(ids, survey.simulation_version,
                                                                include_simulated=True).items():
                detections.setdefault(source_id, []).extend(found)
        labels = uow.triage.labels([d.id for found in detections.values() for d in found])
        items = []
        for source in sources:
            own = lightcurves.get(source.id, [])
            for lc in own:
                lc.source_name = source.name
            by_id = {lc.id: lc for lc in own}
            rows = []
            for d in sorted(detections.get(source.id, []), key=lambda d: (d.is_simulated, d.peak_mjd)):
                lc = by_id.get(d.lightcurve_id)
                rows.append(DetectionRow(d, source.name, survey.name, lc.filter if lc else None,
                                         lc.season if lc else None, labels.get(d.id)))
            items.append(SourceProducts(source, survey.name, own, rows))
        return items

    def source(self, name: str, survey: str | None = None, *, include_simulated: bool = False
               ) -> SourceProducts | None:
        """Return what the project holds of one source (None if the project has no such source).

        Parameters
        ----------
        name : str
            Source name.
        survey : str, optional
            Survey name (default: the project's first).
        include_simulated : bool
            Also give its simulated detections.

        Returns
        -------
        SourceProducts or None
            Lightcurve arrays not loaded.
        """
        return next(iter(self.sources(survey, names=[name], include_simulated=include_simulated)), None)

    def injections(self, item: SourceProducts) -> list:
        """Return the events injected into a source at the current simulation version (by sequence).

        Parameters
        ----------
        item : SourceProducts
            The source (and its survey), as from :meth:`source`.

        Returns
        -------
        list of Injection
            Each with the ``lightcurve_id`` it was injected into; empty if the source was not simulated.
        """
        config = self.survey(item.survey)
        with self.uow_factory() as uow:
            return uow.injections.for_sources(self.name, config.simulation_version, [item.source.id])

    def epoch_scores(self, item: SourceProducts) -> dict[str, dict]:
        """Return the per-epoch analysis products of a source at the analysis version, by lightcurve key.

        Parameters
        ----------
        item : SourceProducts
            The source (and its survey), as from :meth:`source`.

        Returns
        -------
        dict
            Lightcurve key -> columns (``mjd``, ``snr``, ``delta_mag``, ``best_score``, ``best_width``,
            ``quality_flag``, ``cut_<name>`` and, from analyses that record it, ``trend``); empty if
            not analysed or not saved (``analysis.save_epoch_scores``).
        """
        config = self.survey(item.survey)
        with self.uow_factory() as uow:
            file = uow.summaries.scores_file(item.source.id, config.name, config.analysis_version)
        if file:  # a batch file of the run's layout
            return self.store.load_epoch_scores_from(file, item.source.name)
        return self.store.load_epoch_scores(self.name, item.source.name, config.analysis_version)

    def load(self, lightcurves: Sequence[Lightcurve]) -> list[Lightcurve]:
        """Read the arrays of lightcurve records (each file once) and return them.

        Parameters
        ----------
        lightcurves : sequence of Lightcurve
            Records, e.g. :attr:`SourceProducts.lightcurves`.

        Returns
        -------
        list of Lightcurve
            The same objects, loaded.
        """
        pending = [lc for lc in lightcurves if not lc.is_loaded]
        if pending:
            self.store.load_lightcurves(pending)
        return list(lightcurves)

    def timeseries(self, lightcurve: Lightcurve) -> TimeSeries:
        """Return a lightcurve (loaded on demand) as an astropy ``TimeSeries`` with units and provenance.

        Parameters
        ----------
        lightcurve : Lightcurve
            A record or a loaded lightcurve.

        Returns
        -------
        astropy.timeseries.TimeSeries
            ``time`` on the lightcurve's own scale (UTC or TDB).
        """
        self.load([lightcurve])
        return to_timeseries(lightcurve, self.provenance(lightcurve.survey, product="lightcurve"))

    def summaries(self, survey: str | None = None) -> dict[str, SourceSummary]:
        """Return the per-source summaries of the current analysis version, by source name.

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the project's first).

        Returns
        -------
        dict
            Source name -> SourceSummary.
        """
        config = self.survey(survey)
        with self.uow_factory() as uow:
            return dict(uow.summaries.list(self.name, config.name, config.analysis_version, limit=None))

    def histograms(self, name: str, survey: str | None = None):
        """Return the merged histogram ``name`` of the current versions (None if nothing was counted).

        Parameters
        ----------
        name : str
            ``scanned``, ``cut_<cut>`` or ``efficiency``.
        survey : str, optional
            Survey name (default: the project's first).

        Returns
        -------
        Histograms or None
            The sum of every committed part.
        """
        config = self.survey(survey)
        version = config.simulation_version if name == "efficiency" else config.analysis_version
        with self.uow_factory() as uow:
            return merged_histograms(uow, self.histogram_store, self.name, config.name, version, name)

    # -- provenance and tables ------------------------------------------------------------------
    def provenance(self, survey: str | None = None, *, product: str = "", simulated: bool = False,
                   now: _dt.datetime | None = None) -> dict:
        """Return the metadata every exported table carries (FITS-safe keys).

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the project's first).
        product : str
            What the table holds (``lightcurves``, ``detections``, ...).
        simulated : bool
            Whether simulated detections are included.
        now : datetime.datetime, optional
            Export time (default: now, UTC).

        Returns
        -------
        dict
            ``PRODUCT``, ``PROJECT``, ``SURVEY``, ``PROJVER`` (the manifest's version), ``DLVER``,
            ``REDVER``, ``ANAVER``, ``SIMVER``, ``VOVERS`` (package version), ``ALGOVER`` (science code
            versions), ``CATHASH``, ``DATE`` (export time, UTC), ``SIMULATD``, and ``FLUXZP`` for
            fluxes on the zero-point scale.
        """
        config = self.survey(survey)
        code = code_version()
        meta = {
            "PRODUCT": product, "PROJECT": self.name, "SURVEY": config.name, "PROJVER": project_version(self.config),
            "DLVER": config.download_version, "REDVER": config.reduction_version, "ANAVER": config.analysis_version,
            "SIMVER": config.simulation_version, "VOVERS": code["version"],
            "ALGOVER": " ".join(f"{k}={v}" for k, v in code["algorithms"].items()),
            "CATHASH": self._catalog(), "SIMULATD": bool(simulated),
            "DATE": (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if flux_unit(config.name) is None:
            meta["FLUXZP"] = float(config.reduction.zero_point)
        return meta

    def _catalog(self) -> str:
        if self._catalog_hash is None:
            self._catalog_hash = ""
            if self.fingerprint is not None:
                try:
                    self._catalog_hash = catalog_fingerprint(self.config, self.fingerprint)["hash"]
                except DataError:  # the catalog moved since the run: the products are still worth exporting
                    pass
        return self._catalog_hash
