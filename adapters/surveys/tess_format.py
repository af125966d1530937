"""TESS SPOC lightcurve files (``*_lc.fits``): the TESS mission's constants over the shared SPOC reader."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virtualobserver.adapters.surveys.fits_checksum import BLOCK, hdu_checksum_sums, ones_complement_sum, verify_fits_checksums
from virtualobserver.adapters.surveys.spoc_format import (
    NAN_FLAG,
    Mission,
    MissionLightcurveFile,
    cadence_seconds,
    header_to_dict,
    quality_presets,
    read_mission_file,
)

__all__ = [
    "BLOCK",
    "QUALITY_BITS",
    "QUALITY_PRESETS",
    "NAN_FLAG",
    "RAW_COLUMNS",
    "TESS",
    "TESS_ZERO_POINT",
    "TessLightcurveFile",
    "cadence_seconds",
    "empty_columns",
    "header_to_dict",
    "hdu_checksum_sums",
    "ones_complement_sum",
    "quality_mask",
    "read_lightcurve_file",
    "sector_from_filename",
    "verify_fits_checksums",
]

#: TESS QUALITY bits (TESS SDPDD Table 28, as named by lightkurve ``TessQualityFlags``).
QUALITY_BITS = {
    1: "Attitude tweak", 2: "Safe mode", 4: "Coarse point", 8: "Earth point", 16: "Argabrightening",
    32: "Reaction-wheel desaturation", 64: "Cosmic ray in optimal aperture", 128: "Manual exclude",
    256: "Discontinuity corrected", 512: "Impulsive outlier", 1024: "Cosmic ray in collateral data",
    2048: "Straylight (MIT)", 4096: "Straylight2 (SPOC)", 8192: "Planet search exclude",
    16384: "Bad calibration exclude", 32768: "Insufficient targets for error correction",
}
_DEFAULT_BITS = (1, 2, 4, 8, 16, 32, 128, 512, 16384)
_HARD_EXTRA_BITS = (64, 1024, 2048, 4096)
#: QUALITY bits treated as bad by each preset, following lightkurve's "default", "hard" and "hardest".
QUALITY_PRESETS = quality_presets(QUALITY_BITS, _DEFAULT_BITS, _HARD_EXTRA_BITS)
#: TESS magnitude of 1 e-/s (Vanderspek et al., TESS Instrument Handbook: 15000 e-/s at Tmag 10).
TESS_ZERO_POINT = 20.44
_SECTOR_IN_NAME = re.compile(r"-s(\d{4})-")


def sector_from_filename(name: str) -> int | None:
    """Return the sector encoded in a SPOC file name (``...-s0001-...``), or None.

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    int or None
        Sector number.

    Examples
    --------
    >>> sector_from_filename("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits")
    1
    """
    match = _SECTOR_IN_NAME.search(name)
    return int(match.group(1)) if match else None


#: The TESS mission: QUALITY bits, BTJD = BJD - 2457000, one season per sector, TIC identifiers.
TESS = Mission(
    name="TESS", quality_bits=QUALITY_BITS, presets=QUALITY_PRESETS, quality_columns=("QUALITY",),
    time_column="time_btjd", bjdrefi=2457000, season_keyword="SECTOR", season_column="sector",
    season_word="sector", target_keyword="TICID", zero_point=TESS_ZERO_POINT,
    season_from_filename=sector_from_filename,
)
#: Raw columns of a TESS download, with their dtypes (an empty download keeps the same layout).
RAW_COLUMNS = TESS.raw_columns


def quality_mask(preset: str) -> int:
    """Return the QUALITY bits a preset treats as bad.

    Parameters
    ----------
    preset : str
        ``"default"``, ``"hard"``, ``"hardest"`` or ``"none"``.

    Returns
    -------
    int
        Bitmask.

    Raises
    ------
    DataError
        For an unknown preset.

    Examples
    --------
    >>> quality_mask("default")
    17087
    """
    return TESS.quality_mask(preset)


def empty_columns() -> dict[str, np.ndarray]:
    """Return the raw TESS columns with zero length (the answer for a target without data)."""
    return TESS.empty_columns()


@dataclass
class TessLightcurveFile(MissionLightcurveFile):
    """Contents of one SPOC lightcurve file: ``tic_id`` and ``sector`` name its target and season.

    ``columns`` has every name of :data:`RAW_COLUMNS`, one row per cadence
    (cadences with NaN times included); ``mjd_tdb`` is BTJD + BJDREFI +
    BJDREFF - 2400000.5, on the TDB scale the file's TIMESYS states.
    """

    @property
    def tic_id(self) -> int | None:
        """TIC identifier (TICID), or None."""
        return self.target_id

    @property
    def sector(self) -> int:
        """Sector (SECTOR, or from the file name)."""
        return self.season


def read_lightcurve_file(path: str | Path) -> TessLightcurveFile:
    """Read a SPOC ``*_lc.fits`` (or ``*_fast-lc.fits``) file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    TessLightcurveFile
        Columns, headers (as JSON-able dicts) and the aperture image.

    Raises
    ------
    DataError
        If the file cannot be read or lacks the LIGHTCURVE table or a needed column.
    """
    lc = read_mission_file(path, TESS)
    return TessLightcurveFile(**vars(lc))
