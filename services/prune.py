"""Disk use per version, and pruning: remove one version's products (rows and files), safely and resumably.

A project's version (a manifest, as ``vo versions`` lists them) is a chain of step versions per
survey: download, reduction, analysis, simulation. Versions share step versions (a new threshold
reuses the lightcurves), and raw data is shared by every project, so pruning a version removes
only the step versions that no other version still uses: no other manifest (of any project, for
raw data) names them, the current configuration does not make them, and no lightcurve kept was
made from the raw data.

Order of removal, so that a kill at any moment (SIGKILL included) leaves nothing a later run
trusts wrongly: the rows of each step version go in one transaction each, downstream first,
with the finished steps that say they are done (a run then redoes them rather than reading
missing files); files are deleted only after, and only those no remaining row points at; the
manifest goes last. A pruning stopped anywhere is finished by running it again: the manifest
still names the chain, and the files left are found in the version's folders.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from virtualobserver.domain.errors import DataError
from virtualobserver.services.ports import NullProgress, ProgressSink
from virtualobserver.services.prune_ports import STEPS, StepVersion, VersionFiles, VersionRecords

__all__ = ["PrunePlan", "PruneReport", "DiskUse", "find_version", "chain_of", "plan_prune", "prune", "disk_use"]

Records = Callable[[], VersionRecords]


@dataclass
class PrunePlan:
    """What pruning a version removes, and what it keeps because something else uses it.

    Attributes
    ----------
    project, version : str
        The project and the version (its manifest's name).
    products : list of StepVersion
        Step versions whose rows and files go, downstream first.
    kept : dict of StepVersion to str
        Step versions of the chain that stay, with the reason.
    rows : collections.Counter
        Rows that go, by kind (see :meth:`VersionRecords.rows`).
    files : dict of str to int
        Files that go (relative to the data folder), with their sizes in bytes.
    manifest : bool
        Whether the version's manifest goes too (the whole version is pruned).
    """

    project: str
    version: str
    products: list[StepVersion] = field(default_factory=list)
    kept: dict[StepVersion, str] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)
    files: dict[str, int] = field(default_factory=dict)
    manifest: bool = False

    @property
    def bytes(self) -> int:
        """Bytes of the files that go."""
        return sum(self.files.values())

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary."""
        return {"project": self.project, "version": self.version,
                "products": [vars(p) for p in self.products],
                "kept": [{**vars(p), "reason": why} for p, why in self.kept.items()],
                "rows": dict(self.rows), "files": len(self.files), "bytes": self.bytes, "manifest": self.manifest}


@dataclass
class PruneReport:
    """What a pruning removed.

    Attributes
    ----------
    plan : PrunePlan
        The plan it carried out.
    rows : collections.Counter
        Rows removed, by kind.
    files : int
        Files deleted.
    bytes : int
        Their bytes.
    manifests : int
        Manifest files deleted.
    """

    plan: PrunePlan
    rows: Counter = field(default_factory=Counter)
    files: int = 0
    bytes: int = 0
    manifests: int = 0

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary."""
        return {"project": self.plan.project, "version": self.plan.version, "rows": dict(self.rows),
                "files": self.files, "bytes": self.bytes, "manifests": self.manifests,
                "kept": [{**vars(p), "reason": why} for p, why in self.plan.kept.items()]}


@dataclass
class DiskUse:
    """The products of one version: rows by kind, files and bytes, and what pruning it would free.

    Attributes
    ----------
    rows : collections.Counter
        Rows of every step version of its chain, by kind.
    files : int
        Files holding its arrays and histograms.
    bytes : int
        Their bytes (a step version shared with other versions counts in each).
    by_step : dict of str to int
        Bytes per step (``download``: raw data, ``reduction``: lightcurves, ``analysis``: epoch
        scores and histograms, ``simulation``: efficiency histograms).
    frees : int
        Bytes ``vo prune --version`` would free (what no other version or project uses).
    """

    rows: Counter = field(default_factory=Counter)
    files: int = 0
    bytes: int = 0
    by_step: dict[str, int] = field(default_factory=dict)
    frees: int = 0

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary."""
        return {"rows": dict(self.rows), "files": self.files, "bytes": self.bytes, "by_step": self.by_step,
                "frees_bytes": self.frees}


def find_version(manifests: Sequence[Mapping], project: str, prefix: str) -> Mapping:
    """Return the manifest of ``project`` whose version starts with ``prefix``.

    Parameters
    ----------
    manifests : sequence of mapping
        Every version's manifest (:meth:`VersionFiles.manifests`).
    project : str
        Project name.
    prefix : str
        The version, or a unique start of it.

    Returns
    -------
    mapping
        The manifest.

    Raises
    ------
    DataError
        If no version, or more than one, starts with ``prefix``.
    """
    own = [m for m in manifests if m.get("project") == project]
    matches = [m for m in own if prefix and str(m.get("version", "")).startswith(prefix)]
    if len(matches) != 1:
        known = ", ".join(sorted(str(m.get("version")) for m in own)) or "none"
        raise DataError(f"project {project!r}: {'no' if not matches else 'more than one'} version starts with "
                        f"{prefix!r} (known: {known}; `vo versions` lists them)")
    return matches[0]


def chain_of(manifest: Mapping, *, survey: str | None = None, step: str | None = None) -> list[StepVersion]:
    """Return the step versions of a manifest's chain, upstream first.

    Parameters
    ----------
    manifest : mapping
        A version manifest (``versions``: survey -> step -> version).
    survey : str, optional
        Only this survey's.
    step : str, optional
        Only this step and the ones after it (``analysis``: analysis and simulation).

    Returns
    -------
    list of StepVersion
        In survey order, each survey's steps upstream first.

    Raises
    ------
    DataError
        If ``survey`` is not in the chain or ``step`` is not a step.

    Examples
    --------
    >>> m = {"versions": {"demo": {"download": "d1", "reduction": "r1", "analysis": "a1", "simulation": "s1"}}}
    >>> [p.version for p in chain_of(m, step="analysis")]
    ['a1', 's1']
    """
    chains = manifest.get("versions") or {}
    if survey is not None and survey not in chains:
        raise DataError(f"version {manifest.get('version')} has no survey {survey!r} (it has: "
                        f"{', '.join(chains) or 'none'})")
    if step is not None and step not in STEPS:
        raise DataError(f"no step {step!r} (steps: {', '.join(STEPS)})")
    steps = STEPS[STEPS.index(step):] if step else STEPS
    return [StepVersion(name, s, str(chain[s])) for name, chain in chains.items()
            if survey in (None, name) for s in steps if chain.get(s)]


def plan_prune(project: str, manifest: Mapping, manifests: Sequence[Mapping], records: Records,
               files: VersionFiles, *, current: Mapping | None = None, survey: str | None = None,
               step: str | None = None) -> PrunePlan:
    """Work out what pruning a version removes, changing nothing (the dry run is this plan).

    Parameters
    ----------
    project : str
        Project name.
    manifest : mapping
        The version's manifest.
    manifests : sequence of mapping
        Every version's manifest, of every project.
    records : callable
        Returns a new :class:`VersionRecords`.
    files : VersionFiles
        The data folder.
    current : mapping, optional
        The current configuration's chains (survey -> step -> version), whose products are kept;
        None when the current configuration's own version is being pruned (``--force``).
    survey, step : str, optional
        Only this survey, and only this step and the ones after it (see :func:`chain_of`).

    Returns
    -------
    PrunePlan
        What goes and what stays.
    """
    version = str(manifest.get("version"))
    plan = PrunePlan(project, version, manifest=survey is None and step in (None, "download"))
    # Who else uses step versions: (project, version or None for the current configuration, chains).
    users = [(m.get("project"), str(m.get("version")), m.get("versions") or {}) for m in manifests
             if not (m.get("project") == project and str(m.get("version")) == version)]
    if current is not None:
        users.append((project, None, current))
    chain = chain_of(manifest, survey=survey, step=step)
    with records() as index:
        for product in chain:
            user = next((_user(owner, other, project) for owner, other, chains in users
                         if (product.step == "download" or owner == project)
                         and (chains.get(product.survey) or {}).get(product.step) == product.version), None)
            if user is not None:
                plan.kept[product] = user
            elif product.step == "download" and index.raw_used_elsewhere(
                    project, product, [p.version for p in chain if p.step == "reduction"]):
                plan.kept[product] = "lightcurves of another version or project were made from it"
            else:
                plan.products.append(product)
        plan.products.sort(key=lambda p: -STEPS.index(p.step))  # downstream first
        candidates: set[str] = set()
        for product in plan.products:
            plan.rows.update(index.rows(project, product))
            candidates |= index.files(project, product) | set(files.folder_files(project, product))
        shared = index.referenced(candidates, project, [p.version for p in plan.products])
    plan.files = {path: files.size(path) for path in sorted(candidates - shared)}
    return plan


def _user(owner: str, version: str | None, project: str) -> str:
    if version is None:
        return "used by the current configuration"
    return f"used by version {version}" + ("" if owner == project else f" of project {owner}")


def prune(plan: PrunePlan, records: Records, files: VersionFiles, progress: ProgressSink | None = None) -> PruneReport:
    """Carry out a plan: rows (one transaction per step version, downstream first), then files, then manifest.

    Parameters
    ----------
    plan : PrunePlan
        From :func:`plan_prune`.
    records : callable
        Returns a new :class:`VersionRecords`.
    files : VersionFiles
        The data folder.
    progress : ProgressSink, optional
        Told of each step version's rows removed (stage ``step versions``) and each file (``files removed``).

    Returns
    -------
    PruneReport
        What was removed.
    """
    progress = progress or NullProgress()
    report = PruneReport(plan)
    progress.start("step versions", len(plan.products))
    for product in plan.products:
        with records() as index:
            report.rows.update(index.remove(plan.project, product))
            index.commit()
        progress.advance("step versions")
    progress.finish("step versions")
    # Only now, and only what no row points at any more (a file another version shares stays).
    with records() as index:
        still = index.referenced(plan.files)
    doomed = sorted(set(plan.files) - still)
    progress.start("files removed", len(doomed))
    for path in doomed:
        files.remove(path)
        report.files += 1
        report.bytes += plan.files[path]
        progress.advance("files removed")
    progress.finish("files removed")
    if plan.manifest:
        report.manifests = files.remove_manifests(plan.project, plan.version)
    return report


def disk_use(project: str, manifests: Sequence[Mapping], records: Records, files: VersionFiles, *,
             current: str | None = None, current_chains: Mapping | None = None) -> dict[str, DiskUse]:
    """Return the rows, files and bytes of every version of ``project``, and what pruning each would free.

    Parameters
    ----------
    project : str
        Project name.
    manifests : sequence of mapping
        Every version's manifest, of every project.
    records : callable
        Returns a new :class:`VersionRecords`.
    files : VersionFiles
        The data folder.
    current : str, optional
        The current configuration's version.
    current_chains : mapping, optional
        Its chains (survey -> step -> version), kept when another version is pruned.

    Returns
    -------
    dict of str to DiskUse
        By version.
    """
    found: dict[str, DiskUse] = {}
    for manifest in (m for m in manifests if m.get("project") == project):
        version = str(manifest.get("version"))
        use = found[version] = DiskUse()
        paths: dict[str, str] = {}
        with records() as index:
            for product in chain_of(manifest):
                use.rows.update(index.rows(project, product))
                for path in index.files(project, product) | set(files.folder_files(project, product)):
                    paths.setdefault(path, product.step)
        for path, step in paths.items():
            size = files.size(path)
            use.bytes += size
            use.by_step[step] = use.by_step.get(step, 0) + size
        use.files = len(paths)
        plan = plan_prune(project, manifest, manifests, records, files,
                          current=None if version == current else current_chains)
        use.frees = plan.bytes
    return found
