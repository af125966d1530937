"""Abstract ports the services use; adapters implement them, fakes stand in for them in unit tests."""

from __future__ import annotations

import abc
from typing import Iterable, Sequence

from typing import TYPE_CHECKING, ContextManager

import numpy as np

from virtualobserver.domain.catalog import Catalog, CatalogSpec
from virtualobserver.domain.errors import SurveyError, VOError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Parameters
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source
from virtualobserver.domain.stamps import Stamps

from virtualobserver.services import repository_ports
from virtualobserver.services.progress_ports import NullProgress, ProgressSink  # noqa: F401 - re-exported
from virtualobserver.services.repository_ports import *  # noqa: F403 - re-exported: adapters and fakes import every port from here

if TYPE_CHECKING:  # the module is written by the science core; only names are needed here
    from virtualobserver.domain.histograms import Histograms

__all__ = [
    "SurveyClient",
    "DataStore",
    "CatalogReader",
    "HistogramStore",
    "RunLock",
    "HeldLock",
    "ProgressSink",
    "NullProgress",
    *repository_ports.__all__,
]


class SurveyClient(abc.ABC):
    """A survey (the seed's ``VirtualObservatory``): downloads raw data and reduces it.

    Parameters
    ----------
    parameters : Parameters
        Download parameters, an instance of ``parameters_class``.
    """

    #: Configuration name of the survey.
    name: str = ""
    #: Parameters class of the download block of this survey.
    parameters_class: type[Parameters] = Parameters

    def __init__(self, parameters: Parameters | None = None):
        self.parameters = parameters if parameters is not None else self.parameters_class()

    @property
    def waits_on_network(self) -> bool:
        """Whether a download mostly waits (so that threads overlap downloads); archives do, a generator does not."""
        return True

    @abc.abstractmethod
    def download(self, source: Source) -> RawData:
        """Return the raw epoch table of one source.

        Parameters
        ----------
        source : Source
            Target to download.

        Returns
        -------
        RawData
            Columns as the survey delivers them (version is set by the caller).

        Raises
        ------
        SurveyError
            If the survey cannot deliver data for this source.
        """

    def download_many(self, sources: Sequence[Source]) -> list:
        """Download several sources, each as :meth:`download` would; a failed source does not stop the rest.

        The default calls :meth:`download` per source. A survey that can do the work of many sources
        at once (a generator, a bulk query) overrides it, with the same result per source.

        Parameters
        ----------
        sources : sequence of Source
            Targets to download.

        Returns
        -------
        list
            Per source, in order: its RawData (version set by the caller), or the VOError that stopped it.
        """
        results = []
        for source in sources:
            try:
                results.append(self.download(source))
            except VOError as exc:
                results.append(exc)
        return results

    @abc.abstractmethod
    def reduce(self, raw: RawData, parameters: Parameters) -> list[Lightcurve]:
        """Turn raw data into uniform lightcurves (one per filter and season).

        Parameters
        ----------
        raw : RawData
            Loaded raw data of one source.
        parameters : Parameters
            Reduction parameters.

        Returns
        -------
        list of Lightcurve
            Possibly empty when no epoch survives.
        """


    def parse_file(self, path) -> RawData:
        """Read a survey answer the user already has (for ``vo ingest``).

        Parameters
        ----------
        path : str or pathlib.Path
            A file in the survey's own format.

        Returns
        -------
        RawData
            With ``source_name`` empty and ``ra``/``dec`` the position the file is about.

        Raises
        ------
        SurveyError
            If this survey cannot read files, or the file is not a valid answer.
        """
        raise SurveyError(f"survey {self.name!r} cannot ingest files")

    #: Whether this survey's raw data may hold images (target pixel files, cutouts): only then does the
    #: analysis load a source's raw data again to measure its detections' centroid shifts.
    has_images: bool = False

    def pixel_cubes(self, raw: RawData) -> dict[tuple[str, int], tuple[PixelCube, int]]:
        """Return the images of loaded raw data by the lightcurve they reduce to.

        Parameters
        ----------
        raw : RawData
            Loaded raw data of this survey.

        Returns
        -------
        dict
            ``(filter, season)`` of a lightcurve -> its :class:`~domain.pixels.PixelCube` and the quality
            bits of frames not to use; empty for a survey without images (this default).
        """
        return {}

    def combine(self, raws: Sequence[RawData]) -> RawData:
        """Merge several answers about one source (e.g. one TESS file per sector) into one.

        The default concatenates the epoch columns the answers share, keeps
        every image and lists each answer's metadata under ``"parts"``.

        Parameters
        ----------
        raws : sequence of RawData
            At least one answer, all for the same source.

        Returns
        -------
        RawData
            One epoch table.
        """
        if len(raws) == 1:
            return raws[0]
        shared = [name for name in raws[0].columns if all(name in r.columns for r in raws[1:])]
        columns = {name: np.concatenate([r.columns[name] for r in raws]) for name in shared}
        images = {name: image for r in raws for name, image in r.images.items()}
        first = raws[0]
        return RawData(first.survey, first.source_name, first.version, columns, ra=first.ra, dec=first.dec,
                       meta={"parts": [r.meta for r in raws]}, images=images)


class DataStore(abc.ABC):
    """Arrays of raw data and lightcurves on disk, written atomically."""

    def sweep_interrupted(self) -> int:
        """Remove what writes killed before they finished left behind (temporary files); return how many.

        Called when a run starts. Stores that leave nothing behind keep this default, which does nothing.
        """
        return 0

    @abc.abstractmethod
    def save_raw(self, raw: RawData) -> None:
        """Write the columns of ``raw`` and set ``raw.file`` and ``raw.key``."""

    @abc.abstractmethod
    def load_raw(self, raw: RawData) -> RawData:
        """Fill ``raw.columns`` from disk and return it."""

    @abc.abstractmethod
    def save_lightcurves(
        self, project: str, source_name: str, version: str, lightcurves: Sequence[Lightcurve]
    ) -> None:
        """Write all lightcurves of one source and version; set each ``file`` and ``key``."""

    @abc.abstractmethod
    def load_lightcurve(self, lightcurve: Lightcurve) -> Lightcurve:
        """Fill ``lightcurve.columns`` from disk and return it."""

    def load_lightcurves(self, lightcurves: Sequence[Lightcurve]) -> list[Lightcurve]:
        """Fill the columns of several lightcurves (stores may read each file once)."""
        return [self.load_lightcurve(lc) for lc in lightcurves]

    @abc.abstractmethod
    def save_epoch_scores(self, project: str, source_name: str, version: str,
                          tables: dict[str, dict[str, np.ndarray]]) -> None:
        """Write the per-epoch analysis products of one source (lightcurve key -> columns), atomically."""

    @abc.abstractmethod
    def load_epoch_scores(self, project: str, source_name: str, version: str) -> dict[str, dict[str, np.ndarray]]:
        """Read them back (empty if none were saved)."""

    # -- Batches: a run writes one file per batch and level. The defaults fall back on the
    # -- per-source methods, so a store that has no batch layout still works.
    def save_raw_many(self, raws: Sequence[RawData]) -> None:
        """Write the raw data of a batch; set each ``file`` and ``key``."""
        for raw in raws:
            self.save_raw(raw)

    def load_raw_many(self, raws: Sequence[RawData]) -> list[RawData]:
        """Fill the columns of several raw records (stores may read each file once)."""
        return [self.load_raw(raw) for raw in raws]

    def save_lightcurves_many(self, project: str, version: str,
                              by_source: dict[str, Sequence[Lightcurve]]) -> None:
        """Write the lightcurves of a batch of sources (source name -> its lightcurves); set ``file`` and ``key``."""
        for source_name, lightcurves in by_source.items():
            self.save_lightcurves(project, source_name, version, lightcurves)

    def save_epoch_scores_many(self, project: str, version: str,
                               by_source: dict[str, dict[str, dict[str, np.ndarray]]]) -> str | None:
        """Write the per-epoch products of a batch (source name -> lightcurve key -> columns).

        Returns
        -------
        str or None
            The file that holds them all, to be recorded and passed to :meth:`load_epoch_scores_from`;
            None when each source has its own file (found by :meth:`load_epoch_scores`).
        """
        for source_name, tables in by_source.items():
            self.save_epoch_scores(project, source_name, version, tables)
        return None

    def load_epoch_scores_from(self, file: str, source_name: str) -> dict[str, dict[str, np.ndarray]]:
        """Read one source's per-epoch products from a file of :meth:`save_epoch_scores_many` (empty if none)."""
        return {}

    # -- Pixel evidence of detections.
    @abc.abstractmethod
    def save_stamps_many(self, project: str, version: str,
                         items: Sequence[tuple[str, str, int, float, Stamps]]) -> tuple[str | None, list[str]]:
        """Write the image stamps of a batch's detections, atomically, and return where they are.

        Parameters
        ----------
        project, version : str
            Project and analysis version of the detections.
        items : sequence of tuple
            ``(source name, filter, season, detection peak time, Stamps)`` per detection.

        Returns
        -------
        tuple
            The file (None when ``items`` is empty) and one key per item, for the detections' records. Writing
            the same items again gives the same file and keys (a batch redone after a crash).
        """

    @abc.abstractmethod
    def load_stamps(self, file: str, key: str) -> Stamps:
        """Read one detection's stamps (:meth:`save_stamps_many`); raise DataError naming the file if unreadable."""


class HistogramStore(abc.ABC):
    """Histograms on disk (netCDF), written atomically and merged by addition."""

    @abc.abstractmethod
    def save(self, key: str, histograms: "Histograms") -> str:
        """Write ``histograms`` under ``key`` (a relative name made of safe parts); return the file name."""

    @abc.abstractmethod
    def load(self, key: str) -> "Histograms":
        """Read the histograms saved under ``key``."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether something is saved under ``key``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove what is saved under ``key`` (no error if nothing is)."""


class CatalogReader(abc.ABC):
    """Reads a catalog file (or service) described by a :class:`CatalogSpec`."""

    @abc.abstractmethod
    def read(self, spec: CatalogSpec) -> Catalog:
        """Return the catalog, with columns mapped to the standard names.

        Raises
        ------
        CatalogError
            If the file is missing or a row or column is malformed.
        """


class HeldLock(abc.ABC):
    """A lock a :class:`RunLock` holds; it may be lost with the database session that held it."""

    @abc.abstractmethod
    def keep(self) -> None:
        """Make sure the lock is still held, taking it again at once if it was lost with its session.

        Raises
        ------
        ProjectBusyError
            If another process took it while it was lost.
        DatabaseConnectionLost
            If the database cannot be reached to take it again.
        """


class RunLock(abc.ABC):
    """Keeps two runs of the same project from working at once (their histograms would overlap)."""

    @abc.abstractmethod
    def hold(self, name: str, *, wait: bool = False) -> ContextManager[HeldLock | None]:
        """Return a context manager holding the lock ``name`` for its duration.

        A lock whose holder dies (even killed) is released, so it also serves as a lease on a
        batch that several workers might be given. The context manager yields a :class:`HeldLock`
        (or None, for locks that cannot be lost).

        Parameters
        ----------
        name : str
            What is locked (a project, or a project's batch).
        wait : bool
            Wait for the holder to release it instead of failing.

        Raises
        ------
        ProjectBusyError
            At once, if another process holds it and ``wait`` is false.
        """


def batched(items: Iterable, size: int):
    """Yield lists of at most ``size`` items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
