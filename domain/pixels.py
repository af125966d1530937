"""Pixel raw data: a stack of calibrated images of one target (a target pixel file or an image cutout)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from virtualobserver.domain.errors import DataError

__all__ = ["PixelCube"]


@dataclass(eq=False)  # holds arrays: compared by identity
class PixelCube:
    """Calibrated images of one target, one per cadence, with the pixel geometry around the target.

    The arrays may be lazy (memory maps of a FITS file, datasets of an HDF5 file): nothing here reads
    more than the frames a computation asks for. No sky coordinates are needed: the target's position
    is given in pixels (the reader converts it with the file's WCS). The WCS itself travels as plain
    FITS keywords (``wcs_header``), for exports of the images; the domain never interprets it.

    Attributes
    ----------
    times : numpy.ndarray
        Time of each cadence, shape ``(n,)`` (MJD on the file's time scale; NaN where the file has none).
    flux : numpy.ndarray
        Flux images, shape ``(n, rows, cols)`` (e-/s for Kepler, K2 and TESS; background subtracted).
    flux_err : numpy.ndarray
        1-sigma errors of ``flux``, same shape.
    quality : numpy.ndarray
        Quality bits per cadence, shape ``(n,)``.
    background : numpy.ndarray or None
        Background that was subtracted from ``flux``, same shape, when the file has one.
    aperture : numpy.ndarray or None
        The pipeline's photometric aperture, boolean ``(rows, cols)``, or None when the file has none
        (TESScut and ZTF cutouts).
    target_pixel : tuple of float or None
        The target's position as ``(row, col)`` in 0-based pixel coordinates, pixel centres at integers.
    pixel_scale_arcsec : float or None
        Size of one pixel on the sky (3.98 arcsec for Kepler and K2, 21 for TESS, 1.01 for ZTF).
    wcs_header : dict or None
        The images' celestial WCS as FITS keyword -> value (``CTYPE1``, ``CRPIX1``, ``CRVAL1``, ``PC1_1``,
        ...; pixel ``(row, col)`` is FITS pixel ``(col + 1, row + 1)``), when the file has one.
    """

    times: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    background: np.ndarray | None = None
    aperture: np.ndarray | None = None
    target_pixel: tuple[float, float] | None = None
    pixel_scale_arcsec: float | None = None
    wcs_header: dict | None = None

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        self.quality = np.asarray(self.quality)
        n = self.times.shape[0]
        if np.ndim(self.flux) != 3 or self.flux.shape[0] != n:
            raise DataError(f"pixel cube: flux has shape {np.shape(self.flux)}, expected ({n}, rows, cols)")
        for name in ("flux_err", "background"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != self.flux.shape:
                raise DataError(f"pixel cube: {name} has shape {np.shape(value)}, flux {self.flux.shape}")
        if self.quality.shape != (n,):
            raise DataError(f"pixel cube: quality has shape {self.quality.shape}, expected ({n},)")
        if self.aperture is not None:
            self.aperture = np.asarray(self.aperture, dtype=bool)
            if self.aperture.shape != self.image_shape:
                raise DataError(f"pixel cube: aperture has shape {self.aperture.shape}, images {self.image_shape}")

    @property
    def num_cadences(self) -> int:
        """Number of cadences (images)."""
        return int(self.times.shape[0])

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of one image."""
        return int(self.flux.shape[1]), int(self.flux.shape[2])

    def good_cadences(self, quality_mask: int) -> np.ndarray:
        """Return which cadences have a time and none of the ``quality_mask`` bits.

        Parameters
        ----------
        quality_mask : int
            Quality bits that make a cadence bad (a mission preset).

        Returns
        -------
        numpy.ndarray
            Boolean, shape ``(n,)``.
        """
        return np.isfinite(self.times) & ((self.quality.astype(np.int64) & int(quality_mask)) == 0)

    def median_image(self, cadences: np.ndarray | None = None) -> np.ndarray:
        """Return the per-pixel median over some cadences (NaN pixels ignored; NaN where a pixel has no value).

        Parameters
        ----------
        cadences : numpy.ndarray, optional
            Boolean selection or indices of the cadences; all when omitted.

        Returns
        -------
        numpy.ndarray
            ``(rows, cols)`` image.
        """
        frames = np.asarray(self.flux if cadences is None else self.flux[cadences], dtype=np.float64)
        finite = np.isfinite(frames).any(axis=0)
        # nanmedian of an all-NaN pixel warns; those pixels are NaN either way.
        filled = np.where(finite, 0.0, np.nan)
        if frames.shape[0]:
            filled[finite] = np.nanmedian(frames[:, finite], axis=0)
        return filled
