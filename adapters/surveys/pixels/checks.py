"""Checks of pixel files before they are stored: readable FITS, the expected HDUs, a celestial WCS."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning

from virtualobserver.adapters.surveys.fits_checksum import verify_fits_checksums
from virtualobserver.domain.errors import DataError

__all__ = ["CubeSummary", "ImageSummary", "check_cube", "check_image", "pixel_file_problem", "PIXEL_TABLES",
           "PIXEL_COLUMNS"]

#: Names of the per-cadence pixel table: Kepler/K2 target pixel files, TESS (SPOC and TESScut).
PIXEL_TABLES = ("TARGETTABLES", "PIXELS")
#: Columns a pixel table must have for photometry.
PIXEL_COLUMNS = ("TIME", "FLUX", "FLUX_ERR", "QUALITY")
#: Primary-header keys copied to the summary when present.
_PRIMARY_KEYS = ("OBJECT", "KEPLERID", "TICID", "QUARTER", "CAMPAIGN", "SECTOR", "CAMERA", "CCD", "RA_OBJ",
                 "DEC_OBJ", "TELESCOP")


@dataclass(frozen=True)
class CubeSummary:
    """What a checked target pixel file or TESScut cutout holds.

    Attributes
    ----------
    shape : tuple of int
        ``(cadences, rows, columns)`` of the FLUX column.
    table : str
        Name of the pixel table HDU.
    primary : dict
        The :data:`_PRIMARY_KEYS` present in the primary header (JSON-able values).
    """

    shape: tuple[int, int, int]
    table: str
    primary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSummary:
    """What a checked image cutout holds: its shape and the WCS of its first image HDU."""

    shape: tuple[int, int]
    wcs: WCS


def _celestial_wcs(header: fits.Header, where: str) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # archives' date keywords; harmless for pixels
        try:
            wcs = WCS(header)
        except Exception as exc:  # astropy raises many kinds for a broken WCS
            raise DataError(f"{where}: unreadable WCS ({exc})") from None
    if not wcs.has_celestial:
        raise DataError(f"{where}: no celestial WCS")
    return wcs.celestial


def _image_dim(tdim: str | None) -> tuple[int, ...]:
    # TDIM lists the fastest axis first: "(7,5)" is 7 columns by 5 rows, numpy shape (5, 7).
    if not tdim:
        return ()
    return tuple(int(n) for n in reversed(tdim.strip("() ").split(",")))


@contextlib.contextmanager
def _truncation_is_an_error():
    # astropy only warns when a file ends before its last HDU does; a cut download must fail instead.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*truncated.*", category=AstropyUserWarning)
        yield


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return None if value is None or isinstance(value, fits.card.Undefined) else str(value)


def check_cube(path: str | Path, *, checksums: bool = True) -> CubeSummary:
    """Check a target pixel file or TESScut cutout and return its summary.

    The file must be whole FITS (one that ends before its last HDU fails), have a pixel table (:data:`PIXEL_TABLES`) with the
    columns :data:`PIXEL_COLUMNS` and a 3-D FLUX, and an ``APERTURE`` image of
    the same rows and columns with a celestial WCS. HDUs that carry a
    CHECKSUM must sum to it.

    Parameters
    ----------
    path : str or pathlib.Path
        FITS file.
    checksums : bool
        Whether to verify the HDUs' CHECKSUM keywords (those present).

    Returns
    -------
    CubeSummary
        Shape, table name and primary-header identity.

    Raises
    ------
    DataError
        Naming the file and what is wrong.
    """
    path = Path(path)
    if checksums:
        verify_fits_checksums(path, require=False)
    try:
        # Memory-mapped and read from the headers: a 20-s TESS file is hundreds of MB, and its integrity is the
        # checksums' job; reading the last HDU's data finds a file that ends early.
        with _truncation_is_an_error(), fits.open(path, memmap=True) as hdul:
            names = [hdu.name for hdu in hdul]
            table = next((name for name in PIXEL_TABLES if name in names), None)
            if table is None or "APERTURE" not in names:
                raise DataError(f"{path}: not a pixel file (HDUs {names}; expected a pixel table "
                                f"{' or '.join(PIXEL_TABLES)} and APERTURE)")
            columns = hdul[table].columns.names
            missing = [c for c in PIXEL_COLUMNS if c not in columns]
            if missing:
                raise DataError(f"{path}: {table} lacks the columns {missing}")
            shape = (int(hdul[table].header["NAXIS2"]), *_image_dim(hdul[table].columns["FLUX"].dim))
            if len(shape) != 3 or shape[0] == 0:
                raise DataError(f"{path}: {table} FLUX has shape {shape}, expected (cadences, rows, columns)")
            aperture = hdul["APERTURE"]
            got = None if aperture.data is None else tuple(aperture.data.shape)
            if got != shape[1:]:
                raise DataError(f"{path}: APERTURE has shape {got}, the pixels {shape[1:]}")
            _celestial_wcs(aperture.header, f"{path} APERTURE")
            primary = {k: _plain(hdul[0].header[k]) for k in _PRIMARY_KEYS if k in hdul[0].header}
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AstropyUserWarning) as exc:
        raise DataError(f"{path}: unreadable pixel file ({type(exc).__name__}: {exc})") from None
    return CubeSummary(shape, table, primary)


def check_image(path: str | Path) -> ImageSummary:
    """Check an image cutout (ZTF): a 2-D image in the first HDU that has one, with a celestial WCS.

    Parameters
    ----------
    path : str or pathlib.Path
        FITS file.

    Returns
    -------
    ImageSummary
        Shape ``(rows, columns)`` and the celestial WCS.

    Raises
    ------
    DataError
        Naming the file and what is wrong.
    """
    path = Path(path)
    try:
        with _truncation_is_an_error(), fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if getattr(h, "is_image", False) and h.data is not None), None)
            if hdu is None:
                raise DataError(f"{path}: no image")
            data = np.asarray(hdu.data)
            if data.ndim != 2 or 0 in data.shape:
                raise DataError(f"{path}: image has shape {data.shape}, expected (rows, columns)")
            wcs = _celestial_wcs(hdu.header, str(path))
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AstropyUserWarning) as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    return ImageSummary((int(data.shape[0]), int(data.shape[1])), wcs)


def pixel_file_problem(path: str | Path, kind: str) -> str | None:
    """Return what is wrong with a stored pixel file (``"missing"``, or why it does not read whole), or None.

    For a doctor: the same checks as before the file was stored (checksums included).

    Parameters
    ----------
    path : str or pathlib.Path
        The file of a :class:`~adapters.surveys.pixels.records.PixelFile`.
    kind : str
        Its kind: ``tpf`` and ``tesscut`` are checked as cubes, ``ztf_cutout`` as an image.

    Returns
    -------
    str or None
        The problem, or None when the file is sound.
    """
    path = Path(path)
    if not path.is_file():
        return "missing"
    try:
        if kind == "ztf_cutout":
            check_image(path)
        else:
            check_cube(path)
    except DataError as exc:
        return " ".join(str(exc).split())[:300]
    return None
