"""Target pixel files inside a mission client's raw data: their images on the way in, their photometry on the way out.

A target pixel file becomes raw data as a lightcurve file does (one row per cadence, the same raw
columns, with NaN SAP and PDCSAP fluxes), plus its images under :attr:`RawData.images` and an entry
``pixels`` in its ``meta["files"]`` entry that names them. Reducing it sums the images over the
pipeline's aperture (or one chosen from the image: :func:`domain.photometry.choose_aperture`).
"""

from __future__ import annotations

import numpy as np

from virtualobserver.adapters.surveys.pixel_format import pixel_cube
from virtualobserver.adapters.surveys.spoc_format import MissionLightcurveFile, json_number
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.photometry import aperture_photometry, choose_aperture, needs_background, subtract_background
from virtualobserver.domain.rawdata import RawData

__all__ = ["pixel_entry", "pixel_images", "pixel_photometry"]


def pixel_images(lc: MissionLightcurveFile, aperture_name: str) -> tuple[dict[str, np.ndarray], dict]:
    """Return the images of a target pixel file to keep as raw data, and the entry that names them.

    Parameters
    ----------
    lc : MissionLightcurveFile
        A file read by :func:`~adapters.surveys.pixel_format.read_pixel_file` (with ``pixels``).
    aperture_name : str
        Name of its APERTURE image (``aperture_c18``); the images are named alike
        (``flux_c18``, ``flux_err_c18``, ``flux_bkg_c18``).

    Returns
    -------
    images : dict of str to numpy.ndarray
        Native-endian float32 copies of the memory-mapped images (read here, once).
    entry : dict
        The ``pixels`` entry: image names, the target's pixel, the pixel scale and the WCS cards.
    """
    cube = lc.pixels
    suffix = aperture_name[len("aperture"):]
    names = {"flux": f"flux{suffix}", "flux_err": f"flux_err{suffix}"}
    images = {names["flux"]: np.asarray(cube.flux, dtype=np.float32),
              names["flux_err"]: np.asarray(cube.flux_err, dtype=np.float32)}
    # TESScut's FLUX_BKG is all zero (the images keep the sky): not worth storing, and its absence says so.
    if cube.background is not None and np.any(np.asarray(cube.background)):
        names["background"] = f"flux_bkg{suffix}"
        images[names["background"]] = np.asarray(cube.background, dtype=np.float32)
    target = cube.target_pixel
    entry = {**names, "aperture": aperture_name if lc.aperture is not None else None,
             "target_pixel": [float(v) for v in target] if target is not None else None,
             "pixel_scale_arcsec": json_number(cube.pixel_scale_arcsec), "shape": list(cube.image_shape),
             "wcs": lc.wcs or {}}
    return images, entry


def pixel_entry(entries: list[dict], what: str) -> dict | None:
    """Return the entry of the target pixel file among the file entries of one season and cadence, or None.

    Parameters
    ----------
    entries : list of dict
        Entries of ``meta["files"]`` of one season and cadence.
    what : str
        The source and season, for the message.

    Returns
    -------
    dict or None
        The target pixel file's entry.

    Raises
    ------
    DataError
        If the season and cadence also have another file: their rows could not be told apart.
    """
    pixels = [e for e in entries if e.get("pixels")]
    if pixels and len(entries) > 1:
        names = ", ".join(str(e.get("file", "?")) for e in entries)
        raise DataError(f"{what}: a target pixel file and other files of the same season and cadence ({names}); "
                        "ingest only one of them")
    return pixels[0] if pixels else None


def pixel_photometry(raw: RawData, rows: np.ndarray, entry: dict, quality_mask: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Return the aperture flux and error of a target pixel file's cadences.

    Images that still hold the sky (TESScut cutouts: :func:`domain.photometry.needs_background`) have
    it removed (:func:`domain.photometry.subtract_background`).

    Parameters
    ----------
    raw : RawData
        Loaded raw data holding the file's images.
    rows : numpy.ndarray
        Boolean selection of the file's rows in the raw columns.
    entry : dict
        The file's entry (:func:`pixel_entry`).
    quality_mask : int
        Quality bits left out of the median image when the aperture is chosen from it.

    Returns
    -------
    flux, flux_err : numpy.ndarray
        Per cadence (e-/s).
    aperture : str
        How the aperture was chosen: ``pipeline``, ``threshold`` or ``circle``.

    Raises
    ------
    DataError
        If the images and the rows disagree in number of cadences.
    """
    cube = pixel_cube(raw.images, entry, raw.columns["mjd_tdb"][rows], raw.columns["quality"][rows])
    if cube.num_cadences != int(np.count_nonzero(rows)):
        raise DataError(f"pixels of {entry.get('file')}: {cube.num_cadences} images for "
                        f"{int(np.count_nonzero(rows))} cadences")
    aperture, kind = choose_aperture(cube, quality_mask)
    flux, flux_err = aperture_photometry(cube.flux, cube.flux_err, aperture)
    if needs_background(cube):  # a TESScut cutout: the full-frame images keep the sky
        flux, flux_err = subtract_background(cube, aperture, flux, flux_err, quality_mask)
    return flux, flux_err, kind
