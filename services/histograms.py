"""Merge the committed histogram parts of a product into one histogram."""

from __future__ import annotations

import hashlib

from virtualobserver.domain.histograms import Histograms
from virtualobserver.services.ports import AbstractUnitOfWork, HistogramStore

__all__ = ["merged_histograms", "compact_histograms"]


def merged_histograms(uow: AbstractUnitOfWork, store: HistogramStore, project: str, survey: str,
                      version: str, name: str) -> Histograms | None:
    """Return the sum of every committed part of histogram ``name``, or None if there is none.

    Only parts whose records were committed count, so a batch killed after
    writing its file but before its commit is never counted, and a rerun
    never counts a batch twice: addition is exact, so the result equals that
    of one uninterrupted run.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : HistogramStore
        Where the parts are.
    project, survey, version : str
        The product.
    name : str
        Histogram name (``scanned``, ``cut_offset``, ``efficiency``, ...).

    Returns
    -------
    Histograms or None
        The merged histogram.
    """
    keys = uow.histogram_parts.keys(project, survey, version, name)
    if not keys:
        return None
    return Histograms.merge(store.load(key) for key in keys)


def compact_histograms(uow: AbstractUnitOfWork, store: HistogramStore, project: str, survey: str,
                       version: str, name: str, *, min_parts: int = 20,
                       known: tuple[frozenset[str], Histograms] | None = None) -> int:
    """Merge the parts of histogram ``name`` into one when there are at least ``min_parts``; commit.

    The merged part is written first, then one transaction swaps the part
    records, and only after the commit are the old files deleted: a crash at
    any moment leaves either the old parts or the merged one counted, never
    both and never neither (left-over files are not referenced and never counted).

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    store : HistogramStore
        Where the parts are.
    project, survey, version, name : str
        The product.
    min_parts : int
        Compact only from this many parts on.
    known : tuple, optional
        Keys of parts and the sum of their histograms, already in memory (the parts the run's batches
        just wrote): used instead of reading those parts back when every one of them is still on record.

    Returns
    -------
    int
        The number of parts merged (0 if nothing was done).
    """
    keys = uow.histogram_parts.keys(project, survey, version, name)
    if len(keys) < max(min_parts, 2):
        return 0
    if known is not None and known[0] <= set(keys):
        # Integer counts: the sum in memory plus the other parts is the sum of every part, bit for bit.
        merged = Histograms.merge([known[1], *(store.load(key) for key in keys if key not in known[0])])
    else:
        merged = Histograms.merge(store.load(key) for key in keys)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    prefix = keys[0].rsplit("/", 1)[0]
    new_key = f"{prefix}/merged-{digest}"
    store.save(new_key, merged)
    uow.histogram_parts.replace(project, survey, version, name, keys, new_key)
    uow.commit()
    for key in keys:
        store.delete(key)
    return len(keys)
