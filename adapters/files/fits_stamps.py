"""Image stamps of detections as FITS cutouts with their WCS: one file per detection.

Each file has a PRIMARY header of the export's provenance and the detection (no data), then three image
extensions ``REFERENCE``, ``PEAK`` and ``DIFFERENCE`` (float32, ``(rows, cols)``), each carrying the
images' celestial WCS so that ``astropy.wcs.WCS(hdu.header)`` places every pixel on the sky (DS9, Aladin
and astropy read them as they are). Keywords naming the detection, in every header:

``OBJECT`` source name, ``DETID`` detection id, ``DETKIND`` its kind, ``DETPEAK`` its peak time,
``PEAKTIME`` time of the frame shown as the peak, ``TIMESYS`` their time scale (``MJD``; ``TDB`` for
Kepler, K2 and TESS), ``REFFRAMS`` frames in the reference median, ``TARGROW``/``TARGCOL`` the
target's 0-based pixel (when known), ``PIXSCALE`` arcsec per pixel (when known), ``FILTER``,
``SEASON``, ``SNR``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np

from virtualobserver.adapters.files.atomic import atomic_folder, atomic_path
from virtualobserver.adapters.files.tables import primary_hdu
from virtualobserver.domain.naming import safe_key

__all__ = ["write_stamps_fits", "STAMP_EXTENSIONS"]

#: Extension names, in the order of the file.
STAMP_EXTENSIONS = ("REFERENCE", "PEAK", "DIFFERENCE")


def write_stamps_fits(stamped: Iterable, folder: str | Path, meta: dict) -> list[Path]:
    """Write each detection's stamps to its own FITS file in ``folder`` (the folder appears whole).

    Parameters
    ----------
    stamped : iterable of StampedDetection
        From :meth:`services.products.Products.stamps`.
    folder : str or pathlib.Path
        Output folder (created if needed; files of an earlier export with the same names are replaced).
    meta : dict
        Provenance keywords for every primary header (``Products.provenance``).

    Returns
    -------
    list of pathlib.Path
        The files, named ``<source>_det<id>_stamps.fits`` (the source part made safe).
    """
    from astropy.io import fits

    folder = Path(folder)
    written = []
    # The files gather in a staging folder and move into place together, as lightcurve exports do.
    with atomic_folder(folder) as staging:
        for item in stamped:
            keywords = _detection_keywords(item)
            hdus = [primary_hdu({**meta, **keywords})]
            images = (item.stamps.reference, item.stamps.peak, item.stamps.difference)
            for name, image in zip(STAMP_EXTENSIONS, images):
                header = fits.Header()
                header["EXTNAME"] = name
                for key, value in (item.stamps.wcs_header or {}).items():
                    if value is not None:
                        header[key] = value
                for key, value in keywords.items():
                    header[key] = value
                hdus.append(fits.ImageHDU(np.asarray(image, dtype=np.float32), header=header))
            name = f"{safe_key(item.source)}_det{item.detection.id}_stamps.fits"
            with atomic_path(staging / name) as tmp:
                fits.HDUList(hdus).writeto(tmp, overwrite=True)
            written.append(folder / name)
    return written


def _detection_keywords(item) -> dict:
    stamps, detection = item.stamps, item.detection
    keywords = {"OBJECT": item.source, "DETID": int(detection.id), "DETKIND": detection.kind,
                "DETPEAK": float(detection.peak_mjd), "PEAKTIME": float(stamps.peak_time),
                "TIMESYS": (stamps.time_scale or "utc").upper(), "TIMEUNIT": "d",
                "REFFRAMS": int(stamps.reference_frames), "FILTER": str(item.filter or ""),
                "SEASON": int(item.season) if item.season is not None else -1, "SNR": float(detection.snr)}
    if stamps.target_pixel is not None:
        keywords["TARGROW"], keywords["TARGCOL"] = (float(v) for v in stamps.target_pixel)
    if stamps.pixel_scale_arcsec is not None and math.isfinite(stamps.pixel_scale_arcsec):
        keywords["PIXSCALE"] = float(stamps.pixel_scale_arcsec)
    return keywords
