"""Projects over fakes for the TUI tests: a deterministic survey with flares, a fake clock and a fake workspace."""

from __future__ import annotations

import zlib

import numpy as np

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.config import build_config
from virtualobserver.domain.rawdata import RawData
from virtualobserver.services.project import Project
from virtualobserver.services.workspace import Workspace
from tests.fakes import (
    FakeCatalogReader,
    FakeDataStore,
    FakeHistogramStore,
    FakeState,
    FakeSurveyClient,
    FakeUnitOfWork,
)

__all__ = ["FlareSurvey", "ImagedFlareSurvey", "FakeClock", "make_project", "make_workspace", "catalog"]


class FlareSurvey(FakeSurveyClient):
    """Two filters over two seasons, 2% flagged epochs, a flare in every third source; seeded by the name.

    Python's ``hash`` of a string changes between processes, so the seed is a CRC of the name:
    the same pictures on every run (snapshots depend on it).
    """

    name = "fake"

    def download(self, source):
        if source.name in self.failing:
            from virtualobserver.domain.errors import SurveyError

            raise SurveyError(f"no data for {source.name}")
        type(self).downloads.append(source.name)
        seed = zlib.crc32(source.name.encode())
        rng = np.random.default_rng(seed)
        n = self.parameters.num_points
        mjd = np.sort(np.concatenate([59000 + rng.uniform(0, 60, n // 2), 59200 + rng.uniform(0, 60, n - n // 2)]))
        bands = np.where(rng.random(n) < 0.5, "g", "r")
        base = 15.0 + (seed % 500) / 100.0
        mag = base + np.where(bands == "g", 0.3, 0.0) + rng.normal(0, self.parameters.noise, n)
        if seed % 3 == 0:
            t0 = mjd[n // 4]
            after = mjd >= t0
            mag[after] -= 0.4 * np.exp(-(mjd[after] - t0) / 2.0)
        flag = np.where(rng.random(n) < 0.02, 32768, 0)
        columns = {"mjd": mjd, "mag": mag, "magerr": np.full(n, self.parameters.noise), "filter": bands,
                   "flag": flag, "exptime": np.full(n, 30.0)}
        return RawData(self.name, source.name, "", columns, ra=source.ra, dec=source.dec)


class ImagedFlareSurvey(FlareSurvey):
    """The flare survey with an 11x11 image per epoch: the target at the centre, a neighbour 3 px to its right.

    Sources whose name's CRC is even have what varies in their lightcurve on the neighbour (it leaks
    into the target's aperture through the PSF's wing); the others have it on the target.
    """

    has_images = True

    def pixel_cubes(self, raw):
        from virtualobserver.adapters.surveys.demo_pixels import pixel_psf, target_aperture
        from virtualobserver.domain.pixels import PixelCube
        from virtualobserver.domain.reduction import split_seasons

        c = raw.columns
        flux = 10.0 ** (-0.4 * (np.asarray(c["mag"]) - 25.0))
        seed = zlib.crc32(raw.source_name.encode())
        on_neighbour = seed % 2 == 0
        target_psf, neighbour_psf = pixel_psf(5.0, 5.0), pixel_psf(5.0, 8.0)
        wing = float(neighbour_psf[target_aperture()].sum())
        rng = np.random.default_rng(seed)
        cubes = {}
        for band in ("g", "r"):
            rows = np.flatnonzero(c["filter"] == band)
            seasons = split_seasons(c["mjd"][rows], 90.0)
            for season in np.unique(seasons):
                chosen = rows[seasons == season]
                f = flux[chosen]
                quiet = float(np.median(f))
                target = np.full(f.size, quiet) if on_neighbour else f
                neighbour = 0.5 * quiet + ((f - quiet) / wing if on_neighbour else np.zeros(f.size))
                images = (target[:, None, None] * target_psf + neighbour[:, None, None] * neighbour_psf
                          + rng.normal(0.0, 0.005 * quiet, (f.size, 11, 11)))
                cube = PixelCube(times=c["mjd"][chosen], flux=images, flux_err=np.full(images.shape, 0.005 * quiet),
                                 quality=c["flag"][chosen], aperture=target_aperture(), target_pixel=(5.0, 5.0),
                                 pixel_scale_arcsec=4.0)
                cubes[(band, int(season))] = (cube, 32768)
        return cubes


class FakeClock:
    """A monotonic clock that advances ``step`` seconds per reading, so rates and ETAs are reproducible."""

    def __init__(self, step: float = 0.5):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def catalog(n: int) -> Catalog:
    """``n`` sources S000… spread over the sky, magnitudes 14–19, parallaxes 1–10 mas."""
    return Catalog({
        "name": [f"S{i:03d}" for i in range(n)],
        "ra": np.linspace(1, 359, n), "dec": np.linspace(-60, 60, n), "mag": np.linspace(14, 19, n),
        "parallax": np.linspace(1, 10, n),
    }, name="fake.csv")


def make_project(state: FakeState | None = None, *, n: int = 12, batch_size: int = 4, name: str = "demo",
                 simulate: bool = False, overrides: dict | None = None, store=None, histogram_store=None,
                 survey: type[FlareSurvey] = FlareSurvey):
    """Return ``(project, state)`` over fakes with the flare survey (threshold 5, 80 epochs per source).

    ``survey`` replaces the flare survey by a variant of it (same parameters) as the project's ``fake``.
    """
    document = {
        "project": {"name": name, "surveys": ["fake"], "batch_size": batch_size},
        "catalog": {"path": "fake.csv", "selection": "mag < 30"},
        "observatories": {
            "analysis": {"threshold": 5.0},
            "simulation": {"enabled": simulate, "injections_per_source": 3},
            "fake": {"download": {"num_points": 80, "noise": 0.02}},
        },
    }
    config = build_config(document, survey_parameters={"fake": survey.parameters_class},
                          overrides=overrides, source=f"configs/{name}.yaml")
    state = state if state is not None else FakeState()
    project = Project(config, uow_factory=lambda: FakeUnitOfWork(state), store=store or FakeDataStore(),
                      catalog_reader=FakeCatalogReader(catalog(n)),
                      histogram_store=histogram_store or FakeHistogramStore(), surveys={"fake": survey})
    return project, state


def make_workspace(state: FakeState, names=("demo", "other"), broken: bool = True, *, store=None,
                   histogram_store=None, **kwargs) -> Workspace:
    """A workspace of project files ``configs/<name>.yaml`` (and one invalid file) over the shared fake state."""
    store, histograms = store or FakeDataStore(), histogram_store or FakeHistogramStore()
    projects = {f"configs/{name}.yaml": name for name in names}

    def load(path):
        from virtualobserver.domain.errors import ConfigError

        if path not in projects:
            raise ConfigError("'project.batch_size': expected int, got 'many'", source=path)
        return make_project(state, name=projects[path], store=store, histogram_store=histograms, **kwargs)[0].config

    def make(config):
        return make_project(state, name=config.name, store=store, histogram_store=histograms, **kwargs)[0]

    files = [*projects, "configs/broken.yaml"] if broken else list(projects)
    return Workspace(lambda: FakeUnitOfWork(state), find_configs=lambda: files, load_config=load,
                     make_project=make)
