"""Merge the committed histogram parts of a product into one histogram."""

from __future__ import annotations

from domain.histograms import Histograms
from services.ports import AbstractUnitOfWork, HistogramStore

__all__ = ["merged_histograms"]


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
