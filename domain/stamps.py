"""Image stamps of an event: a reference image, the image at the peak and their difference.

An astronomer vets a candidate by looking at the pixels at the event: in the difference image the
light that changed sits on the target, on a neighbour, along a satellite trail or on one hot pixel.
The reference is the per-pixel median of the good frames around the event (the same out-of-event
frames as :func:`domain.centroid_shift.event_centroid_shift`, so the stamps show what the centroid
shift measured); the peak image is the good frame nearest the detection's peak time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from virtualobserver.domain.centroid_shift import BASELINE_DURATIONS, MIN_BASELINE_DAYS, event_frames
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube

__all__ = ["Stamps", "event_stamps"]


@dataclass(eq=False)  # holds arrays: compared by identity
class Stamps:
    """Reference, peak and difference images of one event, all ``(rows, cols)``.

    Attributes
    ----------
    reference : numpy.ndarray
        Per-pixel median of the out-of-event frames (NaN where a pixel has no value).
    peak : numpy.ndarray
        The good frame nearest the event's peak.
    difference : numpy.ndarray
        ``peak - reference``.
    peak_time : float
        Time of the peak frame (the cube's time scale, MJD).
    reference_frames : int
        Frames the reference is the median of.
    target_pixel : tuple of float or None
        ``(row, col)`` of the target, 0-based, when known.
    pixel_scale_arcsec : float or None
        Size of one pixel on the sky, when known.
    wcs_header : dict or None
        Celestial WCS of the images as FITS keyword -> value (see :attr:`PixelCube.wcs_header`), when known.
    time_scale : str or None
        Time scale of ``peak_time`` (``tdb`` for Kepler, K2 and TESS; ``utc`` for ZTF), when known.
    """

    reference: np.ndarray
    peak: np.ndarray
    difference: np.ndarray
    peak_time: float
    reference_frames: int
    target_pixel: tuple[float, float] | None = None
    pixel_scale_arcsec: float | None = None
    wcs_header: dict | None = None
    time_scale: str | None = None

    def __post_init__(self) -> None:
        shapes = {np.shape(self.reference), np.shape(self.peak), np.shape(self.difference)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise DataError(f"stamps: reference, peak and difference must be images of one shape (have {shapes})")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of each stamp."""
        return tuple(int(n) for n in self.reference.shape)  # type: ignore[return-value]


def event_stamps(cube: PixelCube, start: float, end: float, peak_time: float, bad_bits: int,
                 min_baseline_days: float = MIN_BASELINE_DAYS) -> Stamps | None:
    """Return the stamps of an event in a pixel cube, or None when the cube has no frames for them.

    Parameters
    ----------
    cube : PixelCube
        The images of the lightcurve the event was found in.
    start, end : float
        First and last time of the event (the cube's time scale).
    peak_time : float
        Time of the event's peak; the peak stamp is the good frame nearest it.
    bad_bits : int
        Quality bits of frames not to use.
    min_baseline_days : float
        Shortest stretch each side of the event whose frames make the reference (as the centroid shift's).

    Returns
    -------
    Stamps or None
        None when there is no good frame in the event or fewer than 3 good frames around it (the same
        rule as the centroid shift).
    """
    baseline = max(min_baseline_days, BASELINE_DURATIONS * (end - start))
    good = cube.good_cadences(bad_bits)
    inside, outside = event_frames(cube.times, good, start, end, baseline)
    if inside.sum() < 1 or outside.sum() < 3:
        return None
    candidates = np.flatnonzero(inside)
    nearest = int(candidates[np.argmin(np.abs(cube.times[candidates] - peak_time))])
    reference = cube.median_image(outside)
    peak = np.asarray(cube.flux[nearest], dtype=np.float64)
    return Stamps(reference=reference, peak=peak, difference=peak - reference, peak_time=float(cube.times[nearest]),
                  reference_frames=int(outside.sum()), target_pixel=cube.target_pixel,
                  pixel_scale_arcsec=cube.pixel_scale_arcsec,
                  wcs_header=dict(cube.wcs_header) if cube.wcs_header else None)
