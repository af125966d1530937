"""Stamps scaled for display: a percentile stretch for the images, a range symmetric around 0 for their difference."""

from __future__ import annotations

import numpy as np

__all__ = ["image_range", "difference_range", "to_rgb", "IMAGE_COLOURS", "DIFFERENCE_COLOURS"]

#: Colour stops (value 0..1 -> RGB) of the reference and peak stamps: black, purple, orange, pale yellow.
IMAGE_COLOURS = ((0.0, (0, 0, 4)), (0.35, (120, 28, 109)), (0.7, (237, 105, 37)), (1.0, (252, 255, 164)))
#: Colour stops of the difference: blue where the flux fell, black where it did not change, orange where it rose.
DIFFERENCE_COLOURS = ((0.0, (80, 160, 255)), (0.5, (0, 0, 0)), (1.0, (255, 170, 40)))
#: Shown for pixels without a value.
NO_VALUE = (60, 60, 60)


def image_range(*images: np.ndarray, low: float = 1.0, high: float = 99.5) -> tuple[float, float]:
    """Return a display range of one or more images: the ``low`` and ``high`` percentiles of all their pixels.

    Parameters
    ----------
    *images : numpy.ndarray
        Images to show on one scale.
    low, high : float
        Percentiles (NaN ignored).

    Returns
    -------
    tuple of float
        ``(lo, hi)`` with ``hi > lo`` (a flat image gets a range of one unit around its value).
    """
    values = np.concatenate([np.ravel(i) for i in images]).astype(float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, [low, high]))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def difference_range(difference: np.ndarray, high: float = 99.5) -> tuple[float, float]:
    """Return a range symmetric around 0 for a difference image: ``±`` the ``high`` percentile of ``|difference|``.

    Parameters
    ----------
    difference : numpy.ndarray
        Peak minus reference.
    high : float
        Percentile of the absolute values (NaN ignored).

    Returns
    -------
    tuple of float
        ``(-a, a)``, ``a > 0``: zero sits in the middle of the colour scale whatever the signs.
    """
    values = np.abs(np.ravel(difference).astype(float))
    values = values[np.isfinite(values)]
    a = float(np.percentile(values, high)) if values.size else 0.0
    return (-a, a) if a > 0 else (-1.0, 1.0)


def to_rgb(image: np.ndarray, value_range: tuple[float, float], stops=IMAGE_COLOURS) -> np.ndarray:
    """Return the image as RGB bytes: clipped to ``value_range``, then coloured by linear interpolation between stops.

    Parameters
    ----------
    image : numpy.ndarray
        ``(rows, cols)``.
    value_range : tuple of float
        ``(lo, hi)``: ``lo`` gets the first stop's colour, ``hi`` the last's.
    stops : sequence of (float, tuple)
        Positions 0..1 (increasing) and their RGB colours.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols, 3)`` uint8; pixels without a value are grey.
    """
    image = np.asarray(image, dtype=float)
    lo, hi = value_range
    t = np.clip((np.nan_to_num(image, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    positions = np.array([p for p, _ in stops])
    colours = np.array([c for _, c in stops], dtype=float)
    rgb = np.stack([np.interp(t, positions, colours[:, k]) for k in range(3)], axis=-1)
    rgb[~np.isfinite(image)] = NO_VALUE
    return np.round(rgb).astype(np.uint8)
