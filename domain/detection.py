"""A candidate event found in a lightcurve."""

from __future__ import annotations

import math

__all__ = ["CENTROID_FIELDS", "Detection", "BRIGHTENING", "DIMMING"]

#: Attributes of the pixel vetting statistic (:meth:`Detection.set_centroid_shift`), None until measured.
CENTROID_FIELDS = ("centroid_shift_px", "centroid_shift_err_px", "centroid_shift_arcsec", "centroid_shift_err_arcsec",
                   "centroid_offset_px", "centroid_offset_err_px", "centroid_offset_sigma")

BRIGHTENING = "brightening"
DIMMING = "dimming"


class Detection:
    """One contiguous excursion above threshold in one lightcurve.

    Simulated detections (from injected events) carry ``is_simulated=True``
    and are excluded from every default query, count and export.

    Parameters
    ----------
    kind : str
        ``"brightening"`` or ``"dimming"``.
    peak_mjd : float
        Time of the epoch with the largest absolute S/N.
    start_mjd, end_mjd : float
        First and last epoch of the contiguous event.
    snr : float
        Signed S/N at the peak.
    peak_flux : float
        Flux at the peak.
    delta_mag : float
        Magnitude change at the peak relative to the baseline (negative when brighter).
    num_epochs : int
        Number of epochs in the event.
    baseline_flux : float
        Robust baseline the S/N was measured against.
    is_simulated : bool
        True for detections of injected events (hidden from default queries).
    filter_width : float
        Width (days) of the matched filter that found it; 0 for a single-epoch detection.
    first_epoch, last_epoch : int, optional
        Indices of the event's first and last epoch in the lightcurve's arrays: with the
        lightcurve's file and key they link the detection to the data needed to judge it.
    quality : dict, optional
        Worst value of each quality cut over the event's epochs.
    peak_snr : float, optional
        Single-epoch S/N of the peak epoch (``snr`` is the event's strongest score, of any width).
    amplitude : float, optional
        Fractional flux change at the peak against the local baseline, ``peak_flux / baseline_flux - 1``:
        positive for brightenings, negative for dips (the depth is ``-amplitude``).
    equivalent_duration, equivalent_duration_err : float, optional
        Time integral of the fractional flux change over the event's epochs and its one-sigma error,
        in seconds (AltaiPony's definition; negative for dips).

    Attributes
    ----------
    centroid_shift_px, centroid_shift_err_px : float or None
        Flux-weighted centroid shift between in-event and out-of-event images, and its error (pixels);
        None where the survey has no images of the event (see :meth:`set_centroid_shift`).
    centroid_shift_arcsec, centroid_shift_err_arcsec : float or None
        The same on the sky.
    centroid_offset_px, centroid_offset_err_px : float or None
        Distance of the light that changed from the target, and its error (pixels).
    centroid_offset_sigma : float or None
        Their ratio: large for an event on a neighbour (the column to sort by when vetting).
    stamps_file, stamps_key : str or None
        Where the event's image stamps (reference, peak, difference: :class:`~domain.stamps.Stamps`) are
        stored, through the data store; None where the survey has no images of the event.
    """

    def __init__(
        self,
        kind: str,
        peak_mjd: float,
        start_mjd: float,
        end_mjd: float,
        snr: float,
        peak_flux: float,
        delta_mag: float,
        num_epochs: int,
        baseline_flux: float,
        is_simulated: bool = False,
        filter_width: float = 0.0,
        first_epoch: int | None = None,
        last_epoch: int | None = None,
        quality: dict | None = None,
        peak_snr: float | None = None,
        amplitude: float | None = None,
        equivalent_duration: float | None = None,
        equivalent_duration_err: float | None = None,
    ):
        # One update of __dict__ rather than an assignment per attribute: once the ORM maps the class,
        # every assignment is an attribute event, and a new detection has no session to track them (the
        # repository inserts rows itself).
        self.__dict__.update(
            id=None, source_id=None, lightcurve_id=None, version=None, kind=kind, peak_mjd=float(peak_mjd),
            start_mjd=float(start_mjd), end_mjd=float(end_mjd), snr=float(snr), peak_flux=float(peak_flux),
            delta_mag=float(delta_mag), num_epochs=int(num_epochs), baseline_flux=float(baseline_flux),
            is_simulated=bool(is_simulated), filter_width=float(filter_width), first_epoch=first_epoch,
            last_epoch=last_epoch, quality=dict(quality or {}), injection_id=None, peak_snr=_float(peak_snr),
            amplitude=_float(amplitude), equivalent_duration=_float(equivalent_duration),
            equivalent_duration_err=_float(equivalent_duration_err), **dict.fromkeys(CENTROID_FIELDS),
            stamps_file=None, stamps_key=None)

    def set_centroid_shift(self, shift) -> None:
        """Keep the pixel vetting statistic of this event (a :class:`~domain.centroid_shift.CentroidShift`).

        Non-finite values (no pixel scale, no target position) are kept as None.

        Parameters
        ----------
        shift : CentroidShift
            Measured on the images of the event.
        """
        values = (shift.pixels, shift.error, shift.arcsec, shift.arcsec_error, shift.offset_pixels,
                  shift.offset_error, shift.offset_significance)
        for name, value in zip(CENTROID_FIELDS, values):
            setattr(self, name, _float(value) if value is not None and math.isfinite(value) else None)

    @property
    def duration(self) -> float:
        """Time from the event's first to its last epoch (days)."""
        return self.end_mjd - self.start_mjd

    def __repr__(self) -> str:
        return (
            f"Detection({self.kind}, peak={self.peak_mjd:.4f}, S/N={self.snr:.1f}, "
            f"[{self.start_mjd:.4f}, {self.end_mjd:.4f}], n={self.num_epochs})"
        )


def _float(value) -> float | None:
    return None if value is None else float(value)
