"""The three per-batch steps of a run: download, reduce, analyse; each skips work already done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import hashlib

from virtualobserver.domain.analysis.analysis import Analysis
from virtualobserver.domain.config import SurveyConfig
from virtualobserver.domain.naming import safe_key
from virtualobserver.domain.errors import VOError
from virtualobserver.domain.source import Source
from virtualobserver.services.batch_carry import BatchCarry, in_canonical_order
from virtualobserver.services.pixel_evidence import measure_pixel_evidence
from virtualobserver.services.ports import AbstractUnitOfWork, DataStore, HistogramStore, SurveyClient

__all__ = ["StageResult", "download_batch", "reduce_batch", "analyse_batch", "pending", "finish", "lightcurves_of",
           "load_lightcurves_of", "batch_lightcurves", "save_histogram_parts", "DOWNLOAD", "REDUCE", "ANALYSE"]

DOWNLOAD, REDUCE, ANALYSE = "download", "reduce", "analyse"


@dataclass
class StageResult:
    """What one step did to one batch.

    Attributes
    ----------
    done : int
        Sources processed now.
    skipped : int
        Sources already done (same version), untouched.
    failed : dict
        Source name -> one-line reason.
    products : int
        Products written (raw records, lightcurves or detections).
    """

    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    products: int = 0

    def add(self, other: "StageResult") -> None:
        """Accumulate another batch's result into this one."""
        self.done += other.done
        self.skipped += other.skipped
        self.failed.update(other.failed)
        self.products += other.products


def pending(uow: AbstractUnitOfWork, stage: str, survey: str, version: str, sources: Sequence[Source],
            after: tuple[str, str] | None = None, carry: BatchCarry | None = None) -> tuple[list[Source], int]:
    """Return the sources still to do at ``stage`` (and done at the prerequisite ``after``), and how many are done.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    stage, survey, version : str
        The step and the version it must reach.
    sources : sequence of Source
        Persisted sources of the batch.
    after : tuple of str, optional
        (stage, version) a source must have finished first.
    carry : BatchCarry, optional
        The batch's carry: for a batch of new sources, what its steps did so far is all there is on
        record, so nothing is queried.

    Returns
    -------
    tuple
        Sources to process, and the number already done (skipped).
    """
    ids = [s.id for s in sources]
    if _fresh(carry):
        done = carry.done.get((stage, survey, version), set()).intersection(ids)
        ready = carry.done.get((after[0], survey, after[1]), set()) if after else set(ids)
    else:
        done = uow.steps.done(stage, survey, version, ids)
        ready = uow.steps.done(after[0], survey, after[1], ids) if after else set(ids)
    return [s for s in sources if s.id in ready and s.id not in done], len(done)


def _fresh(carry: BatchCarry | None) -> bool:
    # Whether the batch's sources were all new: nothing on record of their steps but what the carry holds.
    return carry is not None and carry.fresh


def lightcurves_of(uow: AbstractUnitOfWork, survey: SurveyConfig, sources: Sequence[Source]) -> dict[int, list]:
    """Return the lightcurve records (arrays not loaded) of ``sources`` at the reduction version, by source id.

    Each record gets its source's name, which messages and files use.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    survey : SurveyConfig
        Survey and versions.
    sources : sequence of Source
        Persisted sources.

    Returns
    -------
    dict of int to list of Lightcurve
        Every source id present, possibly with an empty list.
    """
    found = uow.lightcurves.for_sources([s.id for s in sources], survey.name, survey.reduction_version)
    by_id = {}
    for source in sources:
        by_id[source.id] = in_canonical_order(found.get(source.id, []))
        for lc in by_id[source.id]:
            lc.source_name = source.name
    return by_id


def finish(uow: AbstractUnitOfWork, stage: str, survey: str, version: str, counts: dict[int, int],
           failures: dict[int, str], carry: BatchCarry | None = None) -> None:
    """Mark the batch's successes done, record its failures, and commit everything written for it.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    stage, survey, version : str
        The step.
    counts : dict of int to int
        Source id -> products made, for the sources that succeeded.
    failures : dict of int to str
        Source id -> one-line reason, for the sources that failed.
    carry : BatchCarry, optional
        The batch's carry: records what was marked done (see :func:`pending`).
    """
    uow.steps.mark_done(stage, survey, version, counts)
    if not _fresh(carry):  # new sources have no failures of this step to clear
        uow.steps.clear_failures(stage, survey, list(counts))
    uow.steps.record_failures(stage, survey, version, failures)
    uow.commit()
    if carry is not None:
        carry.done.setdefault((stage, survey, version), set()).update(counts)


def download_batch(
    uow: AbstractUnitOfWork,
    store: DataStore,
    client: SurveyClient,
    survey: SurveyConfig,
    sources: Sequence[Source],
    mapper: Callable = map,
    carry: BatchCarry | None = None,
) -> StageResult:
    """Download raw data for sources that have none of this version; one commit for the batch.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Where arrays are written (before the records are committed).
    client : SurveyClient
        Survey to download from.
    survey : SurveyConfig
        Parameters and versions of this survey.
    sources : sequence of Source
        Persisted sources (with ids).
    mapper : callable
        ``map``-like function used to run downloads (threads for slow surveys).
    carry : BatchCarry, optional
        Receives the new raw data (loaded) for the batch's next step.

    Returns
    -------
    StageResult
        Counts of this batch.
    """
    result = StageResult()
    version = survey.download_version
    existing = uow.raw_data.get_many(survey.name, version, [s.name for s in sources])
    todo = [s for s in sources if s.name not in existing]
    result.skipped = len(sources) - len(todo)

    def fetch(source: Source):
        try:
            return source, client.download(source)
        except VOError as exc:
            return source, exc

    # Threads only overlap waiting; a survey that computes its data does the whole batch in one call.
    if client.waits_on_network:
        outcomes = mapper(fetch, todo)
    else:
        outcomes = zip(todo, client.download_many(todo))
    new, failures = [], {}
    for source, outcome in outcomes:
        if isinstance(outcome, VOError):
            failures[source.id] = result.failed[source.name] = str(outcome)
        else:
            outcome.version = version
            new.append(outcome)
    # One file for the whole batch, written (and fsynced) before the records that point into it commit.
    store.save_raw_many(new)
    uow.raw_data.add_many(new)
    if not _fresh(carry):  # new sources have no failures to clear
        uow.steps.clear_failures(DOWNLOAD, survey.name, [s.id for s in todo if s.id not in failures])
    uow.steps.record_failures(DOWNLOAD, survey.name, version, failures)
    uow.commit()
    if carry is not None:
        carry.raws[survey.name] = {raw.source_name: raw for raw in new}
    result.done = result.products = len(new)
    return result


def reduce_batch(
    uow: AbstractUnitOfWork,
    store: DataStore,
    client: SurveyClient,
    survey: SurveyConfig,
    project: str,
    sources: Sequence[Source],
    carry: BatchCarry | None = None,
) -> StageResult:
    """Reduce downloaded sources not yet reduced at this version; one commit for the batch.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Arrays of raw data and lightcurves.
    client : SurveyClient
        Survey whose reduction applies.
    survey : SurveyConfig
        Parameters and versions of this survey.
    project : str
        Project name (lightcurves are per project).
    sources : sequence of Source
        Persisted sources (with ids).
    carry : BatchCarry, optional
        Raw data the download step of this batch made (used instead of reading it back); receives the
        lightcurves made.

    Returns
    -------
    StageResult
        Counts of this batch.
    """
    result = StageResult()
    version = survey.reduction_version
    candidates, result.skipped = pending(uow, REDUCE, survey.name, version, sources, carry=carry)
    carried = carry.raws.get(survey.name, {}) if carry is not None else {}
    raws = {s.name: carried[s.name] for s in candidates if s.name in carried}
    missing = [s.name for s in candidates if s.name not in raws]
    if missing:
        raws.update(uow.raw_data.get_many(survey.name, survey.download_version, missing))
    todo = [s for s in candidates if s.name in raws]
    loaded = _load_raws(store, [raws[s.name] for s in todo if not raws[s.name].is_loaded])
    by_source, counts, failures = {}, {}, {}
    for source in todo:
        raw = raws[source.name]
        try:
            if source.name in loaded:
                raise loaded[source.name]
            lightcurves = client.reduce(raw, survey.reduction)
        except VOError as exc:
            failures[source.id] = str(exc)
            result.failed[source.name] = str(exc)
            continue
        for lc in lightcurves:
            # Made just now and in no session: one dict update, not four attribute events of a mapped class.
            lc.__dict__.update(source_id=source.id, raw_data_id=raw.id, version=version, source_name=source.name)
        by_source[source.name] = lightcurves
        counts[source.id] = len(lightcurves)
    store.save_lightcurves_many(project, version, by_source)
    made = [lc for lightcurves in by_source.values() for lc in lightcurves]
    uow.lightcurves.add_many(made)
    finish(uow, REDUCE, survey.name, version, counts, failures, carry)
    if carry is not None:
        carry.lightcurves[survey.name] = {source.id: in_canonical_order(by_source[source.name])
                                          for source in todo if source.name in by_source}
    result.done, result.products = len(counts), len(made)
    return result


def _load_raws(store: DataStore, raws: list) -> dict[str, VOError]:
    """Load raw arrays of a batch at once; if that fails, one by one, returning the failures by source name."""
    try:
        store.load_raw_many(raws)
        return {}
    except VOError:
        failed = {}
        for raw in raws:
            try:
                store.load_raw(raw)
            except VOError as exc:
                failed[raw.source_name] = exc
        return failed


def load_lightcurves_of(store: DataStore, by_id: dict[int, list]) -> dict[int, VOError]:
    """Load the arrays of every lightcurve of a batch (each file read once); failures by source id.

    If reading all at once fails, sources are read one by one, so that one bad file fails only
    its own sources.
    """
    try:
        store.load_lightcurves([lc for lcs in by_id.values() for lc in lcs])
        return {}
    except VOError:
        failed = {}
        for source_id, lcs in by_id.items():
            try:
                store.load_lightcurves(lcs)
            except VOError as exc:
                failed[source_id] = exc
        return failed


def batch_lightcurves(uow: AbstractUnitOfWork, store: DataStore, survey: SurveyConfig, sources: Sequence[Source],
                      carry: BatchCarry | None = None) -> tuple[dict[int, list], dict[int, VOError]]:
    """Return the loaded lightcurves of ``sources`` by source id, and the sources whose files failed to read.

    From the carry when it holds every source (made by this batch's reduce step), else from the
    database and the files.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Lightcurve arrays.
    survey : SurveyConfig
        Survey and versions.
    sources : sequence of Source
        Persisted sources.
    carry : BatchCarry, optional
        Products of earlier steps of the batch.

    Returns
    -------
    tuple
        Lightcurves by source id (in canonical order), and unreadable sources' errors by source id.
    """
    carried = carry.lightcurves_for(survey.name, (s.id for s in sources)) if carry is not None else None
    if carried is not None:
        return carried, {}
    lightcurves = lightcurves_of(uow, survey, sources)
    return lightcurves, load_lightcurves_of(store, lightcurves)


def analyse_batch(
    uow: AbstractUnitOfWork,
    store: DataStore,
    histogram_store: HistogramStore,
    survey: SurveyConfig,
    project: str,
    sources: Sequence[Source],
    carry: BatchCarry | None = None,
    client: SurveyClient | None = None,
) -> StageResult:
    """Search the lightcurves of reduced sources not yet analysed at this version; one commit.

    Detections, per-source summaries and this batch's histograms (one part file
    per histogram, recorded in the same transaction) are written together, so
    merged histograms count every analysed epoch exactly once even after a crash.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : DataStore
        Lightcurve arrays.
    histogram_store : HistogramStore
        Where the batch's histogram parts go.
    survey : SurveyConfig
        Parameters and versions of this survey.
    project : str
        Project name.
    sources : sequence of Source
        Persisted sources (with ids).
    carry : BatchCarry, optional
        Lightcurves the reduce step of this batch made (used instead of reading them back); receives
        the quality results.
    client : SurveyClient, optional
        The survey's client: where its raw data holds images, each detection gets its centroid shift and
        its image stamps (:func:`services.pixel_evidence.measure_pixel_evidence`).

    Returns
    -------
    StageResult
        Counts of this batch.
    """
    result = StageResult()
    version = survey.analysis_version
    todo, result.skipped = pending(uow, ANALYSE, survey.name, version, sources,
                                   after=(REDUCE, survey.reduction_version), carry=carry)
    if not todo:
        return result
    analysis = Analysis(survey.analysis, survey.quality, survey.histograms)
    histograms = analysis.new_histograms()
    lightcurves, unreadable = batch_lightcurves(uow, store, survey, todo, carry)
    qualities = {}
    found, summaries, counts, failures, scanned, scores, analysed = [], [], {}, {}, [], {}, {}
    readable = [source for source in todo if source.id not in unreadable]
    outcomes = dict(zip((s.id for s in readable), analysis.analyse_sources(
        [(source, lightcurves[source.id]) for source in readable], survey.name, version)))
    for source in todo:
        outcome = unreadable.get(source.id) or outcomes[source.id]
        if isinstance(outcome, VOError):
            failures[source.id] = str(outcome)
            result.failed[source.name] = str(outcome)
            continue
        results, summary = outcome
        if survey.analysis.save_epoch_scores:
            scores[source.name] = {r.lightcurve.key: r.epoch_table() for r in results}
        # Histograms are filled once for the batch below, from the sources that succeeded only.
        scanned.extend(results)
        for lc_result in results:
            for detection in lc_result.detections:
                detection.source_id, detection.lightcurve_id, detection.version = (
                    source.id, lc_result.lightcurve.id, version)
            found.extend(lc_result.detections)
        summaries.append(summary)
        counts[source.id] = summary.num_detections
        qualities[source.id] = [r.quality for r in results]
        analysed[source.id] = results
    if client is not None:
        measure_pixel_evidence(uow, store, client, survey, project,
                               [(s, analysed[s.id]) for s in todo if s.id in analysed],
                               carry.raws.get(survey.name) if carry is not None else None)
    analysis.fill_many(histograms, scanned)
    scores_file = store.save_epoch_scores_many(project, version, scores) if scores else None
    save_histogram_parts(uow, histogram_store, histograms, project, survey.name, version, list(counts), carry)
    uow.detections.add_many(found)
    uow.summaries.upsert_many(summaries, scores_file=scores_file)
    finish(uow, ANALYSE, survey.name, version, counts, failures, carry)
    if carry is not None:
        carry.qualities[survey.name] = qualities
        carry.results[survey.name] = analysed
    result.done, result.products = len(counts), len(found)
    return result


def save_histogram_parts(uow: AbstractUnitOfWork, histogram_store: HistogramStore, histograms: dict,
                         project: str, survey: str, version: str, source_ids: Sequence[int],
                         carry: BatchCarry | None = None) -> None:
    """Write one part file per histogram for a batch and record them (the caller commits).

    The part's name is a hash of the sources it covers: a rerun of the same
    uncommitted batch rewrites the same file, and a part is counted only once
    its record is committed.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    histogram_store : HistogramStore
        Where parts are written.
    histograms : dict of str to Histograms
        The batch's histograms by name.
    project, survey, version : str
        What they belong to.
    source_ids : sequence of int
        Sources the batch covered.
    carry : BatchCarry, optional
        Receives each part's key and histograms (the run merges them without reading them back).
    """
    if not source_ids:
        return
    part = hashlib.sha256(",".join(map(str, sorted(source_ids))).encode()).hexdigest()[:16]
    for name, histogram in histograms.items():
        key = f"histograms/{safe_key(project, max_length=32)}/{survey}/{version}/{name}/part-{part}"
        histogram_store.save(key, histogram)
        uow.histogram_parts.add(project, survey, version, name, key)
        if carry is not None:
            carry.parts.append((survey, version, name, key, histogram))
