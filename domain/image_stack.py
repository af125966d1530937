"""Stacks of images that were not taken on one pixel grid (ZTF cutouts of different exposures).

Each image is resampled (bilinear) so that one sky position, given in its own pixels, lands on the
centre of a common grid; a stack of such frames is a :class:`~domain.pixels.PixelCube` whose target
sits at the centre, whatever the pointing of each exposure was.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from virtualobserver.domain.errors import DataError

__all__ = ["aligned_stack", "grid_centre"]


def grid_centre(shape: tuple[int, int]) -> tuple[float, float]:
    """Return the ``(row, col)`` of the centre of a grid (a pixel centre for odd sides, a corner for even).

    Examples
    --------
    >>> grid_centre((5, 4))
    (2.0, 1.5)
    """
    return (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0


def aligned_stack(images: Sequence[np.ndarray], positions: Sequence[tuple[float, float]],
                  shape: tuple[int, int]) -> np.ndarray:
    """Return the images resampled so that each one's ``position`` lands on the centre of a common grid.

    Output pixel ``(i, j)`` of frame ``k`` is image ``k`` at ``positions[k] + (i, j) - grid_centre(shape)``,
    interpolated bilinearly between the four nearest pixels (a shift by whole pixels copies values
    exactly); NaN where one of them is outside the image or NaN. Bilinear interpolation keeps the
    flux-weighted centroid of a smooth image where it was (it smooths the noise a little).

    Parameters
    ----------
    images : sequence of numpy.ndarray
        2-D images, any shapes.
    positions : sequence of (float, float)
        ``(row, col)`` of the common sky position in each image, 0-based pixel centres at integers.
    shape : tuple of int
        ``(rows, cols)`` of the common grid.

    Returns
    -------
    numpy.ndarray
        ``(len(images), rows, cols)``, float64.

    Raises
    ------
    DataError
        If images and positions differ in number, or an image is not 2-D.

    Examples
    --------
    >>> image = np.arange(16.0).reshape(4, 4)
    >>> aligned_stack([image], [(2.0, 1.0)], (3, 3))[0].tolist()
    [[4.0, 5.0, 6.0], [8.0, 9.0, 10.0], [12.0, 13.0, 14.0]]
    """
    if len(images) != len(positions):
        raise DataError(f"image stack: {len(images)} images for {len(positions)} positions")
    rows, cols = np.indices(shape, dtype=np.float64)
    centre = grid_centre(shape)
    stack = np.full((len(images), *shape), np.nan)
    for k, (image, (row, col)) in enumerate(zip(images, positions)):
        image = np.asarray(image, dtype=np.float64)
        if image.ndim != 2:
            raise DataError(f"image stack: image {k} has shape {image.shape}, expected 2-D")
        y, x = rows + (row - centre[0]), cols + (col - centre[1])
        y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
        fy, fx = y - y0, x - x0
        # An exact whole-pixel position needs only the lower neighbour: do not ask for one beyond the edge.
        y1, x1 = np.where(fy > 0, y0 + 1, y0), np.where(fx > 0, x0 + 1, x0)
        inside = (y0 >= 0) & (x0 >= 0) & (y1 < image.shape[0]) & (x1 < image.shape[1])
        a, b = np.clip(y0, 0, image.shape[0] - 1), np.clip(x0, 0, image.shape[1] - 1)
        c, d = np.clip(y1, 0, image.shape[0] - 1), np.clip(x1, 0, image.shape[1] - 1)
        value = ((1 - fy) * (1 - fx) * image[a, b] + (1 - fy) * fx * image[a, d]
                 + fy * (1 - fx) * image[c, b] + fy * fx * image[c, d])
        stack[k] = np.where(inside, value, np.nan)
    return stack
