"""Target pixel files (Kepler and K2 ``*_lpd-targ.fits``, TESS ``*_tp.fits``, TESScut cutouts): pixels as raw data.

A target pixel file has the lightcurve file's layout with images in place of fluxes: a PRIMARY header,
a table with one row per cadence (``TARGETTABLES`` for Kepler and K2, ``PIXELS`` for TESS and TESScut)
whose FLUX, FLUX_ERR and FLUX_BKG cells are images, and an ``APERTURE`` image (bit 2: the pipeline's
optimal aperture) carrying the pixels' WCS. The file is opened as a memory map: the images are read
when they are used, not when the file is opened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from virtualobserver.adapters.surveys.spoc_format import (
    Mission,
    MissionLightcurveFile,
    cadence_seconds,
    checked_season,
    header_to_dict,
    mjd_tdb,
    target_id,
    target_position,
)
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube

__all__ = ["PIXEL_TABLES", "PIPELINE_APERTURE_BIT", "is_pixel_file", "pixel_cube", "read_pixel_file"]

#: Names of the per-cadence image table: Kepler/K2 and TESS/TESScut.
PIXEL_TABLES = ("TARGETTABLES", "PIXELS")
#: APERTURE bit of a pixel in the pipeline's optimal photometric aperture (Kepler, K2 and TESS alike).
PIPELINE_APERTURE_BIT = 2
_NEEDED = ("TIME", "CADENCENO", "FLUX", "FLUX_ERR")


def is_pixel_file(path: str | Path) -> bool:
    """Return whether a FITS file has a per-cadence image table (False for anything unreadable)."""
    try:
        with fits.open(path, memmap=True) as hdus:
            return any(name in hdus for name in PIXEL_TABLES)
    except (OSError, ValueError, TypeError):
        return False


def read_pixel_file(path: str | Path, mission: Mission) -> MissionLightcurveFile:
    """Read a target pixel file (or a TESScut cutout) of a mission.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    mission : Mission
        Its mission (quality column, time reference, season keyword).

    Returns
    -------
    MissionLightcurveFile
        ``columns`` as a lightcurve file's, with NaN SAP and PDCSAP fluxes (the fluxes are made from the
        pixels when the raw data is reduced); ``pixels`` the :class:`~domain.pixels.PixelCube` (lazy:
        memory-mapped images); ``aperture`` the APERTURE bits; ``lightcurve`` the table header and
        ``wcs`` the image WCS as header cards.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read, has no image table or lacks a needed column, the
        season or the TDB time system.
    """
    path = Path(path)
    try:
        hdus = fits.open(path, memmap=True)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot read as a {mission.name} target pixel file ({exc})") from None
    # The memory map stays open as long as the arrays below are referenced; the file object is closed.
    with hdus:
        try:
            return _read(path, hdus, mission)
        except DataError:
            raise
        except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise DataError(f"{path}: cannot read as a {mission.name} target pixel file ({exc})") from None


def _read(path: Path, hdus: fits.HDUList, mission: Mission) -> MissionLightcurveFile:
    name = next((n for n in PIXEL_TABLES if n in hdus), None)
    if name is None:
        raise DataError(f"{path}: no {' or '.join(PIXEL_TABLES)} extension (not a target pixel file)")
    primary, table = header_to_dict(hdus[0].header), hdus[name]
    header = header_to_dict(table.header)
    data = table.data
    names = set(data.columns.names) if data is not None else set()
    quality_column = next((c for c in mission.quality_columns if c in names), mission.quality_columns[0])
    missing = [c for c in (*_NEEDED, quality_column) if c not in names]
    if missing:
        raise DataError(f"{path}: {name} lacks columns {missing}")
    flux = data["FLUX"]
    if flux.ndim != 3:
        raise DataError(f"{path}: FLUX cells are not images (shape {flux.shape})")
    season = checked_season(path, primary, header, name, mission)
    time = np.asarray(data["TIME"], dtype=np.float64)
    n, cadence = time.size, cadence_seconds(header)
    mjd = mjd_tdb(time, header.get("BJDREFI", mission.bjdrefi), header.get("BJDREFF", 0.0))
    nan = np.full(n, np.nan, dtype=np.float32)
    columns = {mission.time_column: time, "mjd_tdb": mjd, "sap_flux": nan, "sap_flux_err": nan,
               "pdcsap_flux": nan, "pdcsap_flux_err": nan,
               "quality": np.asarray(data[quality_column], dtype=np.int32),
               mission.season_column: np.full(n, season, dtype=np.int32),
               "cadenceno": np.asarray(data["CADENCENO"], dtype=np.int32),
               "cadence_s": np.full(n, cadence, dtype=np.float64)}
    aperture_bits = _aperture(hdus, flux.shape[1:])
    wcs_header = _wcs_header(hdus, table.header, data.columns.names.index("FLUX") + 1)
    ra, dec = target_position(primary)
    target_pixel, scale = _target_pixel(wcs_header, ra, dec)
    wcs_cards = header_to_dict(wcs_header)
    cube = PixelCube(
        times=mjd, flux=flux, flux_err=data["FLUX_ERR"], quality=columns["quality"],
        background=data["FLUX_BKG"] if "FLUX_BKG" in names else None,
        aperture=None if aperture_bits is None else (aperture_bits & PIPELINE_APERTURE_BIT) > 0,
        target_pixel=target_pixel, pixel_scale_arcsec=scale, wcs_header=_celestial_cards(wcs_cards))
    if cube.aperture is not None and not cube.aperture.any():
        cube.aperture = None  # TESScut writes an APERTURE of collected pixels only: no pipeline aperture
    return MissionLightcurveFile(
        path=path, target_id=target_id(primary, mission), season=season, ra=ra, dec=dec, cadence_s=cadence, columns=columns, primary=primary,
        lightcurve=header, aperture=aperture_bits, pixels=cube, wcs=wcs_cards)


def _celestial_cards(cards: dict | None) -> dict | None:
    """Return WCS cards that describe the sky (both axes typed), or None: a partial WCS is no WCS to export."""
    return dict(cards) if cards and "CTYPE1" in cards and "CTYPE2" in cards else None


def _aperture(hdus: fits.HDUList, shape: tuple[int, ...]) -> np.ndarray | None:
    if "APERTURE" not in hdus or hdus["APERTURE"].data is None:
        return None
    bits = np.asarray(hdus["APERTURE"].data)
    if bits.shape != tuple(shape) or bits.dtype.kind not in "iu":
        return None  # early TESScut files wrote a float APERTURE: no bits to read
    return bits.astype(bits.dtype.newbyteorder("="))


def _wcs_header(hdus: fits.HDUList, table_header: fits.Header, column: int) -> fits.Header:
    """Return the images' celestial WCS as an image header: APERTURE's, else the FLUX column's keywords."""
    if "APERTURE" in hdus and "CTYPE1" in hdus["APERTURE"].header:
        aperture = hdus["APERTURE"].header
        return fits.Header([card for card in aperture.cards if _is_wcs_keyword(card.keyword)])
    # Binary-table image-column keywords (FITS standard section 8.2): 1CTYPn -> CTYPE1, 11PCn -> PC1_1, ...
    cards = fits.Header({"WCSAXES": 2})
    for axis in (1, 2):
        for table_key, image_key in (("CTYP", "CTYPE"), ("CRVL", "CRVAL"), ("CRPX", "CRPIX"), ("CDLT", "CDELT"),
                                     ("CUNI", "CUNIT")):
            if f"{axis}{table_key}{column}" in table_header:
                cards[f"{image_key}{axis}"] = table_header[f"{axis}{table_key}{column}"]
        for other in (1, 2):
            if f"{axis}{other}PC{column}" in table_header:
                cards[f"PC{axis}_{other}"] = table_header[f"{axis}{other}PC{column}"]
    return cards


def _is_wcs_keyword(keyword: str) -> bool:
    return keyword.startswith(("WCSAXES", "CTYPE", "CRVAL", "CRPIX", "CDELT", "CUNIT", "PC", "CD1_", "CD2_",
                               "RADESYS", "EQUINOX", "LONPOLE", "LATPOLE", "A_", "B_", "AP_", "BP_"))


def _target_pixel(wcs_header: fits.Header, ra: float, dec: float) -> tuple[tuple[float, float] | None, float | None]:
    """Return the target's 0-based ``(row, col)`` and the pixel scale (arcsec), or None where the WCS cannot tell."""
    if "CTYPE1" not in wcs_header:
        return None, None
    wcs = WCS(wcs_header).celestial
    scale = float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return None, scale
    col, row = wcs.all_world2pix(ra, dec, 0)
    return (float(row), float(col)), scale


def pixel_cube(images: dict[str, np.ndarray], entry: dict, times: np.ndarray, quality: np.ndarray) -> PixelCube:
    """Rebuild the :class:`~domain.pixels.PixelCube` of one stored target pixel file.

    Parameters
    ----------
    images : dict of str to numpy.ndarray
        :attr:`RawData.images` of the raw data.
    entry : dict
        The file's entry in the raw data's ``meta["files"]``; its ``pixels`` names the images.
    times, quality : numpy.ndarray
        The file's rows of the ``mjd_tdb`` and ``quality`` raw columns.

    Returns
    -------
    PixelCube
        As read from the file.

    Raises
    ------
    DataError
        If an image the entry names is missing.
    """
    pixels = entry["pixels"]
    try:
        flux, flux_err = images[pixels["flux"]], images[pixels["flux_err"]]
        background = images[pixels["background"]] if pixels.get("background") else None
        bits = images[pixels["aperture"]] if pixels.get("aperture") else None
    except KeyError as exc:
        raise DataError(f"pixels of {entry.get('file')}: image {exc} is not in the raw data") from None
    target = pixels.get("target_pixel")
    aperture = None if bits is None else (np.asarray(bits).astype(np.int64) & PIPELINE_APERTURE_BIT) > 0
    return PixelCube(times=times, flux=flux, flux_err=flux_err, quality=quality, background=background,
                     aperture=aperture if aperture is not None and aperture.any() else None, target_pixel=tuple(target) if target else None,
                     pixel_scale_arcsec=pixels.get("pixel_scale_arcsec"), wcs_header=_celestial_cards(pixels.get("wcs")))
