"""The flux-weighted centroid shift: does the light that changed during an event come from the target?

During an event on the target the flux-weighted centroid of the images stays where it was; an event on
a neighbour pulls the centroid towards the neighbour, by about (neighbour offset) x (event flux /
total flux). The shift between the mean in-event image and the mean out-of-event image, divided by its
error, flags an event on a neighbour without looking at the pixels (Kepler's data validation does the
same for transits: Bryson et al. 2013, PASP 125, 889, section 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube

__all__ = ["CentroidShift", "MIN_BASELINE_DAYS", "centroid_shift", "event_centroid_shift", "event_frames",
           "flux_weighted_centroid"]

#: Shortest stretch (days) on each side of an event whose frames are its out-of-event frames.
MIN_BASELINE_DAYS = 1.0
#: The stretch on each side is at least this many times the event's duration.
BASELINE_DURATIONS = 3.0
#: Uncertainty (arcsec, per axis) of where the target's light is centred in the images, added to the
#: offset's error: the WCS puts the catalog position there only so well. On the real K2 file
#: (EPIC 211983544, campaign 18) the centroid of the median image lies 0.1 px in row and 0.11 px in
#: column (0.6 arcsec in all) from the WCS position; 1 arcsec covers that (a quarter of a Kepler pixel,
#: 0.05 TESS pixels, one ZTF pixel).
TARGET_ERROR_ARCSEC = 1.0

# Median absolute deviation of a normal distribution, in standard deviations.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class CentroidShift:
    """Shift of the flux-weighted centroid from out-of-event to in-event frames.

    Attributes
    ----------
    d_row, d_col : float
        In-event minus out-of-event centroid, pixels (rows, columns of the images).
    err_row, err_col : float
        1-sigma errors of ``d_row`` and ``d_col`` (see :func:`centroid_shift`).
    pixels : float
        Length of the shift, pixels.
    error : float
        1-sigma error of ``pixels`` (along the shift).
    significance : float
        ``sqrt((d_row / err_row)**2 + (d_col / err_col)**2)``: about 1 (a chi with 2 degrees of
        freedom, mean 1.25) when the event is on the target, large when it is elsewhere.
    arcsec, arcsec_error : float or None
        ``pixels`` and ``error`` times the pixel scale, when it is known.
    in_frames, out_frames : int
        Frames averaged on each side.
    source_row, source_col : float
        Where the light that changed comes from: the centroid of the difference image, found from the
        shift as ``out + shift * F_in / (F_in - F_out)`` (``F`` the summed flux of the weighed pixels);
        NaN when the flux did not change.
    offset_pixels, offset_error, offset_significance : float
        Distance of that source from the target's pixel, its 1-sigma error (the shift's error scaled by
        ``F_in / (F_in - F_out)``, with the target position's error; the error of that ratio is left
        out) and the chi of the offset vector (per axis, offset over error): the statistic
        that flags an event on a neighbour (an event on the target has an offset near 0 even where a
        bright neighbour inside the weighed pixels makes the shift itself significant). NaN without a
        target position.
    offset_arcsec, offset_arcsec_error : float or None
        The offset and its error on the sky, when the pixel scale is known.
    """

    d_row: float
    d_col: float
    err_row: float
    err_col: float
    pixels: float
    error: float
    significance: float
    arcsec: float | None
    arcsec_error: float | None
    in_frames: int
    out_frames: int
    source_row: float = float("nan")
    source_col: float = float("nan")
    offset_pixels: float = float("nan")
    offset_error: float = float("nan")
    offset_significance: float = float("nan")
    offset_arcsec: float | None = None
    offset_arcsec_error: float | None = None


def flux_weighted_centroid(images: np.ndarray, pixels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the flux-weighted centroid of each image.

    ``row = sum(f * r) / sum(f)`` over the chosen pixels that are finite (and likewise for columns),
    the first moment used by the Kepler and TESS pipelines (``MOM_CENTR``) and lightkurve's
    ``estimate_centroids(method="moments")``, here in 0-based pixel coordinates.

    Parameters
    ----------
    images : numpy.ndarray
        ``(n, rows, cols)`` or one ``(rows, cols)`` image.
    pixels : numpy.ndarray, optional
        Boolean ``(rows, cols)``: the pixels weighed; all when omitted.

    Returns
    -------
    row, col : numpy.ndarray
        Shape ``(n,)`` (a 0-d array for one image); NaN where the weights sum to zero.

    Examples
    --------
    >>> r, c = flux_weighted_centroid(np.array([[0.0, 1.0], [0.0, 3.0]]))
    >>> float(r), float(c)
    (0.75, 1.0)
    """
    images = np.asarray(images, dtype=np.float64)
    single = images.ndim == 2
    stack = images[None] if single else images
    shape = stack.shape[1:]
    chosen = np.ones(shape, dtype=bool) if pixels is None else np.asarray(pixels, dtype=bool)
    rows, cols = np.indices(shape)
    weights = np.where(np.isfinite(stack) & chosen, stack, 0.0)
    total = weights.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        row = np.where(total != 0, (weights * rows).sum(axis=(1, 2)) / total, np.nan)
        col = np.where(total != 0, (weights * cols).sum(axis=(1, 2)) / total, np.nan)
    return (row[0], col[0]) if single else (row, col)


def centroid_shift(images: np.ndarray, in_event: np.ndarray, out_of_event: np.ndarray,
                   pixels: np.ndarray | None = None, pixel_scale_arcsec: float | None = None,
                   target_pixel: tuple[float, float] | None = None, target_error_px: float = 0.0) -> CentroidShift:
    """Return the shift of the flux-weighted centroid between in-event and out-of-event frames.

    The centroids are those of the mean in-event image and of the mean out-of-event image (NaN pixels
    ignored). The error is **empirical**, from the out-of-event frames (no error propagation and no
    bootstrap): per axis, the scatter (1.4826 x MAD, robust to a few outlying frames) of the mean
    centroid of every run of ``k`` consecutive out-of-event frames is what noise and pointing do to the
    mean of ``k`` in-event frames, pointing drift correlated over the event's length included (K2's
    roll moves a star by a tenth of a pixel in hours); the mean of all ``m`` out-of-event frames adds
    ``s / sqrt(m)``, ``s`` the single-frame scatter. For independent frames this is
    ``s * sqrt(1/k + 1/m)``, which is also the floor of the run scatter (an estimate from few
    independent runs scatters low by chance as often as high, and a low error would flag a target's
    event); with fewer than ``k + 2`` out-of-event frames it is the whole estimate. The position of the target (WCS, catalog) is taken as exact.

    Parameters
    ----------
    images : numpy.ndarray
        ``(n, rows, cols)``, background subtracted.
    in_event, out_of_event : numpy.ndarray
        Boolean ``(n,)`` selections of the frames (disjoint).
    pixels : numpy.ndarray, optional
        Boolean ``(rows, cols)``: pixels weighed (all when omitted; a mask around the target and its
        neighbours, such as Kepler's centroid pixels, lowers the noise).
    pixel_scale_arcsec : float, optional
        Pixel size on the sky; gives the shift and offset in arcsec.
    target_pixel : tuple of float, optional
        ``(row, col)`` of the target, 0-based; gives the source offset.
    target_error_px : float
        Uncertainty of ``target_pixel`` per axis (pixels), added in quadrature to the offset's error.

    Returns
    -------
    CentroidShift
        The shift, its error and significance, and the offset of the changing source from the target.

    Raises
    ------
    DataError
        If there is no in-event frame, fewer than 3 out-of-event frames (no scatter to measure),
        or the two selections overlap.
    """
    in_event, out_of_event = np.asarray(in_event, dtype=bool), np.asarray(out_of_event, dtype=bool)
    k, m = int(in_event.sum()), int(out_of_event.sum())
    if k < 1 or m < 3:
        raise DataError(f"centroid shift needs an in-event frame and 3 out-of-event frames (has {k} and {m})")
    if (in_event & out_of_event).any():
        raise DataError("centroid shift: in-event and out-of-event frames overlap")
    images = np.asarray(images)
    mean_in = _nanmean(np.asarray(images[in_event], dtype=np.float64))
    outside = np.asarray(images[out_of_event], dtype=np.float64)
    mean_out = _nanmean(outside)
    row_in, col_in = flux_weighted_centroid(mean_in, pixels)
    row_out, col_out = flux_weighted_centroid(mean_out, pixels)
    rows, cols = flux_weighted_centroid(outside, pixels)
    err_row, err_col = _mean_error(rows, k), _mean_error(cols, k)
    d_row, d_col = float(row_in - row_out), float(col_in - col_out)
    length, error, significance = _length(d_row, d_col, err_row, err_col)
    scale = float(pixel_scale_arcsec) if pixel_scale_arcsec else None
    shift = CentroidShift(d_row=d_row, d_col=d_col, err_row=err_row, err_col=err_col, pixels=length, error=error,
                          significance=significance, arcsec=length * scale if scale else None,
                          arcsec_error=error * scale if scale else None, in_frames=k, out_frames=m)
    chosen = np.isfinite(mean_in) & np.isfinite(mean_out) & (True if pixels is None else np.asarray(pixels, bool))
    flux_in, flux_out = float(mean_in[chosen].sum()), float(mean_out[chosen].sum())
    if target_pixel is None or flux_in == flux_out:
        return shift
    # c_in = (F_out c_out + dF c_src) / F_in, so the changing source sits at c_out + (c_in - c_out) F_in / dF.
    lever = flux_in / (flux_in - flux_out)
    source_row, source_col = float(row_out) + d_row * lever, float(col_out) + d_col * lever
    offset, offset_error, offset_significance = _length(
        source_row - target_pixel[0], source_col - target_pixel[1],
        math.hypot(err_row * lever, target_error_px), math.hypot(err_col * lever, target_error_px))
    return replace(shift, source_row=source_row, source_col=source_col, offset_pixels=offset,
                   offset_error=offset_error, offset_significance=offset_significance,
                   offset_arcsec=offset * scale if scale else None,
                   offset_arcsec_error=offset_error * scale if scale else None)


def _length(d_row: float, d_col: float, err_row: float, err_col: float) -> tuple[float, float, float]:
    """Return a vector's length, the error of the length (along the vector) and the chi of the vector."""
    length = math.hypot(d_row, d_col)
    # Along the vector; where there is no vector, the mean axis error.
    error = (math.hypot(d_row * err_row, d_col * err_col) / length if length > 0
             else math.sqrt((err_row ** 2 + err_col ** 2) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = float(np.hypot(np.divide(d_row, err_row), np.divide(d_col, err_col)))
    return length, error, significance


def event_frames(times: np.ndarray, good: np.ndarray, start: float, end: float,
                 baseline: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the in-event frames and the out-of-event frames around them.

    Parameters
    ----------
    times : numpy.ndarray
        Time of each frame.
    good : numpy.ndarray
        Boolean: frames that may be used (quality, finite time).
    start, end : float
        The event's first and last time (inclusive).
    baseline : float
        Out-of-event frames are the good ones within ``baseline`` before ``start`` or after ``end``
        (near the event, so that slow pointing drifts stay out of the shift).

    Returns
    -------
    in_event, out_of_event : numpy.ndarray
        Boolean selections.
    """
    times = np.asarray(times, dtype=np.float64)
    good = np.asarray(good, dtype=bool) & np.isfinite(times)
    inside = good & (times >= start) & (times <= end)
    near = good & (times >= start - baseline) & (times <= end + baseline)
    return inside, near & ~inside


def event_centroid_shift(cube: PixelCube, start: float, end: float, bad_bits: int,
                         min_baseline_days: float = MIN_BASELINE_DAYS,
                         target_error_arcsec: float = TARGET_ERROR_ARCSEC) -> CentroidShift | None:
    """Return the centroid shift of an event in a pixel cube, or None when the cube cannot measure it.

    The out-of-event frames are the good frames within ``max(min_baseline_days, BASELINE_DURATIONS x
    duration)`` on either side of the event; every pixel is weighed; the offset is measured from the
    cube's target pixel, known to ``target_error_arcsec`` when the pixel scale is known.

    Parameters
    ----------
    cube : PixelCube
        The images of the lightcurve the event was found in.
    start, end : float
        First and last time of the event (the cube's time scale).
    bad_bits : int
        Quality bits of frames not to use.
    min_baseline_days : float
        Shortest stretch on each side (days): :data:`MIN_BASELINE_DAYS` for the minutes-apart frames of
        a target pixel file; weeks for ZTF, whose exposures of a field are days apart.
    target_error_arcsec : float
        Uncertainty of the target's position in the images, per axis (:data:`TARGET_ERROR_ARCSEC` for
        the missions' WCS; ZTF's images are tied to Gaia to a tenth of an arcsec).

    Returns
    -------
    CentroidShift or None
        None when the event has no good frame or fewer than 3 good frames around it.
    """
    baseline = max(min_baseline_days, BASELINE_DURATIONS * (end - start))
    inside, outside = event_frames(cube.times, cube.good_cadences(bad_bits), start, end, baseline)
    if inside.sum() < 1 or outside.sum() < 3:
        return None
    scale = cube.pixel_scale_arcsec
    return centroid_shift(cube.flux, inside, outside, pixel_scale_arcsec=scale, target_pixel=cube.target_pixel,
                          target_error_px=target_error_arcsec / scale if scale else 0.0)


def _nanmean(frames: np.ndarray) -> np.ndarray:
    count = np.isfinite(frames).sum(axis=0)
    total = np.where(np.isfinite(frames), frames, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _mean_error(centroids: np.ndarray, k: int) -> float:
    """Error of the difference between a mean of ``k`` frames and the mean of all ``centroids`` (time order)."""
    centroids = centroids[np.isfinite(centroids)]
    single = _robust_std(centroids)
    runs = (np.convolve(centroids, np.full(k, 1.0 / k), mode="valid") if centroids.size >= k + 2
            else np.zeros(0))
    independent = single / math.sqrt(k)
    # The larger of the two: runs of few independent blocks scatter by chance below the independent value.
    run = max(_robust_std(runs), independent) if runs.size >= 3 else independent
    return math.sqrt(run ** 2 + single ** 2 / max(centroids.size, 1))


def _robust_std(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    if values.size < 3:
        return float("nan")
    return float(_MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))
