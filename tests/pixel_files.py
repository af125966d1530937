"""Synthetic pixel files in the archives' real layouts, for the pixel download tests.

Target pixel files and TESScut cutouts follow the real K2 file
(``../shared/data/ktwo211983544-c18_lpd-targ.fits``: PRIMARY, a pixel table whose FLUX
column carries the image-column WCS keywords ``1CTYP5``..., an ``APERTURE`` image with the
same WCS) and the TESScut layout of ``../shared/reference/image-formats.md`` (table ``PIXELS``
with ``FFI_FILE``). ZTF images are float32 with a TAN WCS of 1.01-arcsec pixels; cutouts of them
are made by astropy's ``Cutout2D`` (trimmed at the edges, as IRSA clips them).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.table import Table
from astropy.wcs import WCS

__all__ = ["pixel_cube_bytes", "tesscut_name", "zip_bytes", "ztf_image", "ztf_cutout_bytes", "ibe_table",
           "K2_PIXEL_DEG", "TESS_PIXEL_DEG", "ZTF_PIXEL_DEG"]

K2_PIXEL_DEG = 0.001104017521448  # CDELT of the real K2 file (3.97 arcsec)
TESS_PIXEL_DEG = 21.0 / 3600.0
ZTF_PIXEL_DEG = 1.01 / 3600.0
IBE_COLUMNS = ("in_row_id", "field", "ccdid", "qid", "rcid", "fid", "filtercode", "pid", "nid", "expid", "itid",
               "imgtype", "imgtypecode", "obsdate", "obsjd", "exptime", "filefracday", "seeing", "airmass",
               "maglimit", "ra", "dec", "infobits", "ipac_gid")


def _celestial(ra: float, dec: float, rows: int, cols: int, scale_deg: float) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(cols + 1) / 2.0, (rows + 1) / 2.0]  # the target at the middle pixel
    wcs.wcs.cdelt = [-scale_deg, scale_deg]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def pixel_cube_bytes(*, mission: str = "tess", n: int = 40, rows: int = 5, cols: int = 7, ra: float = 130.656765,
                     dec: float = 19.988607, target_id: int | None = 211983544, season: int = 18, camera: int = 1,
                     ccd: int = 3, star_flux: float = 5000.0, seed: int = 0, flux_bkg: float = 10.0) -> bytes:
    """Return a target pixel file (``mission`` ``k2`` or ``kepler``) or TESScut cutout (``tesscut``) / TESS TPF (``tess``).

    ``season`` is the campaign (K2), quarter (Kepler) or sector (TESS).

    A star of ``star_flux`` e-/s (Gaussian, sigma 1 pixel) sits at the middle pixel, on a
    background of 10 e-/s with unit noise; every HDU carries CHECKSUM/DATASUM. ``flux_bkg`` fills the
    FLUX_BKG images (0 as in real TESScut cutouts, whose images keep the sky).
    """
    rng = np.random.default_rng(seed)
    k2 = mission in ("k2", "kepler")
    scale = K2_PIXEL_DEG if k2 else TESS_PIXEL_DEG
    yy, xx = np.mgrid[0:rows, 0:cols]
    star = star_flux * np.exp(-((yy - (rows - 1) / 2) ** 2 + (xx - (cols - 1) / 2) ** 2) / 2.0) / (2 * np.pi)
    flux = (star + 10.0 + rng.normal(0.0, 1.0, (n, rows, cols))).astype(np.float32)
    time = (3418.55 if k2 else 2240.0) + np.arange(n) * (0.0204 if k2 else 200.0 / 86400.0)
    tdim = f"({cols},{rows})"
    image = f"{rows * cols}"
    columns = [fits.Column("TIME", "D", unit="BJD - 2454833" if k2 else "BJD - 2457000, days", array=time),
               fits.Column("TIMECORR", "E", unit="d", array=np.zeros(n, np.float32)),
               fits.Column("CADENCENO", "J", array=np.arange(n, dtype=np.int32) + 1000),
               fits.Column("RAW_CNTS", f"{image}J", dim=tdim, array=np.rint(flux * 6).astype(np.int32)),
               fits.Column("FLUX", f"{image}E", unit="e-/s", dim=tdim, array=flux),
               fits.Column("FLUX_ERR", f"{image}E", unit="e-/s", dim=tdim, array=np.ones_like(flux)),
               fits.Column("FLUX_BKG", f"{image}E", unit="e-/s", dim=tdim, array=np.full_like(flux, flux_bkg)),
               fits.Column("FLUX_BKG_ERR", f"{image}E", unit="e-/s", dim=tdim, array=np.full_like(flux, 0.5)),
               fits.Column("QUALITY", "J", array=np.zeros(n, np.int32)),
               fits.Column("POS_CORR1", "E", unit="pixel", array=np.zeros(n, np.float32)),
               fits.Column("POS_CORR2", "E", unit="pixel", array=np.zeros(n, np.float32))]
    if mission == "tesscut":
        columns.append(fits.Column("FFI_FILE", "38A", array=[f"tess{k:013d}-s{season:04d}-{camera}-{ccd}-0000-s_ffic.fits"
                                                              for k in range(n)]))
    table = fits.BinTableHDU.from_columns(columns, name="TARGETTABLES" if k2 else "PIXELS")
    wcs = _celestial(ra, dec, rows, cols, scale)
    flux_column = 5  # FLUX: the real files' image-column WCS keywords (1CTYP5, 1CRVL5, ...)
    for axis in (1, 2):
        table.header[f"{axis}CTYP{flux_column}"] = wcs.wcs.ctype[axis - 1]
        table.header[f"{axis}CRPX{flux_column}"] = wcs.wcs.crpix[axis - 1]
        table.header[f"{axis}CRVL{flux_column}"] = wcs.wcs.crval[axis - 1]
        table.header[f"{axis}CDLT{flux_column}"] = wcs.wcs.cdelt[axis - 1]
        table.header[f"{axis}CUNI{flux_column}"] = "deg"
    for key, value in [("TIMESYS", "TDB"), ("BJDREFI", 2454833 if k2 else 2457000), ("BJDREFF", 0.0),
                       ("TIMEUNIT", "d"), ("TIMEDEL", 0.0204 if k2 else 200.0 / 86400.0)]:
        table.header[key] = value
    # TESScut marks every pixel collected (bit 1) and none in an optimal aperture (bit 2): it has no pipeline.
    bits = np.ones(star.shape, np.int32) if mission == "tesscut" else np.where(star > star.max() / 4, 3, 1)
    aperture = fits.ImageHDU(bits.astype(np.int32), header=wcs.to_header(), name="APERTURE")
    primary = fits.PrimaryHDU()
    cards = [("TELESCOP", "Kepler" if k2 else "TESS"), ("RADESYS", "ICRS"), ("RA_OBJ", ra), ("DEC_OBJ", dec),
             ("EQUINOX", 2000.0)]
    if mission == "k2":
        cards += [("OBJECT", f"EPIC {target_id}"), ("KEPLERID", target_id), ("CAMPAIGN", season), ("MISSION", "K2")]
    elif mission == "kepler":
        cards += [("OBJECT", f"KIC {target_id}"), ("KEPLERID", target_id), ("QUARTER", season),
                  ("MISSION", "Kepler")]
    else:
        cards += [("SECTOR", season), ("CAMERA", camera), ("CCD", ccd)]
        if mission == "tess":
            cards += [("OBJECT", f"TIC {target_id}"), ("TICID", target_id)]
        else:
            cards += [("CREATOR", "astrocut"), ("ORIGIN", "STScI/MAST")]
    for key, value in cards:
        primary.header[key] = value
    out = io.BytesIO()
    fits.HDUList([primary, table, aperture]).writeto(out, checksum=True)
    return out.getvalue()


def tesscut_name(sector: int, camera: int, ccd: int, ra: float, dec: float, cols: int, rows: int) -> str:
    """Return TESScut's name of a cutout file (``tess-s0001-1-3_RA_DEC_COLSxROWS_astrocut.fits``)."""
    return f"tess-s{sector:04d}-{camera}-{ccd}_{ra:f}_{dec:f}_{cols}x{rows}_astrocut.fits"


def zip_bytes(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """Return a zip holding ``members`` (name -> bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def ztf_image(ra: float, dec: float, *, shape: tuple[int, int] = (200, 240), stars=(), seed: int = 1) -> fits.ImageHDU:
    """Return a ZTF-like science image (float32, TAN WCS of 1.01" pixels centred on ``ra, dec``).

    ``stars`` are ``(ra, dec, flux)``: Gaussians of sigma 1.5 pixels placed by the WCS.
    """
    rows, cols = shape
    wcs = _celestial(ra, dec, rows, cols, ZTF_PIXEL_DEG)
    data = 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, shape)
    yy, xx = np.mgrid[0:rows, 0:cols]
    for star_ra, star_dec, flux in stars:
        x, y = wcs.world_to_pixel_values(star_ra, star_dec)
        data += flux * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5 ** 2))
    header = wcs.to_header()
    header["FILTER"] = "ZTF_r"
    return fits.ImageHDU(data.astype(np.float32), header=header)


def ztf_cutout_bytes(image: fits.ImageHDU, ra: float, dec: float, size_arcsec: float) -> bytes:
    """Return IRSA's cutout of ``image`` at ``ra, dec`` (trimmed at the edges); raises NoOverlapError off the image."""
    wcs = WCS(image.header)
    size_px = int(round(size_arcsec / 3600.0 / ZTF_PIXEL_DEG))
    from astropy.coordinates import SkyCoord

    cut = Cutout2D(image.data, SkyCoord(ra, dec, unit="deg"), size_px, wcs=wcs, mode="trim")
    header = cut.wcs.to_header()
    for key in ("FILTER", "MAGZP", "EXPTIME"):  # IRSA's cutouts keep the science image's header
        if key in image.header:
            header[key] = image.header[key]
    out = io.BytesIO()
    fits.PrimaryHDU(cut.data, header=header).writeto(out)
    return out.getvalue()


def ibe_table(rows: list[dict]) -> bytes:
    """Return an IBE metadata answer (IPAC table) with the columns of :data:`IBE_COLUMNS`, given rows.

    ``filefracday`` is a ``long`` column, as IBE types it.
    """
    table = Table(names=IBE_COLUMNS, dtype=[int, int, int, int, int, int, "U2", int, int, int, int, "U8", "U1", "U26",
                                            float, float, int, float, float, float, float, float, int, int])
    for k, row in enumerate(rows):
        full = {"in_row_id": k + 1, "rcid": 0, "fid": 2, "pid": 0, "nid": 0, "expid": 0, "itid": 1,
                "imgtype": "object", "imgtypecode": "o", "obsdate": "2018-05-28 07:52:04.000+00", "exptime": 30.0,
                "seeing": 2.1, "airmass": 1.2, "maglimit": 20.5, "ra": 0.0, "dec": 0.0, "infobits": 0,
                "ipac_gid": 1, **row}
        table.add_row([full[c] for c in IBE_COLUMNS])
    out = io.StringIO()
    table.write(out, format="ascii.ipac")
    return ("\\fixlen = T\n" + out.getvalue()).encode()
