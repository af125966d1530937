"""Per-source summary statistics of an analysis, to prioritise follow-up."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["SourceSummary"]


@dataclass
class SourceSummary:
    """What the analysis saw of one source in one survey at one version.

    Attributes
    ----------
    source_id : int
        The source.
    survey, version : str
        Survey and analysis version.
    num_lightcurves, num_epochs, num_good : int
        Lightcurves, epochs, and epochs passing every quality cut.
    mag_median : float or None
        Median magnitude of good epochs (over all lightcurves).
    rms : float or None
        Median over lightcurves of the robust flux scatter relative to the baseline.
    best_snr : float or None
        Largest absolute S/N of any good epoch.
    num_detections : int
        Real detections (simulated ones are never counted here).
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

    def as_dict(self) -> dict:
        """Return the fields as a dictionary."""
        return asdict(self)
