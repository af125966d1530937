"""Pixel evidence of one event: what its images say about where the light that changed came from.

The pixels may come with the lightcurve (a target pixel file or a cutout reduced to it) or be fetched
afterwards for the detections only (:class:`EventPixels`: a ZTF source observed 1,000 times needs
cutouts around its few events, a TESS target the pixel file of one sector). Either way the evidence is
the same pair: the centroid shift (:mod:`domain.centroid_shift`) and the stamps (:mod:`domain.stamps`).
"""

from __future__ import annotations

from dataclasses import dataclass

from virtualobserver.domain.centroid_shift import MIN_BASELINE_DAYS, TARGET_ERROR_ARCSEC, CentroidShift, event_centroid_shift
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.stamps import Stamps, event_stamps

__all__ = ["EventPixels", "measure_event"]


@dataclass(eq=False)  # holds arrays: compared by identity
class EventPixels:
    """The images around one event, with what is needed to read them.

    Attributes
    ----------
    cube : PixelCube
        Frames on one grid, times on the lightcurve's time scale.
    bad_bits : int
        Quality bits of frames not to use.
    min_baseline_days : float
        Shortest stretch each side of the event whose frames are its out-of-event frames.
    target_error_arcsec : float
        How well the target's position in the frames is known, per axis.
    files : tuple of str
        Names of the files the frames came from (provenance).
    """

    cube: PixelCube
    bad_bits: int
    min_baseline_days: float = MIN_BASELINE_DAYS
    target_error_arcsec: float = TARGET_ERROR_ARCSEC
    files: tuple[str, ...] = ()


def measure_event(pixels: EventPixels, start: float, end: float, peak: float) -> tuple[CentroidShift | None,
                                                                                        Stamps | None]:
    """Return the centroid shift and the stamps of an event, each None when the frames cannot give it.

    Parameters
    ----------
    pixels : EventPixels
        The frames around the event.
    start, end, peak : float
        The event's first, last and peak time (the cube's time scale).

    Returns
    -------
    shift : CentroidShift or None
    stamps : Stamps or None
    """
    shift = event_centroid_shift(pixels.cube, start, end, pixels.bad_bits, min_baseline_days=pixels.min_baseline_days,
                                 target_error_arcsec=pixels.target_error_arcsec)
    stamps = event_stamps(pixels.cube, start, end, peak, pixels.bad_bits, min_baseline_days=pixels.min_baseline_days)
    return shift, stamps
