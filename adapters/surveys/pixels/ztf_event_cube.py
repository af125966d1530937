"""The pixels of one ZTF event: cutouts of the exposures around it, on one grid, as a pixel cube.

A ZTF source observed 1,000 times needs pixels only around its detections: the exposures of the
event's filter within a baseline of it are cut (:class:`~adapters.surveys.pixels.ztf_cutouts.ZtfCutoutClient`,
each cutout stored once), and each cutout is put on a common grid centred on the source
(:func:`domain.image_stack.aligned_stack`), scaled to one photometric zero point (AB 23.9: µJy, from
each image's ``MAGZP``) with its sky level (the frame's median) removed. Frames of one field, CCD
and quadrant differ in pointing by a fraction of a pixel, frames of other fields by more: the
resampling takes both out, so the centroid of the stack moves only when the light does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from virtualobserver.adapters.surveys.pixels.common import position_at
from virtualobserver.adapters.surveys.pixels.records import PixelFile
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient
from virtualobserver.adapters.surveys.pixels.ztf_ibe import MJD_TO_JD
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.image_stack import aligned_stack, grid_centre
from virtualobserver.domain.pixels import PixelCube
from virtualobserver.domain.source import Source

__all__ = ["BAD_FRAME", "ZTF_EVIDENCE_BASELINE_DAYS", "ZTF_TARGET_ERROR_ARCSEC", "ZTF_ZERO_POINT", "ZtfEventCube",
           "ztf_event_cube"]

#: Shortest stretch (days) each side of an event whose exposures are its out-of-event frames: ZTF
#: visits a field every 1-3 nights, so a few weeks give the 3+ frames a centroid error needs.
ZTF_EVIDENCE_BASELINE_DAYS = 30.0
#: Uncertainty (arcsec, per axis) of where the source sits in the stacked frames: ZTF's astrometry is tied
#: to Gaia to about 0.05-0.1 arcsec rms (Masci et al. 2019, PASP 131, 018003); 0.3 covers a catalog
#: position's own error and proper motion moved to another epoch.
ZTF_TARGET_ERROR_ARCSEC = 0.3
#: AB zero point of the stacked fluxes: 23.9 makes them microjansky.
ZTF_ZERO_POINT = 23.9
#: Quality bit of a frame that is mostly off its image (a clipped cutout) or has no zero point.
BAD_FRAME = 1
# Fraction of a frame's pixels that must have values for it to count.
_MIN_FILLED = 0.9


@dataclass(eq=False)
class ZtfEventCube:
    """The cube of one event and where its frames came from.

    Attributes
    ----------
    cube : PixelCube
        Frames by time (MJD, UTC, mid-exposure), flux in µJy, the source at the grid centre.
    files : list of PixelFile
        The cutouts stacked, in the cube's order.
    bad_bits : int
        Quality bits of frames not to use (:data:`BAD_FRAME`).
    baseline_days : float
        The stretch each side of the event whose frames were cut (for the centroid shift's baseline).
    target_error_arcsec : float
        How well the source's position in the frames is known (:data:`ZTF_TARGET_ERROR_ARCSEC`).
    """

    cube: PixelCube
    files: list[PixelFile]
    bad_bits: int = BAD_FRAME
    baseline_days: float = ZTF_EVIDENCE_BASELINE_DAYS
    target_error_arcsec: float = ZTF_TARGET_ERROR_ARCSEC


def ztf_event_cube(client: ZtfCutoutClient, source: Source, start_mjd: float, end_mjd: float, filtercode: str,
                   baseline_days: float = ZTF_EVIDENCE_BASELINE_DAYS) -> ZtfEventCube | None:
    """Return the cutouts of a ZTF event's filter around it, on one grid, or None when there are none.

    Parameters
    ----------
    client : ZtfCutoutClient
        Asks IRSA (or its cache) for the exposures and cutouts.
    source : Source
        The target (the grid is centred on it at the client's ``position_epoch``).
    start_mjd, end_mjd : float
        The event's first and last time (MJD, UTC).
    filtercode : str
        ``zg``, ``zr`` or ``zi``: only that filter's exposures are stacked.
    baseline_days : float
        Exposures within this many days before ``start_mjd`` or after ``end_mjd`` are cut too.

    Returns
    -------
    ZtfEventCube or None
        None when no exposure of the filter covers the window.

    Raises
    ------
    SurveyError, TransientSurveyError, OfflineError
        As :meth:`ZtfCutoutClient.download`.
    """
    lo, hi = start_mjd - baseline_days, end_mjd + baseline_days
    chosen = [e for e in client.exposures(source) if e.filtercode == filtercode
              and lo <= e.obsjd - MJD_TO_JD <= hi]
    files = sorted(client.download(source, exposures=chosen), key=lambda f: f.obsjd)
    if not files:
        return None
    ra, dec = position_at(source, client.parameters.position_epoch)
    frames = [_frame(f.path, ra, dec, f.obsjd - MJD_TO_JD) for f in files]
    scale = float(np.median([fr.scale_arcsec for fr in frames]))
    side = int(round(client.parameters.size_arcsec / scale))
    side -= 1 - side % 2  # odd: the source on a pixel centre
    shape = (max(side - 2, 3), max(side - 2, 3))  # a pixel's margin: resampling needs both neighbours
    flux = aligned_stack([fr.data for fr in frames], [fr.position for fr in frames], shape)
    filled = np.isfinite(flux).mean(axis=(1, 2))
    quality = np.where((filled < _MIN_FILLED) | ~np.array([fr.scaled for fr in frames]), BAD_FRAME, 0)
    noise = np.array([fr.noise for fr in frames])
    cube = PixelCube(times=np.array([fr.mid_mjd for fr in frames]), flux=flux,
                     flux_err=np.broadcast_to(noise[:, None, None], flux.shape).copy(), quality=quality,
                     target_pixel=grid_centre(shape), pixel_scale_arcsec=scale,
                     wcs_header=_grid_wcs(frames[0], grid_centre(shape)))
    return ZtfEventCube(cube, list(files), baseline_days=baseline_days)


@dataclass
class _Frame:
    data: np.ndarray
    position: tuple[float, float]
    wcs: WCS
    mid_mjd: float
    scale_arcsec: float
    noise: float
    scaled: bool


def _frame(path, ra: float, dec: float, start_mjd: float) -> _Frame:
    """One cutout: sky-subtracted µJy, where the source is in its pixels, its mid-exposure time and noise."""
    try:
        with fits.open(path, memmap=False) as hdus:
            hdu = next(h for h in hdus if h.data is not None and np.ndim(h.data) == 2)
            data, header = np.asarray(hdu.data, dtype=np.float64), hdu.header
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header).celestial
    except (OSError, ValueError, StopIteration) as exc:
        raise DataError(f"{path}: cannot read as a ZTF cutout ({exc})") from None
    x, y = wcs.world_to_pixel_values(ra, dec)
    zero_point = header.get("MAGZP")
    scaled = isinstance(zero_point, (int, float)) and np.isfinite(zero_point)
    # counts x 10^(-0.4 (MAGZP - 23.9)) = µJy; without a zero point the frame is kept but marked bad.
    data = data * 10.0 ** (-0.4 * (float(zero_point) - ZTF_ZERO_POINT)) if scaled else data
    finite = data[np.isfinite(data)]
    sky = float(np.median(finite)) if finite.size else 0.0
    noise = float(1.4826 * np.median(np.abs(finite - sky))) if finite.size else float("nan")
    exposure = header.get("EXPTIME", 30.0)  # IRSA's cutouts keep the science image's header; 30 s is ZTF's
    exposure_days = (float(exposure) if isinstance(exposure, (int, float)) else 30.0) / 86400.0
    return _Frame(data - sky, (float(y), float(x)), wcs, start_mjd + exposure_days / 2.0,
                  float(np.mean(proj_plane_pixel_scales(wcs))) * 3600.0, noise, scaled)


def _grid_wcs(frame: _Frame, centre: tuple[float, float]) -> dict:
    """The common grid's WCS: the first frame's, moved so that the source sits at the grid's centre.

    Grid pixel ``(i, j)`` is frame pixel ``position + (i, j) - centre``: the same projection with its
    reference pixel shifted by ``centre - position`` (columns are FITS axis 1).
    """
    wcs = frame.wcs.deepcopy()
    wcs.wcs.crpix = wcs.wcs.crpix + np.array([centre[1] - frame.position[1], centre[0] - frame.position[0]])
    return {key: value for key, value in wcs.to_header().items() if key not in ("COMMENT", "HISTORY", "")}
