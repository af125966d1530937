"""Project configuration: project, catalog and per-survey parameter blocks with their versions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from virtualobserver.domain.analysis.analysis import HistogramParameters
from virtualobserver.domain.analysis.finder import AnalysisParameters
from virtualobserver.domain.analysis.quality import QualityParameters
from virtualobserver.domain.catalog import STANDARD_COLUMNS, CatalogSpec
from virtualobserver.domain.errors import ConfigError
from virtualobserver.domain.parameters import Param, Parameters, version_hash
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.simulator import SimulationParameters

__all__ = ["AUTO_WORKERS", "parse_workers", "ProjectParameters", "SurveyConfig", "ProjectConfig", "build_config", "SECTIONS", "ALGORITHMS"]

#: Parameter blocks that may appear under ``observatories:`` (general) and under each survey.
SECTIONS: dict[str, type[Parameters]] = {
    "reduction": ReductionParameters,
    "quality": QualityParameters,
    "analysis": AnalysisParameters,
    "histograms": HistogramParameters,
    "simulation": SimulationParameters,
}


#: The ``project.workers`` setting that asks for one worker process per usable core.
AUTO_WORKERS = "auto"


def parse_workers(value: Any, *, key: str = "project.workers", source: str | None = None) -> int | str:
    """Return ``"auto"`` or a whole number of worker processes (at least 1) from a setting.

    Parameters
    ----------
    value : str or int
        ``auto``, or a whole number of at least 1 (``2`` from YAML, ``"2"`` from a command line).
    key, source : str
        Named in the error.

    Returns
    -------
    int or str
        The number, or ``"auto"``.

    Raises
    ------
    ConfigError
        Neither ``auto`` nor a whole number of at least 1.
    """
    if isinstance(value, str) and value.strip().lower() == AUTO_WORKERS:
        return AUTO_WORKERS
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < 1:
        raise ConfigError(f"expected 'auto' or a whole number of worker processes of at least 1, got {value!r}",
                          key=key, source=source)
    return number


@dataclass(frozen=True)
class _WorkersParam(Param):
    # ``auto`` or a number: YAML gives an int, ``--set`` may give either, so the plain str/int kinds do not fit.
    def coerce(self, value: Any, *, key: str, source: str | None) -> Any:
        return parse_workers(value, key=key, source=source)


class ProjectParameters(Parameters):
    """The ``project:`` block."""

    SPECS = {
        "name": Param("", str, "Project name; products of different projects never mix.", science=False),
        "description": Param("", str, "Free text.", science=False),
        "surveys": Param(["demo"], list, "Surveys to download from, by name.", item_kind=str, science=False),
        "batch_size": Param(100, int, "Sources per batch (one DB transaction per stage and batch).",
                            minimum=1, maximum=100_000, science=False),
        "workers": _WorkersParam(AUTO_WORKERS, str, "Worker processes for the batches: 'auto' (one per core this "
                                 "process may use; one process, no Dask cluster, on a one-core machine) or a "
                                 "number (1: this process); `vo run --workers` overrides it.", science=False),
    }


class CatalogParameters(Parameters):
    """The ``catalog:`` block."""

    SPECS = {
        "path": Param("", str, "Catalog file, relative to the configuration file.", science=False),
        "format": Param("auto", str, "File format.", choices=("auto", "csv", "ecsv", "fits", "votable", "hdf5"),
                        science=False),
        "selection": Param("", str, "Row selection, e.g. 'mag < 18 and dec > -30'.", science=False),
        "epoch": Param(2000.0, float, "Julian year of the catalog positions (Gaia DR3: 2016.0); with proper "
                       "motions, positions are moved to each survey's epoch.", minimum=1800.0, maximum=2200.0,
                       science=False),
    }


#: Versions of the science code of each step. Bump one when a change to the code changes its
#: products for the same parameters: every product downstream then gets a new version, so results
#: of old and new code never mix (the same rule as for a changed threshold).
ALGORITHMS = {"reduction": "1", "analysis": "3", "simulation": "3"}


@dataclass(frozen=True)
class SurveyConfig:
    """Parameters of one survey in a project, with the versions they define.

    Attributes
    ----------
    name : str
        Survey name.
    download, reduction, quality, analysis, histograms, simulation : Parameters
        Validated parameter blocks (general block, overridden per survey, then by explicit arguments).
    """

    name: str
    download: Parameters
    reduction: ReductionParameters
    quality: QualityParameters
    analysis: AnalysisParameters
    histograms: HistogramParameters
    simulation: SimulationParameters

    @property
    def download_version(self) -> str:
        """Hash of the download parameters: raw data of another version is downloaded anew."""
        return version_hash(self.name, self.download.science_dict())

    @property
    def reduction_version(self) -> str:
        """Hash of download and reduction parameters; tags lightcurves."""
        return version_hash(self.download_version, ALGORITHMS["reduction"], self.reduction.science_dict())

    @property
    def analysis_version(self) -> str:
        """Hash of everything upstream plus quality, analysis and histogram parameters; tags detections."""
        return version_hash(self.reduction_version, ALGORITHMS["analysis"], self.quality.science_dict(),
                            self.analysis.science_dict(), self.histograms.science_dict())

    @property
    def simulation_version(self) -> str:
        """Hash of the analysis version plus the simulation parameters; tags injections and simulated detections."""
        return version_hash(self.analysis_version, ALGORITHMS["simulation"], self.simulation.science_dict())


@dataclass(frozen=True)
class ProjectConfig:
    """A whole project configuration, validated.

    Attributes
    ----------
    name : str
        Project name.
    catalog : CatalogSpec
        Where the targets come from.
    surveys : tuple of SurveyConfig
        One per survey, in the order given.
    batch_size : int
        Sources per batch.
    workers : int or str
        Worker processes for the batches, or ``"auto"`` (one per usable core).
    source : str
        File the configuration came from.
    """

    name: str
    catalog: CatalogSpec
    surveys: tuple[SurveyConfig, ...]
    batch_size: int
    source: str = "<config>"
    description: str = ""
    workers: int | str = AUTO_WORKERS


def build_config(
    document: Mapping[str, Any] | None,
    *,
    survey_parameters: Mapping[str, type[Parameters]],
    source: str = "<config>",
    base_dir: str = ".",
    overrides: Mapping[str, Any] | None = None,
) -> ProjectConfig:
    """Validate a configuration document and build a :class:`ProjectConfig`.

    Precedence, lowest to highest: defaults, the survey's defaults (its download block's
    ``section_defaults``, e.g. its filters and detrending window), the general ``observatories``
    blocks (``reduction``, ``analysis``), the per-survey blocks
    (``observatories.<survey>.<section>``), then explicit ``overrides``.

    Parameters
    ----------
    document : mapping
        Parsed YAML.
    survey_parameters : mapping of str to type
        Known survey names and the class of their ``download`` block.
    source : str
        File name, for error messages.
    base_dir : str
        Folder that relative catalog paths are resolved against.
    overrides : mapping, optional
        Dotted keys (as in the file) to values, e.g.
        ``{"observatories.analysis.threshold": 4.0, "project.batch_size": 50}``.

    Returns
    -------
    ProjectConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        Naming the key and file of any unknown key, wrong type or bad value.
    """
    document = _mapping(document if document is not None else {}, "", source)
    unknown = set(document) - {"project", "catalog", "observatories"}
    if unknown:
        raise ConfigError("unknown top-level key (allowed: project, catalog, observatories)",
                          key=sorted(unknown)[0], source=source)
    top_overrides, general_overrides, survey_overrides = _split_overrides(overrides or {}, survey_parameters)

    project_block = {**_mapping(document.get("project"), "project", source), **top_overrides.get("project", {})}
    project = ProjectParameters.from_mapping(project_block, source=source, prefix="project")
    if not project.name.strip():
        raise ConfigError("a project name is required", key="project.name", source=source)
    for i, survey in enumerate(project.surveys):
        if survey not in survey_parameters:
            raise ConfigError(f"unknown survey {survey!r} (known: {', '.join(sorted(survey_parameters))})",
                              key=f"project.surveys[{i}]", source=source)

    catalog = _catalog_spec(document.get("catalog"), top_overrides.get("catalog", {}), source, base_dir)
    observatories = _mapping(document.get("observatories"), "observatories", source)
    allowed = set(SECTIONS) | set(survey_parameters)
    for key in observatories:
        if key not in allowed:
            raise ConfigError(f"unknown key (allowed: {', '.join(sorted(allowed))})",
                              key=f"observatories.{key}", source=source)

    # Values from the command line are checked first, under their own names: merged into every
    # survey's block they would be reported as that survey's key, in a file that does not hold them.
    # Each value alone (rules between values are checked on the merged block, below).
    for section, values in general_overrides.items():
        _check_values(SECTIONS[section], values, f"observatories.{section}")
    for (survey, section), values in survey_overrides.items():
        cls = survey_parameters[survey] if section == "download" else SECTIONS[section]
        _check_values(cls, values, f"observatories.{survey}.{section}")

    general = {}
    for section, cls in SECTIONS.items():
        block = _mapping(observatories.get(section), f"observatories.{section}", source)
        cls.from_mapping(block, source=source, prefix=f"observatories.{section}")  # validate where it is
        general[section] = block

    surveys = []
    for survey in project.surveys:
        survey_block = _mapping(observatories.get(survey), f"observatories.{survey}", source)
        allowed_sections = {"download", *SECTIONS}
        for key in survey_block:
            if key not in allowed_sections:
                raise ConfigError(f"unknown key (allowed: {', '.join(sorted(allowed_sections))})",
                                  key=f"observatories.{survey}.{key}", source=source)
        blocks = {}
        survey_defaults: dict[str, dict] = {}
        for section, cls in {"download": survey_parameters[survey], **SECTIONS}.items():
            prefix = f"observatories.{survey}.{section}"
            own = _mapping(survey_block.get(section), prefix, source)
            cls.from_mapping(own, source=source, prefix=prefix)
            merged = {**survey_defaults.get(section, {}), **general.get(section, {}), **own}
            merged.update(general_overrides.get(section, {}))
            merged.update(survey_overrides.get((survey, section), {}))
            blocks[section] = cls.from_mapping(merged, source=source, prefix=prefix)
            if section == "download":
                # The survey's own defaults of the other blocks (its filters, its detrending window)
                # follow from its download block and rank below every block of the file.
                survey_defaults = blocks[section].section_defaults()
        surveys.append(SurveyConfig(survey, **blocks))

    return ProjectConfig(name=project.name, catalog=catalog, surveys=tuple(surveys),
                         batch_size=project.batch_size, source=source, description=project.description,
                         workers=project.workers)


def _check_values(cls: type[Parameters], values: Mapping[str, Any], prefix: str) -> None:
    for name, value in values.items():
        spec = cls.SPECS.get(name)
        if spec is not None:  # an unknown key is reported with the merged block
            spec.coerce(value, key=f"{prefix}.{name}", source="command line")


def _mapping(value: Any, key: str, source: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}", key=key or None, source=source)
    return dict(value)


def _catalog_spec(block: Any, override: Mapping[str, Any], source: str, base_dir: str) -> CatalogSpec:
    block = {**_mapping(block, "catalog", source), **override}
    columns = _mapping(block.pop("columns", None), "catalog.columns", source)
    for standard, column in columns.items():
        if standard not in STANDARD_COLUMNS:
            raise ConfigError(f"not a standard column (allowed: {', '.join(STANDARD_COLUMNS)})",
                              key=f"catalog.columns.{standard}", source=source)
        if not isinstance(column, str):
            raise ConfigError(f"expected a column name, got {column!r}",
                              key=f"catalog.columns.{standard}", source=source)
    params = CatalogParameters.from_mapping(block, source=source, prefix="catalog")
    if not params.path:
        raise ConfigError("a catalog path is required", key="catalog.path", source=source)
    path = os.path.normpath(os.path.join(base_dir, os.path.expanduser(params.path)))
    return CatalogSpec(path=path, format=params.format, columns=columns, selection=params.selection,
                       epoch=params.epoch)


def _split_overrides(overrides: Mapping[str, Any], survey_parameters: Mapping[str, type]):
    top: dict[str, dict] = {}
    general: dict[str, dict] = {}
    per_survey: dict[tuple[str, str], dict] = {}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        where = "command line"
        if parts[0] in ("project", "catalog") and len(parts) == 2:
            top.setdefault(parts[0], {})[parts[1]] = value
        elif parts[0] == "catalog" and len(parts) == 3 and parts[1] == "columns":
            top.setdefault("catalog", {}).setdefault("columns", {})[parts[2]] = value
        elif parts[0] == "observatories" and len(parts) == 3 and parts[1] in SECTIONS:
            general.setdefault(parts[1], {})[parts[2]] = value
        elif (parts[0] == "observatories" and len(parts) == 4 and parts[1] in survey_parameters
              and parts[2] in ("download", *SECTIONS)):
            per_survey.setdefault((parts[1], parts[2]), {})[parts[3]] = value
        else:
            raise ConfigError("not a settable key (use e.g. observatories.analysis.threshold, "
                              "observatories.demo.download.num_points, project.batch_size)",
                              key=dotted, source=where)
    return top, general, per_survey
