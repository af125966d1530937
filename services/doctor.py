"""The doctor: find files no record points at and records whose files are missing or unreadable; repair both.

Invariants it restores (the ones a crash, a full disk or a lost file could break):
every product file under the data folder is referenced by a database row, and every
row that points at a file points at one that reads whole. Repairs never delete a
file: whatever is taken out of use goes to the quarantine folder.

Histograms are the delicate part: a histogram part counted the epochs of every
source of its batch, and which sources those were is not recorded. So when a
product a part counted is lost (a lightcurve, an epoch-score file or a part
itself), the whole histogram product of that version is reset: its parts are set
aside and the step is marked not done for every source of the project, so that
the next run analyses (or simulates) them again. Detections, summaries and
injections are upserted by their identity, so the rerun rewrites the same rows
(triage labels survive) and the merged histograms again equal one uninterrupted run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

from virtualobserver.domain.config import ProjectConfig
from virtualobserver.domain.naming import safe_key
from virtualobserver.services.doctor_ports import DataFolder, RecordIndex
from virtualobserver.services.ports import AbstractUnitOfWork, NullProgress, ProgressSink

__all__ = ["Finding", "DoctorReport", "Doctor"]

REDUCE, ANALYSE, SIMULATE = "reduce", "analyse", "simulate"
EFFICIENCY = "efficiency"


@dataclass
class Finding:
    """One problem: an ``orphan`` or ``temporary`` file, or a ``missing`` or ``corrupt`` file of a record.

    Attributes
    ----------
    kind : str
        ``orphan``, ``temporary``, ``missing`` or ``corrupt``.
    path : str
        File, relative to the data folder.
    what : str
        The record concerned (empty for orphans).
    reason : str
        Why the file does not read, for corrupt files.
    repairable : bool
        False for records of another project or version than the configuration's.
    """

    kind: str
    path: str
    what: str = ""
    reason: str = ""
    repairable: bool = True

    def line(self) -> str:
        """Return a one-line description."""
        text = f"{self.kind}: {self.path}"
        text += f" ({self.what})" if self.what else ""
        text += f": {self.reason}" if self.reason else ""
        return text + ("" if self.repairable else " [not repaired: run `vo doctor` with the configuration "
                                                   "of that project and version]")


@dataclass
class DoctorReport:
    """What the doctor found and did.

    Attributes
    ----------
    findings : list of Finding
        Problems found (before any repair).
    actions : list of str
        What a repair did, one line each.
    files : int
        Product files looked at.
    records : int
        Database rows looked at.
    """

    findings: list[Finding] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0

    @property
    def healthy(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def as_dict(self) -> dict:
        """Return a JSON-serialisable summary."""
        return {"healthy": self.healthy, "files": self.files, "records": self.records,
                "findings": [vars(f) for f in self.findings], "actions": self.actions}


@dataclass
class _Plan:
    raw_ids: list[int] = field(default_factory=list)
    reductions: dict[tuple[str, str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    resets: set[tuple[str, str, str, str]] = field(default_factory=set)
    # Epoch-score files by (project, survey, version): a reset analysis leaves them unclaimed.
    scores: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    quarantine: set[str] = field(default_factory=set)


class Doctor:
    """Checks and repairs the records and files of a data folder, for one project configuration.

    Orphan and temporary files are found over the whole data folder and raw data
    over all projects (it is shared); lightcurves, epoch scores and histograms are
    repaired for the configuration's project at its current versions (other ones
    are reported only, since which analysis came from which reduction is known
    only for the versions a configuration makes).

    Parameters
    ----------
    config : ProjectConfig
        The project and its current versions.
    records : callable
        Returns a new :class:`RecordIndex` (one transaction).
    folder : DataFolder
        The data folder.
    progress : ProgressSink, optional
        Told of each file checked (stage ``recorded files read``): reading every file takes a while.
    """

    def __init__(self, config: ProjectConfig, records: Callable[[], RecordIndex], folder: DataFolder,
                 progress: ProgressSink | None = None):
        self.config = config
        self.records = records
        self.folder = folder
        self.progress = progress or NullProgress()

    # -- checking ---------------------------------------------------------------------------------
    def check(self) -> DoctorReport:
        """Return every problem found, changing nothing.

        Returns
        -------
        DoctorReport
            The findings.
        """
        return self._examine()[0]

    def repair(self) -> DoctorReport:
        """Find the problems and repair them: quarantine files, remove records and reset products.

        The database changes are committed before any file is moved, so a crash
        in between leaves only unreferenced files, which the next check finds again.

        Returns
        -------
        DoctorReport
            The findings and the actions taken.
        """
        report, plan = self._examine()
        with self.records() as index:
            if plan.raw_ids:
                index.forget_raw(plan.raw_ids)
                report.actions.append(f"removed {len(plan.raw_ids)} raw-data records (downloaded again next run)")
            for (project, survey, version), ids in sorted(plan.reductions.items()):
                index.forget_reduction(project, survey, version, sorted(ids))
                report.actions.append(f"removed the lightcurves of {len(ids)} sources of {project}/{survey} "
                                      f"version {version} (reduced again next run)")
            for project, stage, survey, version in sorted(plan.resets):
                keys = index.reset_stage(project, stage, survey, version)
                plan.quarantine.update(self.folder.histogram_path(key) for key in keys)
                if stage == ANALYSE:
                    plan.quarantine.update(plan.scores.get((project, survey, version), ()))
                report.actions.append(f"reset {stage} of {project}/{survey} version {version}: {len(keys)} "
                                      "histogram parts set aside, every source done again next run")
            index.commit()
        for path in sorted(p for p in plan.quarantine if self.folder.exists(p)):
            report.actions.append(f"quarantined {path} -> {self.folder.quarantine(path)}")
        return report

    def _current(self) -> dict[str, object]:
        return {s.name: s for s in self.config.surveys}

    def _examine(self) -> tuple[DoctorReport, _Plan]:
        report, plan = DoctorReport(), _Plan()
        with self.records() as index:
            raws, lightcurves, parts = index.raw(), index.lightcurves(), index.parts()
            reduced, scores, stamps = index.steps(REDUCE), index.scores(), index.stamps()
        report.records = len(raws) + len(lightcurves) + len(parts) + len(reduced) + len(scores) + len(stamps)
        manifests = self.folder.manifests()
        # As many files as the checks below read (each groups its records by file).
        score_paths = {step.file or self.folder.scores_path(step.project, step.version, step.source_name)
                       for step in scores}
        self.progress.start("recorded files read", len({r.file for r in raws}) + len({lc.file for lc in lightcurves})
                            + len(score_paths) + len(parts) + len({r.file for r in stamps}) + len(manifests))
        referenced: set[str] = set()
        try:
            self._check_raw(raws, report, plan, referenced)
            self._check_lightcurves(lightcurves, reduced, report, plan, referenced)
            self._check_scores(scores, report, plan, referenced)
            self._check_parts(parts, report, plan, referenced)
            self._check_stamps(stamps, report, plan, referenced)
            self._check_manifests(manifests, report, plan)
        finally:
            self.progress.finish("recorded files read")
        files = self.folder.files()
        report.files = len(files)
        for path in files:
            if path not in referenced:
                kind = "temporary" if self.folder.is_temporary(path) else "orphan"
                report.findings.append(Finding(kind, path))
                plan.quarantine.add(path)
        return report, plan

    def _problem(self, path: str | None, keys, what: str, *, must_exist: bool = True) -> Finding | None:
        reason = self.folder.problem(path or "", keys)
        problem = reason is not None and (reason != "missing" or must_exist)
        self.progress.advance("recorded files read", failed=int(problem))  # "failed": files with a problem
        if not problem:
            return None
        kind = "missing" if reason == "missing" else "corrupt"
        return Finding(kind, path or "", what, "" if kind == "missing" else reason)

    def _check_raw(self, raws, report: DoctorReport, plan: _Plan, referenced: set[str]) -> None:
        # Raw data is shared by every project, so it is repaired whoever's configuration is given.
        by_file = defaultdict(list)
        for raw in raws:
            by_file[raw.file].append(raw)
        for file, group in by_file.items():
            referenced.add(file or "")
            names = ", ".join(repr(r.source_name) for r in group[:3]) + (" ..." if len(group) > 3 else "")
            found = self._problem(file, [r.key for r in group if r.key] or None,
                                  f"raw data of {names}, {group[0].survey} version {group[0].version}")
            if found:
                report.findings.append(found)
                plan.raw_ids.extend(r.id for r in group)
                if found.kind == "corrupt":
                    plan.quarantine.add(found.path)

    def _check_lightcurves(self, lightcurves, reduced, report: DoctorReport, plan: _Plan,
                           referenced: set[str]) -> None:
        project, current = self.config.name, self._current()
        for step in reduced:
            # Per-source layout: a source reduced to no lightcurve still has its (empty) file.
            path = self.folder.lightcurve_path(step.project, step.version, step.source_name)
            if self.folder.exists(path):
                referenced.add(path)
        by_file = defaultdict(list)
        for lc in lightcurves:
            by_file[lc.file].append(lc)
        for file, group in by_file.items():
            referenced.add(file or "")
            first = group[0]
            found = self._problem(file, [lc.key for lc in group], f"lightcurves of {first.source_name!r}"
                                  f"{' and others' if len({lc.source_id for lc in group}) > 1 else ''}, "
                                  f"{first.project}/{first.survey} version {first.version}")
            if not found:
                continue
            report.findings.append(found)
            survey = current.get(first.survey) if first.project == project else None
            if survey is None or survey.reduction_version != first.version:
                found.repairable = False
                continue
            plan.reductions[(project, first.survey, first.version)].update(lc.source_id for lc in group)
            # Every histogram that counted these epochs must be made again, and so must the injections.
            plan.resets.add((project, ANALYSE, first.survey, survey.analysis_version))
            plan.resets.add((project, SIMULATE, first.survey, survey.simulation_version))
            if found.kind == "corrupt":
                plan.quarantine.add(found.path)

    def _check_scores(self, scores, report: DoctorReport, plan: _Plan, referenced: set[str]) -> None:
        project, current = self.config.name, self._current()
        checked: set[str] = set()
        for step in scores:
            survey = current.get(step.survey) if step.project == project else None
            is_current = survey is not None and survey.analysis_version == step.version
            # A recorded file must exist; a per-source file must exist only where the configuration saves them.
            path = step.file or self.folder.scores_path(step.project, step.version, step.source_name)
            must_exist = bool(step.file) or (is_current and survey.analysis.save_epoch_scores)
            if path in checked:
                continue
            checked.add(path)
            found = self._problem(path, None, f"epoch scores of {step.source_name!r}, {step.project}/{step.survey} "
                                              f"version {step.version}", must_exist=must_exist)
            if self.folder.exists(path):
                referenced.add(path)
                plan.scores[(step.project, step.survey, step.version)].add(path)
            if not found:
                continue
            report.findings.append(found)
            if not is_current:
                found.repairable = False
                continue
            plan.resets.add((project, ANALYSE, step.survey, step.version))
            if found.kind == "corrupt":
                plan.quarantine.add(path)

    def _check_parts(self, parts, report: DoctorReport, plan: _Plan, referenced: set[str]) -> None:
        for part in parts:
            path = self.folder.histogram_path(part.key)
            referenced.add(path)
            found = self._problem(path, None, f"histogram {part.kind} of {part.project}/{part.survey} "
                                              f"version {part.version}")
            if not found:
                continue
            report.findings.append(found)
            stage = self._stage_of(part.project, part.survey, part.version, part.kind)
            if stage is None:
                found.repairable = False
                continue
            plan.resets.add((self.config.name, stage, part.survey, part.version))

    def _check_stamps(self, stamps, report: DoctorReport, plan: _Plan, referenced: set[str]) -> None:
        # Stamps are made by the analysis: lost ones come back when it runs again for every source.
        project, current = self.config.name, self._current()
        by_file = defaultdict(list)
        for record in stamps:
            by_file[record.file].append(record)
        for file, group in by_file.items():
            referenced.add(file)
            first = group[0]
            names = sorted({r.source_name for r in group})
            found = self._problem(file, sorted({r.key for r in group}),
                                  f"image stamps of {len(group)} detections of {names[0]!r}"
                                  f"{' and others' if len(names) > 1 else ''}, {first.project}/{first.survey} "
                                  f"version {first.version}")
            if not found:
                continue
            report.findings.append(found)
            survey = current.get(first.survey) if first.project == project else None
            if survey is None or survey.analysis_version != first.version:
                found.repairable = False
                continue
            plan.resets.add((project, ANALYSE, first.survey, first.version))
            if found.kind == "corrupt":
                plan.quarantine.add(file)

    def _check_manifests(self, manifests, report: DoctorReport, plan: _Plan) -> None:
        # A manifest no run can read stops every run of its version; set aside, the next run writes it again.
        for path in manifests:
            found = self._problem(path, None, "version manifest")
            if found:
                report.findings.append(found)
                plan.quarantine.add(path)

    def _stage_of(self, project: str, survey: str, version: str, kind: str) -> str | None:
        config = self._current().get(survey) if project == self.config.name else None
        if config is None:
            return None
        if kind == EFFICIENCY and version == config.simulation_version:
            return SIMULATE
        if kind != EFFICIENCY and version == config.analysis_version:
            return ANALYSE
        return None

    # -- rebuilding a lost database -----------------------------------------------------------------
    def rebuild_database(self, uow_factory: Callable[[], AbstractUnitOfWork], sources: Iterable) -> DoctorReport:
        """Re-create raw-data and lightcurve rows (and reduce steps) from the files of the data folder.

        For a database that was lost: the expensive products (downloads and
        reductions) come back from the files, which carry their survey, source
        and version; analyses are not in files and are redone by the next run.
        Sources of the project that have files are registered first, in
        catalog order.

        Parameters
        ----------
        uow_factory : callable
            Returns a unit of work on the (empty) database.
        sources : iterable of Source
            The project's selected catalog sources, in catalog order.

        Returns
        -------
        DoctorReport
            Actions taken (rows re-created).

        Raises
        ------
        DataError
            If the database already holds sources of this project.
        """
        from virtualobserver.domain.errors import DataError

        report = DoctorReport()
        project, current = self.config.name, self._current()
        files = [p for p in self.folder.files() if not self.folder.is_temporary(p)]
        # Batch files name their survey by its safe folder name, and their lightcurves' survey by the version.
        safe_names = {safe_key(name, max_length=16): name for name in current}
        by_reduction = {s.reduction_version: s.name for s in current.values()}
        raws, skipped = [], 0
        for raw in (r for p in files if p.startswith("raw/") for r in self.folder.read_raw(p)):
            raw.survey = raw.survey if raw.survey in current else safe_names.get(raw.survey, raw.survey)
            if raw.survey in current:
                raws.append(raw)
            else:
                skipped += 1  # a survey this configuration does not name: rebuild with one that does
        lightcurve_files = {path: self.folder.read_lightcurves(path) for path in self.folder.lightcurve_files(project)}
        for lc in (lc for lcs in lightcurve_files.values() for lc in lcs):
            lc.survey = lc.survey or by_reduction.get(lc.version, "")
        names = {raw.source_name for raw in raws} | {lc.source_name for lcs in lightcurve_files.values()
                                                     for lc in lcs}
        sources = list(sources)
        _position_from_catalog(raws, sources)
        with uow_factory() as uow:
            if uow.sources.count(project):
                raise DataError(f"the database already holds project {project!r}; --rebuild-db is for a "
                                "database that was lost (use --repair to fix one that exists)")
            chosen = [s for s in sources if s.name in names]
            uow.sources.add_many(project, chosen)
            ids = {s.name: s.id for s in chosen}
            uow.raw_data.add_many(raws)
            raw_ids = {(r.survey, r.source_name, r.version): r.id for r in raws}
            made, counts = [], defaultdict(dict)
            for lcs in lightcurve_files.values():
                for lc in lcs:
                    if lc.source_name not in ids or not lc.survey:
                        continue  # a source no longer selected, or of an unknown version: its file is left
                    survey = current.get(lc.survey)
                    download = survey.download_version if survey and survey.reduction_version == lc.version else None
                    lc.source_id = ids[lc.source_name]
                    lc.raw_data_id = raw_ids.get((lc.survey, lc.source_name, download))
                    made.append(lc)
                    key = (lc.survey, lc.version)
                    counts[key][lc.source_id] = counts[key].get(lc.source_id, 0) + 1
            uow.lightcurves.add_many(made)
            for (survey, version), done in counts.items():
                uow.steps.mark_done(REDUCE, survey, version, done)
            uow.commit()
        report.actions.append(f"registered {len(chosen)} sources of {project!r} that have files")
        report.actions.append(f"re-created {len(raws)} raw-data records"
                              + (f" ({skipped} of surveys not in this configuration left)" if skipped else ""))
        report.actions.append(f"re-created {len(made)} lightcurve records and the reduce steps of "
                              f"{sum(len(v) for v in counts.values())} sources")
        return report


def _position_from_catalog(raws: list, sources: list) -> None:
    """Give raw data whose file has no position (batch files before it was indexed) its source's position.

    The position a raw record carries is the catalog position it was downloaded for, so the
    catalog gives it back; raw data of sources the catalog no longer selects keep NaN.
    """
    where = {s.name: (s.ra, s.dec) for s in sources}
    for raw in raws:
        if raw.source_name in where and (raw.ra != raw.ra or raw.dec != raw.dec):  # NaN
            raw.ra, raw.dec = (float(v) for v in where[raw.source_name])
