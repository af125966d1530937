"""Aperture photometry of pixel cubes: the sum over an aperture, and the aperture when the file has none.

The definitions follow lightkurve 2.6 (``TargetPixelFile.to_lightcurve`` and ``create_threshold_mask``) so
that a lightcurve made here from a mission's pixels is the lightcurve an astronomer gets there.
"""

from __future__ import annotations

import warnings

import numpy as np

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube

__all__ = ["DEFAULT_CIRCLE_RADIUS_PX", "DEFAULT_THRESHOLD", "aperture_photometry", "background_pixels",
           "choose_aperture", "circular_aperture", "needs_background", "subtract_background", "threshold_aperture"]

#: Threshold of :func:`threshold_aperture`, in robust standard deviations of the median image (lightkurve's 3).
DEFAULT_THRESHOLD = 3.0
#: Radius (pixels) of the circular aperture used when neither the file nor the image gives one.
DEFAULT_CIRCLE_RADIUS_PX = 1.5
# Median absolute deviation of a normal distribution, in standard deviations (as lightkurve's 1.4826).
_MAD_TO_SIGMA = 1.4826
# Standard error of the median of m normal values, in units of sigma / sqrt(m) (sqrt(pi / 2)).
_MEDIAN_ERROR = 1.2533141373155003
#: Fewest background pixels a background estimate is made from.
MIN_BACKGROUND_PIXELS = 4


def aperture_photometry(flux: np.ndarray, flux_err: np.ndarray, aperture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the flux summed over an aperture in every image, and its error.

    As lightkurve's ``to_lightcurve(aperture_mask=...)`` with ``flux_method="sum"``: NaN pixels are
    left out of the sum; a cadence whose aperture pixels are all NaN, or whose whole image is exactly
    zero (a cadence the pipeline did not calibrate), has a NaN flux. The error is the square root of
    the sum of the squared pixel errors (pixel errors independent), NaN where they all are.

    Parameters
    ----------
    flux, flux_err : numpy.ndarray
        Images and their errors, shape ``(n, rows, cols)``.
    aperture : numpy.ndarray
        Boolean ``(rows, cols)``: the pixels summed.

    Returns
    -------
    flux, flux_err : numpy.ndarray
        Shape ``(n,)``, float64.

    Examples
    --------
    >>> images = np.array([[[1.0, 2.0], [np.nan, 4.0]]])
    >>> errors = np.array([[[3.0, 4.0], [1.0, 12.0]]])
    >>> aperture_photometry(images, errors, np.array([[True, True], [True, False]]))
    (array([3.]), array([5.09901951]))
    """
    aperture = np.asarray(aperture, dtype=bool)
    if not aperture.any():
        raise DataError("aperture photometry: the aperture has no pixel")
    pixels = np.asarray(flux)[:, aperture].astype(np.float64)
    errors = np.asarray(flux_err)[:, aperture].astype(np.float64)
    total = np.nansum(pixels, axis=1)
    total[~np.isfinite(pixels).any(axis=1)] = np.nan
    total[np.all(np.asarray(flux) == 0, axis=(1, 2))] = np.nan
    with warnings.catch_warnings():  # negative variances (never in mission files) would only give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        error = np.sqrt(np.nansum(errors ** 2, axis=1))
    error[~np.isfinite(errors).any(axis=1)] = np.nan
    return total, error


def threshold_aperture(image: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                       reference_pixel: tuple[float, float] | None = None) -> np.ndarray:
    """Return the pixels brighter than a threshold, as lightkurve's ``create_threshold_mask``.

    A pixel is in when its value reaches ``median + threshold * 1.4826 * MAD`` of the image's finite
    pixels (NaN pixels count as 0). With a reference pixel, only the 4-connected region holding the
    selected pixel nearest to it is kept (the star at the target, not a brighter neighbour).

    Parameters
    ----------
    image : numpy.ndarray
        ``(rows, cols)``, e.g. the median image of the good cadences.
    threshold : float
        In robust standard deviations above the median.
    reference_pixel : tuple of float, optional
        ``(row, col)`` of the target, 0-based.

    Returns
    -------
    numpy.ndarray
        Boolean ``(rows, cols)``; empty when no pixel reaches the threshold.
    """
    image = np.asarray(image, dtype=np.float64)
    values = image[np.isfinite(image)]
    if values.size == 0:
        return np.zeros(image.shape, dtype=bool)
    centre = np.median(values)
    cut = _MAD_TO_SIGMA * np.median(np.abs(values - centre)) * threshold + centre
    mask = np.nan_to_num(image) >= cut
    if reference_pixel is None or not mask.any():
        return mask
    rows, cols = np.nonzero(mask)
    nearest = int(np.argmin(np.hypot(rows - reference_pixel[0], cols - reference_pixel[1])))
    return _connected_region(mask, (int(rows[nearest]), int(cols[nearest])))


def _connected_region(mask: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    # Flood fill over edge neighbours (scipy.ndimage.label's default structure); stamps are small.
    region = np.zeros(mask.shape, dtype=bool)
    stack = [start]
    while stack:
        r, c = stack.pop()
        if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]) or region[r, c] or not mask[r, c]:
            continue
        region[r, c] = True
        stack += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
    return region


def circular_aperture(shape: tuple[int, int], centre: tuple[float, float],
                      radius: float = DEFAULT_CIRCLE_RADIUS_PX) -> np.ndarray:
    """Return the pixels whose centre lies within ``radius`` of ``centre``.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)``.
    centre : tuple of float
        ``(row, col)``, 0-based, pixel centres at integers.
    radius : float
        In pixels.

    Returns
    -------
    numpy.ndarray
        Boolean ``(rows, cols)``.

    Examples
    --------
    >>> circular_aperture((3, 3), (1.0, 1.0), 1.0).astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    rows, cols = np.indices(shape)
    return np.hypot(rows - centre[0], cols - centre[1]) <= radius


def choose_aperture(cube: PixelCube, quality_mask: int, threshold: float = DEFAULT_THRESHOLD,
                    radius: float = DEFAULT_CIRCLE_RADIUS_PX) -> tuple[np.ndarray, str]:
    """Return the aperture of a cube's lightcurve and how it was chosen.

    The pipeline's aperture when the file has one; otherwise the :func:`threshold_aperture` of the
    median image of the good cadences around the target's pixel (the stamp's centre when the target's
    position is unknown); when no pixel reaches the threshold or all do (a faint target, a flat image), a
    :func:`circular_aperture` at the target's position.

    Parameters
    ----------
    cube : PixelCube
        The images.
    quality_mask : int
        Quality bits of cadences left out of the median image.
    threshold : float
        Of the threshold aperture.
    radius : float
        Of the circular aperture (pixels).

    Returns
    -------
    aperture : numpy.ndarray
        Boolean ``(rows, cols)``.
    kind : str
        ``"pipeline"``, ``"threshold"`` or ``"circle"``.
    """
    if cube.aperture is not None and cube.aperture.any():
        return cube.aperture, "pipeline"
    rows, cols = cube.image_shape
    target = cube.target_pixel if cube.target_pixel is not None else ((rows - 1) / 2.0, (cols - 1) / 2.0)
    image = cube.median_image(cube.good_cadences(quality_mask))
    mask = threshold_aperture(image, threshold, target)
    # Every pixel at the threshold means no contrast (a flat image: MAD 0), not a star filling the stamp.
    if mask.any() and not mask[np.isfinite(image)].all():
        return mask, "threshold"
    return circular_aperture(cube.image_shape, target, radius), "circle"


def needs_background(cube: PixelCube) -> bool:
    """Return whether a cube's images still hold the sky background.

    Mission target pixel files are background subtracted and carry the subtracted background in
    ``FLUX_BKG``; TESScut cutouts of the full-frame images are not, and their ``FLUX_BKG`` is zero
    (astrocut keeps the column for the layout only), so the caller must estimate the background.

    Parameters
    ----------
    cube : PixelCube
        The images.

    Returns
    -------
    bool
        True when the cube has no background images or they are all zero.
    """
    return cube.background is None or not np.any(np.asarray(cube.background))


def background_pixels(image: np.ndarray, aperture: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Return the pixels of a stamp that sample the sky: finite, outside the aperture and away from stars.

    A pixel is sky unless it, or one of its four neighbours, reaches the :func:`threshold_aperture`
    of the median image (every star of the stamp, not only the target). Only what stands out is left
    out: choosing sky pixels as the *fainter* ones of the median image (e.g. below its median) would
    pick pixels whose noise happened to be low in the very frames the background is measured in, and
    bias the level low (by 0.8 sigma / sqrt(frames) per pixel: on 120 frames of unit noise, 3 e-/s on
    a 37-pixel aperture).

    Parameters
    ----------
    image : numpy.ndarray
        ``(rows, cols)`` median image of the good cadences.
    aperture : numpy.ndarray
        Boolean ``(rows, cols)``: pixels never used as sky.
    threshold : float
        Of the star mask, in robust standard deviations above the median.

    Returns
    -------
    numpy.ndarray
        Boolean ``(rows, cols)``.
    """
    image = np.asarray(image, dtype=np.float64)
    stars = threshold_aperture(image, threshold)
    near = stars.copy()
    near[1:] |= stars[:-1]
    near[:-1] |= stars[1:]
    near[:, 1:] |= stars[:, :-1]
    near[:, :-1] |= stars[:, 1:]
    return np.isfinite(image) & ~np.asarray(aperture, dtype=bool) & ~near


def subtract_background(cube: PixelCube, aperture: np.ndarray, flux: np.ndarray, flux_err: np.ndarray,
                        quality_mask: int) -> tuple[np.ndarray, np.ndarray]:
    """Return aperture fluxes with the sky background removed, and their errors.

    Per cadence the sky level per pixel is the median of the :func:`background_pixels` of that image;
    the aperture's flux loses that level times its number of pixels. The level's error, ``sqrt(pi/2)
    x 1.4826 MAD / sqrt(m)`` of the ``m`` sky pixels, times the number of aperture pixels, is added to
    the flux error in quadrature.

    Parameters
    ----------
    cube : PixelCube
        The images (not background subtracted: :func:`needs_background`).
    aperture : numpy.ndarray
        Boolean ``(rows, cols)``: the pixels summed into ``flux``.
    flux, flux_err : numpy.ndarray
        Aperture sums and their errors, shape ``(n,)`` (:func:`aperture_photometry`).
    quality_mask : int
        Quality bits of cadences left out of the median image the sky pixels are chosen from.

    Returns
    -------
    flux, flux_err : numpy.ndarray
        Background-subtracted, shape ``(n,)``.

    Raises
    ------
    DataError
        If the stamp has fewer than :data:`MIN_BACKGROUND_PIXELS` sky pixels (an aperture filling the
        stamp: ask for a larger cutout).
    """
    aperture = np.asarray(aperture, dtype=bool)
    sky = background_pixels(cube.median_image(cube.good_cadences(quality_mask)), aperture)
    m = int(sky.sum())
    if m < MIN_BACKGROUND_PIXELS:
        raise DataError(f"background: only {m} sky pixels outside the aperture in a {cube.image_shape} stamp "
                        f"(at least {MIN_BACKGROUND_PIXELS}; ask for a larger cutout)")
    values = np.asarray(cube.flux)[:, sky].astype(np.float64)
    with warnings.catch_warnings():  # an image whose sky pixels are all NaN gives NaN, as it should
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(values, axis=1)
        scatter = _MAD_TO_SIGMA * np.nanmedian(np.abs(values - level[:, None]), axis=1)
    counted = np.isfinite(values).sum(axis=1)
    level_err = _MEDIAN_ERROR * scatter / np.sqrt(np.maximum(counted, 1))
    n_ap = int(aperture.sum())
    return flux - n_ap * level, np.hypot(flux_err, n_ap * level_err)
