"""Per-source summary statistics of an analysis, to prioritise follow-up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["SourceSummary", "FILTER_FIELDS"]

#: Keys of the statistics of each filter in :attr:`SourceSummary.per_filter`.
FILTER_FIELDS = ("num_lightcurves", "num_epochs", "num_good", "mag_median", "rms", "best_snr", "num_detections")


@dataclass
class SourceSummary:
    """What the analysis saw of one source in one survey at one version.

    Magnitudes of different filters are never mixed: each filter has its own statistics in
    ``per_filter``, and ``mag_median`` is the one of a single filter.

    Attributes
    ----------
    source_id : int
        The source.
    survey, version : str
        Survey and analysis version.
    num_lightcurves, num_epochs, num_good : int
        Lightcurves, epochs, and epochs passing every quality cut (all filters).
    mag_median : float or None
        Median magnitude of the good epochs of one filter: the filter with most good epochs among
        those with a median magnitude (ties: the first by name). An epoch whose flux is <= 0 counts
        as fainter than any other, so this is the magnitude of the median flux.
    rms : float or None
        Median over lightcurves of the robust flux scatter relative to the baseline (dimensionless,
        so comparable between filters).
    best_snr : float or None
        Signed: the S/N of the strongest detection (largest ``|snr|``), or without a detection the
        signed single-epoch S/N of the strongest good epoch (None without any).
    num_detections : int
        Real detections (simulated ones are never counted here).
    best_kind : str or None
        Kind of the detection of ``best_snr`` (``brightening``, ``dimming``); None without a detection.
    best_peak_mjd : float or None
        Time (MJD, on the lightcurve's scale) of ``best_snr``: the detection's peak, or the epoch's time.
    per_filter : dict of str to dict
        Per filter name, :data:`FILTER_FIELDS`: ``num_lightcurves``, ``num_epochs``, ``num_good``,
        ``mag_median``, ``rms``, ``best_snr`` (signed, as above within the filter) and ``num_detections``.
    detections_dropped : int
        Detections found but left out by the per-lightcurve cap ``max_detections``, over all lightcurves.
    """

    source_id: int
    survey: str
    version: str
    num_lightcurves: int = 0
    num_epochs: int = 0
    num_good: int = 0
    mag_median: float | None = None
    rms: float | None = None
    best_snr: float | None = None
    num_detections: int = 0
    best_kind: str | None = None
    best_peak_mjd: float | None = None
    per_filter: dict[str, dict] = field(default_factory=dict)
    detections_dropped: int = 0

    def as_dict(self) -> dict:
        """Return the fields as a dictionary (``per_filter`` copied)."""
        return asdict(self)
