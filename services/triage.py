"""Detections for people to judge: a sortable list with each detection's label, and the labelling itself."""

from __future__ import annotations

import math
from dataclasses import dataclass

from virtualobserver.domain.detection import Detection
from virtualobserver.domain.errors import DataError
from virtualobserver.services.ports import TRIAGE_LABELS, AbstractUnitOfWork

__all__ = ["DetectionRow", "DETECTION_ORDERS", "list_detections", "label_detections", "check_label"]

#: Orders the detection list can be sorted in, with their natural direction (True: descending).
DETECTION_ORDERS = {"snr": True, "time": False, "source": False, "label": False, "centroid": True}


@dataclass
class DetectionRow:
    """One detection with what a person needs to find and judge it.

    Attributes
    ----------
    detection : Detection
        The detection (``id``, peak, S/N, extent, quality, ``is_simulated``).
    source : str
        Name of its source.
    survey : str
        Survey of its lightcurve.
    filter : str or None
        Filter of its lightcurve.
    season : int or None
        Season (or sector) of its lightcurve.
    label : str or None
        ``real``, ``artifact``, ``unsure`` or None when not judged yet.
    """

    detection: Detection
    source: str
    survey: str
    filter: str | None = None
    season: int | None = None
    label: str | None = None

    @property
    def id(self) -> int | None:
        """Id of the detection."""
        return self.detection.id


def check_label(label: str | None) -> str | None:
    """Return ``label`` if it is a triage label (or None); raise DataError otherwise.

    Parameters
    ----------
    label : str or None
        Label to check.

    Returns
    -------
    str or None
        The label.

    Raises
    ------
    DataError
        If the label is not one of ``real``, ``artifact``, ``unsure``.
    """
    if label is not None and label not in TRIAGE_LABELS:
        raise DataError(f"unknown label {label!r}; use one of {', '.join(TRIAGE_LABELS)} (or none to clear)")
    return label


def _sort_key(order_by: str):
    if order_by == "snr":
        return lambda r: (abs(r.detection.snr), r.source, r.detection.peak_mjd)
    if order_by == "time":
        return lambda r: (r.detection.peak_mjd, r.source)
    if order_by == "source":
        return lambda r: (r.source, r.detection.peak_mjd)
    if order_by == "centroid":
        # The centroid offset's significance (events on a neighbour first); list_detections puts the
        # unmeasured ones last.
        return lambda r: (-math.inf if r.detection.centroid_offset_sigma is None else r.detection.centroid_offset_sigma,
                          abs(r.detection.snr))
    if order_by == "label":
        # Unjudged first (they are the work left), then by label, strongest first within each.
        return lambda r: (r.label is not None, r.label or "", -abs(r.detection.snr))
    raise DataError(f"cannot sort detections by {order_by!r}; use one of {', '.join(DETECTION_ORDERS)}")


def list_detections(uow: AbstractUnitOfWork, project: str, survey, *, order_by: str = "snr",
                    descending: bool | None = None, include_simulated: bool = False,
                    label: str | None = "any") -> list[DetectionRow]:
    """Return the detections of the current analysis version with their labels, sorted.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    project : str
        Project name.
    survey : SurveyConfig
        Survey and versions.
    order_by : str
        ``snr`` (absolute S/N), ``time`` (peak MJD), ``source`` (name, then time), ``label`` or ``centroid``
        (significance of the centroid offset, the pixel evidence of an event on a neighbour; unmeasured last).
    descending : bool, optional
        Direction; by default S/N descends and the others ascend.
    include_simulated : bool
        Also list the simulated detections of the current simulation version (hidden otherwise).
    label : str or None
        ``"any"`` for every detection, None for the unlabelled ones only, or one label.

    Returns
    -------
    list of DetectionRow
        The sorted rows.

    Raises
    ------
    DataError
        If ``order_by`` or ``label`` is unknown.
    """
    key = _sort_key(order_by)
    if label != "any":
        check_label(label)
    found = uow.triage.rows(project, survey.analysis_version)
    if include_simulated:
        found += uow.triage.rows(project, survey.simulation_version, include_simulated=True)
    rows = [DetectionRow(d, name, survey.name, band, season, mark) for d, name, band, season, mark in found
            if label == "any" or mark == label]
    reverse = DETECTION_ORDERS[order_by] if descending is None else descending
    rows.sort(key=key, reverse=reverse)
    if order_by == "centroid":  # unmeasured last in either direction: they are not the smallest values
        rows = ([r for r in rows if r.detection.centroid_offset_sigma is not None]
                + [r for r in rows if r.detection.centroid_offset_sigma is None])
    return rows


def label_detections(uow: AbstractUnitOfWork, labels: dict[int, str | None]) -> int:
    """Set or clear labels by detection id and commit; return how many detections were found.

    Parameters
    ----------
    uow : AbstractUnitOfWork
        Unit of work (entered by the caller).
    labels : dict
        Detection id -> label, or None to clear it.

    Returns
    -------
    int
        Detections changed.

    Raises
    ------
    DataError
        If a label is unknown, or no detection has one of the ids.
    """
    for value in labels.values():
        check_label(value)
    changed = uow.triage.set_labels({int(k): v for k, v in labels.items()})
    if changed < len(labels):
        raise DataError(f"no detection with id(s) among {sorted(labels)}: nothing labelled")
    uow.commit()
    return changed
