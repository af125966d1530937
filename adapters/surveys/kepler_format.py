"""Kepler and K2 lightcurve files (``*_llc.fits``, ``*_slc.fits``): the two missions' constants over the SPOC reader.

Both missions flew the same photometer, so they share the quality bits, the time reference
(BKJD = BJD - 2454833, TDB) and the zero point; they differ in the season (quarter or campaign),
in the ``MISSION`` keyword and in the names of their files and targets (KIC ``kplr``, EPIC ``ktwo``).
"""

from __future__ import annotations

import math
import re

from virtualobserver.adapters.surveys.spoc_format import Mission, quality_presets

__all__ = [
    "BKJD_REFERENCE",
    "K2",
    "KEPLER",
    "KEPLER_QUALITY_BITS",
    "KEPLER_QUALITY_PRESETS",
    "KEPLER_ZERO_POINT",
    "campaign_from_filename",
    "season_from_description",
]

#: Kepler QUALITY (SAP_QUALITY) bits, copied from lightkurve 2.6.0 ``lightkurve/utils.py``
#: ``KeplerQualityFlags`` (which cites the Kepler Archive Manual, KDMC-10008, Table 2.3).
#: Bit 512 (2**9) is unused by Kepler.
KEPLER_QUALITY_BITS = {
    1: "Attitude tweak", 2: "Safe mode", 4: "Coarse point", 8: "Earth point", 16: "Zero crossing",
    32: "Desaturation event", 64: "Argabrightening", 128: "Cosmic ray in optimal aperture", 256: "Manual exclude",
    1024: "Sudden sensitivity dropout", 2048: "Impulsive outlier", 4096: "Argabrightening on CCD",
    8192: "Cosmic ray in collateral data", 16384: "Detector anomaly", 32768: "No fine point", 65536: "No data",
    131072: "Rolling band in optimal aperture", 262144: "Rolling band in full mask",
    524288: "Possible thruster firing", 1048576: "Thruster firing",
}
# lightkurve KeplerQualityFlags.DEFAULT_BITMASK: AttitudeTweak | SafeMode | CoarsePoint | EarthPoint | Desat |
# ManualExclude | DetectorAnomaly | NoData | ThrusterFiring (cadences that are definitely useless).
_DEFAULT_BITS = (1, 2, 4, 8, 32, 256, 16384, 65536, 1048576)
# HARD_BITMASK adds SensitivityDropout | ApertureCosmic | CollateralCosmic | PossibleThrusterFiring.
_HARD_EXTRA_BITS = (1024, 128, 8192, 524288)
#: Kepler/K2 quality presets, equal to lightkurve's ``KeplerQualityFlags.OPTIONS``:
#: none 0, default 1130799, hard 1664431, hardest 2096639 (every bit above).
KEPLER_QUALITY_PRESETS = quality_presets(KEPLER_QUALITY_BITS, _DEFAULT_BITS, _HARD_EXTRA_BITS)
#: BJD of BKJD = 0 (the files' BJDREFI; BJDREFF is 0).
BKJD_REFERENCE = 2454833
#: Kepler magnitude (Kp) of 1 e-/s: 12 + 2.5 log10(1.74e5) = 25.10, from the Kepler GO office's
#: "a Kp = 12 G2V star gives 1.74e5 e-/s" (keplergo.arc.nasa.gov CalibrationSN, as cited in lightkurve
#: issue #51). The PDCSAP median of KIC 10002792 (Kp 13.005) then gives 12.68; of EPIC 211117077
#: (Kp 13.759) 13.67: Kp is defined for a G2V star, and these are redder.
KEPLER_ZERO_POINT = 12.0 + 2.5 * math.log10(1.74e5)

_CAMPAIGN_IN_NAME = re.compile(r"-c(\d{2,3})_")
_SEASON_IN_DESCRIPTION = re.compile(r"-\s*([QC])(\d+)\s*$")


def campaign_from_filename(name: str) -> int | None:
    """Return the K2 campaign of a file name (``ktwo...-c04_llc.fits``), or None.

    Campaigns 9, 10 and 11 were observed in two halves, named ``c91``/``c92``,
    ``c101``/``c102`` and ``c111``/``c112``; both halves are the campaign.

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    int or None
        Campaign number.

    Examples
    --------
    >>> campaign_from_filename("ktwo211117077-c04_llc.fits"), campaign_from_filename("ktwo200069974-c102_llc.fits")
    (4, 10)
    """
    match = _CAMPAIGN_IN_NAME.search(name)
    if match is None:
        return None
    number = int(match.group(1))
    # No K2 campaign went past 19: a larger number is a split campaign and its half.
    return number // 10 if number > 19 else number


def season_from_description(description: str) -> int | None:
    """Return the quarter or campaign of a MAST product description (``"... (CLC) - Q4"``), or None.

    Parameters
    ----------
    description : str
        ``description`` of a Mast.Caom.Products row.

    Returns
    -------
    int or None
        Quarter (``Q``) or campaign (``C``; a split campaign's half counts as the campaign).

    Examples
    --------
    >>> season_from_description("Lightcurve Long Cadence (CLC) - Q4")
    4
    """
    match = _SEASON_IN_DESCRIPTION.search(str(description or ""))
    if match is None:
        return None
    number = int(match.group(2))
    return number // 10 if match.group(1) == "C" and number > 19 else number


def _no_quarter_in_name(name: str) -> int | None:
    # Kepler file names carry the time the file was made, not its quarter.
    return None


#: The Kepler prime mission: SAP_QUALITY, BKJD, one season per quarter, KIC identifiers (KEPLERID).
KEPLER = Mission(
    name="Kepler", quality_bits=KEPLER_QUALITY_BITS, presets=KEPLER_QUALITY_PRESETS,
    quality_columns=("SAP_QUALITY", "QUALITY"), time_column="time_bkjd", bjdrefi=BKJD_REFERENCE,
    season_keyword="QUARTER", season_column="quarter", season_word="quarter", target_keyword="KEPLERID",
    zero_point=KEPLER_ZERO_POINT, season_from_filename=_no_quarter_in_name, mission_values=("Kepler",),
)
#: The K2 mission: as Kepler, one season per campaign, EPIC identifiers (also in KEPLERID).
K2 = Mission(
    name="K2", quality_bits=KEPLER_QUALITY_BITS, presets=KEPLER_QUALITY_PRESETS,
    quality_columns=("SAP_QUALITY", "QUALITY"), time_column="time_bkjd", bjdrefi=BKJD_REFERENCE,
    season_keyword="CAMPAIGN", season_column="campaign", season_word="campaign", target_keyword="KEPLERID",
    zero_point=KEPLER_ZERO_POINT, season_from_filename=campaign_from_filename, mission_values=("K2",),
)
