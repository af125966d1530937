"""Mission lightcurve files in the Ames/SPOC layout (TESS, Kepler, K2): headers, columns, times and QUALITY presets.

The three missions write the same FITS layout (a LIGHTCURVE table of TIME, SAP and PDCSAP flux and a
quality bitmask, an APERTURE image, barycentric TDB times counted from ``BJDREFI + BJDREFF``); what
differs is gathered in one :class:`Mission` per mission: the quality column and its bits, the time
reference, the keyword of the season (sector, quarter, campaign) and of the target, the zero point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from astropy.io import fits

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.pixels import PixelCube

__all__ = [
    "MJD_OFFSET",
    "NAN_FLAG",
    "Mission",
    "MissionLightcurveFile",
    "cadence_seconds",
    "checked_season",
    "header_to_dict",
    "json_number",
    "mjd_tdb",
    "quality_presets",
    "read_mission_file",
    "target_id",
    "target_position",
]

#: Flag bit set where the time or the flux is NaN, far above every QUALITY bit, so such cadences are never used.
NAN_FLAG = 1 << 30
#: JD - MJD.
MJD_OFFSET = 2400000.5


def quality_presets(bits: Mapping[int, str], default: Sequence[int], hard_extra: Sequence[int]) -> dict[str, int]:
    """Return lightkurve's four named quality masks built from a mission's bits.

    Parameters
    ----------
    bits : mapping of int to str
        Every QUALITY bit value of the mission and its meaning.
    default : sequence of int
        Bits of cadences that are definitely useless (lightkurve's ``DEFAULT_BITMASK``).
    hard_extra : sequence of int
        Bits ``"hard"`` adds to the default (lightkurve's ``HARD_BITMASK``).

    Returns
    -------
    dict of str to int
        ``none``, ``default``, ``hard`` and ``hardest`` (every bit the mission defines).

    Examples
    --------
    >>> quality_presets({1: "a", 2: "b", 4: "c"}, [1], [2])
    {'none': 0, 'default': 1, 'hard': 3, 'hardest': 7}
    """
    default_mask = _or(default)
    return {"none": 0, "default": default_mask, "hard": default_mask | _or(hard_extra), "hardest": _or(bits)}


def _or(bits) -> int:
    mask = 0
    for bit in bits:
        mask |= int(bit)
    return mask


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one instance per mission
class Mission:
    """What sets one mission's lightcurve files apart from another's.

    Attributes
    ----------
    name : str
        Mission name in messages (``"TESS"``, ``"Kepler"``, ``"K2"``).
    quality_bits : mapping of int to str
        QUALITY bit values and their meaning.
    presets : mapping of str to int
        Named quality masks (:func:`quality_presets`).
    quality_columns : tuple of str
        Names of the quality column, the first one present is read (Kepler writes ``SAP_QUALITY``).
    time_column : str
        Raw column that keeps the file's TIME (``time_btjd``, ``time_bkjd``).
    bjdrefi : int
        BJD of TIME = 0, used when the header lacks BJDREFI (TESS 2457000, Kepler 2454833).
    season_keyword, season_column, season_word : str
        Primary keyword, raw column and word of the season (``SECTOR``, ``sector``, ``sector``).
    target_keyword : str
        Primary keyword of the target identifier (``TICID``, ``KEPLERID``).
    zero_point : float
        Magnitude of 1 e-/s in the mission's band.
    season_from_filename : callable
        File name -> season, or None; used when the season keyword is missing.
    mission_values : tuple of str
        Accepted values of the primary ``MISSION`` keyword (when present); empty accepts any.
    """

    name: str
    quality_bits: Mapping[int, str]
    presets: Mapping[str, int]
    quality_columns: tuple[str, ...]
    time_column: str
    bjdrefi: int
    season_keyword: str
    season_column: str
    season_word: str
    target_keyword: str
    zero_point: float
    season_from_filename: Callable[[str], int | None]
    mission_values: tuple[str, ...] = ()

    @property
    def raw_columns(self) -> dict[str, type]:
        """Return the raw columns of a download with their dtypes (an empty download keeps the same layout)."""
        return {
            self.time_column: np.float64, "mjd_tdb": np.float64,
            "sap_flux": np.float32, "sap_flux_err": np.float32,
            "pdcsap_flux": np.float32, "pdcsap_flux_err": np.float32,
            "quality": np.int32, self.season_column: np.int32, "cadenceno": np.int32, "cadence_s": np.float64,
        }

    def empty_columns(self) -> dict[str, np.ndarray]:
        """Return the raw columns with zero length (the answer for a target without data)."""
        return {name: np.zeros(0, dtype=dtype) for name, dtype in self.raw_columns.items()}

    def quality_mask(self, preset: str) -> int:
        """Return the quality bits a preset treats as bad.

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
        """
        try:
            return self.presets[preset]
        except KeyError:
            raise DataError(f"unknown {self.name} quality preset {preset!r} (use {', '.join(self.presets)})") from None


@dataclass
class MissionLightcurveFile:
    """Contents of one mission lightcurve file.

    ``columns`` has every name of the mission's :attr:`Mission.raw_columns`,
    one row per cadence (cadences with NaN times included); ``mjd_tdb`` is
    TIME + BJDREFI + BJDREFF - 2400000.5, on the TDB scale the file's TIMESYS states.
    A target pixel file (:mod:`adapters.surveys.pixel_format`) also has ``pixels``, its images, and
    ``wcs``, their WCS as header cards.
    """

    path: Path
    target_id: int | None
    season: int
    ra: float
    dec: float
    cadence_s: float
    columns: dict[str, np.ndarray]
    primary: dict = field(default_factory=dict)
    lightcurve: dict = field(default_factory=dict)
    aperture: np.ndarray | None = None
    pixels: PixelCube | None = None
    wcs: dict | None = None


def header_to_dict(header: fits.Header) -> dict:
    """Return a header's cards as a JSON-serialisable dict (keyword -> value).

    COMMENT, HISTORY and blank cards are skipped; an undefined value becomes
    ``None``, as does a non-finite float (JSON has no NaN); a repeated
    keyword keeps its first value, as astropy's ``header[key]`` does.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header to convert.

    Returns
    -------
    dict
        Keyword to value (bool, int, float, str or None).
    """
    result: dict = {}
    for card in header.cards:
        keyword = card.keyword
        if not keyword or keyword in ("COMMENT", "HISTORY") or keyword in result:
            continue
        result[keyword] = _json_value(card.value)
    return result


def _json_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value.rstrip()
    if isinstance(value, (complex, np.complexfloating)):
        return [_json_value(value.real), _json_value(value.imag)]
    return None  # astropy's Undefined: a keyword with no value (e.g. a blank MH)


def json_number(value) -> float | None:
    """Return ``value`` as a float if it is a finite number, else None (JSON has no NaN)."""
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def cadence_seconds(lightcurve_header) -> float:
    """Return the exposure time of one cadence in seconds, from a LIGHTCURVE header.

    This is ``TIMEDEL`` (days) x 86400: 120 s for TESS 2-min data, 20 s for
    fast data, 1765.5 s for Kepler long and 58.8 s for short cadence. It is
    the time each point averages over, which is what smears a short event
    such as a flare. The alternatives do not give that: ``EXPOSURE`` is the
    whole sector's time on source (22.08 d in sector 1, not per cadence), and
    ``INT_TIME * NUM_FRM`` (1.98 s x 60 = 118.8 s) leaves out the readout
    time between frames; ``FRAMETIM * NUM_FRM`` (2.0 s x 60 = 120 s) is the
    fallback when TIMEDEL is absent.

    Parameters
    ----------
    lightcurve_header : mapping
        LIGHTCURVE header (an astropy Header or the dict of :func:`header_to_dict`).

    Returns
    -------
    float
        Seconds per cadence; NaN if the header has neither way of telling.
    """
    timedel = lightcurve_header.get("TIMEDEL")
    if isinstance(timedel, (int, float)) and timedel > 0:
        return float(timedel) * 86400.0
    frame, frames = lightcurve_header.get("FRAMETIM"), lightcurve_header.get("NUM_FRM")
    if isinstance(frame, (int, float)) and isinstance(frames, (int, float)) and frame > 0 and frames > 0:
        return float(frame) * float(frames)
    return float("nan")


def mjd_tdb(time, bjdrefi: float, bjdreff: float | None = 0.0) -> np.ndarray:
    """Return mission times (days since BJD ``bjdrefi + bjdreff``) as MJD on the same (TDB) scale.

    Parameters
    ----------
    time : array_like
        TIME column: BTJD for TESS (BJDREFI 2457000), BKJD for Kepler and K2 (2454833).
    bjdrefi, bjdreff : float
        Integer and fractional parts of the reference BJD (header BJDREFI, BJDREFF).

    Returns
    -------
    numpy.ndarray
        MJD (TDB); NaN where TIME is NaN.

    Examples
    --------
    >>> float(mjd_tdb([443.5], 2454833)[0])
    55276.0
    """
    # Subtract the integer parts first so the sum keeps the float64 precision of TIME (~10 us).
    return np.asarray(time, dtype=np.float64) + ((float(bjdrefi) - MJD_OFFSET) + float(bjdreff or 0.0))


def read_mission_file(path: str | Path, mission: Mission) -> MissionLightcurveFile:
    """Read one lightcurve file of a mission (``*_lc.fits``, ``*_llc.fits``, ``*_slc.fits``).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    mission : Mission
        Its mission.

    Returns
    -------
    MissionLightcurveFile
        Columns, headers (as JSON-able dicts) and the aperture image.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read, is of another mission, or lacks the LIGHTCURVE table,
        a needed column, the season or the TDB time system.
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdus:
            primary = header_to_dict(hdus[0].header)
            if "LIGHTCURVE" not in hdus:
                raise DataError(f"{path}: no LIGHTCURVE extension")
            table = hdus["LIGHTCURVE"]
            lc_header = header_to_dict(table.header)
            data = table.data
            names = set(data.columns.names) if data is not None else set()
            raw_columns = mission.raw_columns
            if _lightkurve_written(primary, names):
                columns = _lightkurve_columns(path, mission, data, names)
            else:
                wanted = _file_columns(mission, names)
                missing = [c for c in wanted.values() if c not in names]
                if missing:
                    raise DataError(f"{path}: LIGHTCURVE lacks columns {missing}")
                columns = {name: np.asarray(data[column]).astype(raw_columns[name])
                           for name, column in wanted.items()}
            aperture = None
            if "APERTURE" in hdus and hdus["APERTURE"].data is not None:
                aperture = np.asarray(hdus["APERTURE"].data)
                aperture = aperture.astype(aperture.dtype.newbyteorder("="))
    except DataError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataError(f"{path}: cannot read as a {mission.name} lightcurve file ({exc})") from None
    season = checked_season(path, primary, lc_header, "LIGHTCURVE", mission)
    columns["mjd_tdb"] = mjd_tdb(columns[mission.time_column], lc_header.get("BJDREFI", mission.bjdrefi),
                                 lc_header.get("BJDREFF", 0.0))
    n = columns[mission.time_column].size
    cadence = cadence_seconds(lc_header)
    if np.isnan(cadence) and n > 1:
        # lightkurve's to_fits writes no TIMEDEL: the cadence is the usual spacing of the time stamps.
        steps = np.diff(columns[mission.time_column])
        steps = steps[np.isfinite(steps) & (steps > 0)]
        cadence = float(np.median(steps)) * 86400.0 if steps.size else cadence
    columns[mission.season_column] = np.full(n, season, dtype=np.int32)
    columns["cadence_s"] = np.full(n, cadence, dtype=np.float64)
    columns = {name: columns[name] for name in raw_columns}
    ra, dec = target_position(primary)
    return MissionLightcurveFile(
        path=path, target_id=target_id(primary, mission), season=season, ra=ra, dec=dec,
        cadence_s=cadence, columns=columns, primary=primary, lightcurve=lc_header, aperture=aperture,
    )


def _lightkurve_written(primary: dict, names: set[str]) -> bool:
    # ``LightCurve.to_fits()`` names itself the creator and writes TIME, FLUX and FLUX_ERR (no SAP/PDCSAP).
    return str(primary.get("CREATOR", "")).startswith("lightkurve") and {"TIME", "FLUX", "FLUX_ERR"} <= names


def _lightkurve_columns(path: Path, mission: Mission, data, names: set[str]) -> dict[str, np.ndarray]:
    """The raw columns of a file lightkurve wrote: its FLUX stands for the PDCSAP flux (lightkurve's default).

    Its TIME is in the mission's own days (BTJD, BKJD), as lightkurve reads and writes them; SAP columns are
    taken when the file has them, NaN otherwise. A flux not in e-/s (normalised, say) is refused.
    """
    unit = str(data.columns["FLUX"].unit or "").replace(" ", "")
    if unit not in ("e-/s", "electron/s", "electron.s**-1", "electron/second"):
        raise DataError(f"{path}: lightkurve file with FLUX in {unit or 'no unit'!r}, not e-/s "
                        "(a normalised lightcurve cannot be ingested)")
    raw = mission.raw_columns
    n = len(data)
    nan = np.full(n, np.nan, dtype=np.float32)
    quality = next((c for c in ("QUALITY", *mission.quality_columns) if c in names), None)
    return {
        mission.time_column: np.asarray(data["TIME"]).astype(raw[mission.time_column]),
        "pdcsap_flux": np.asarray(data["FLUX"]).astype(np.float32),
        "pdcsap_flux_err": np.asarray(data["FLUX_ERR"]).astype(np.float32),
        "sap_flux": np.asarray(data["SAP_FLUX"]).astype(np.float32) if "SAP_FLUX" in names else nan,
        "sap_flux_err": np.asarray(data["SAP_FLUX_ERR"]).astype(np.float32) if "SAP_FLUX_ERR" in names else nan,
        "quality": np.asarray(data[quality]).astype(np.int32) if quality else np.zeros(n, dtype=np.int32),
        "cadenceno": (np.asarray(data["CADENCENO"]).astype(np.int32) if "CADENCENO" in names
                      else np.arange(n, dtype=np.int32)),
    }


def _file_columns(mission: Mission, names: set[str]) -> dict[str, str]:
    # The first quality column the file has; if none, the mission's usual name (reported as missing).
    quality = next((c for c in mission.quality_columns if c in names), mission.quality_columns[0])
    return {mission.time_column: "TIME", "sap_flux": "SAP_FLUX", "sap_flux_err": "SAP_FLUX_ERR",
            "pdcsap_flux": "PDCSAP_FLUX", "pdcsap_flux_err": "PDCSAP_FLUX_ERR", "quality": quality,
            "cadenceno": "CADENCENO"}


def checked_season(path: Path, primary: dict, table_header: dict, table: str, mission: Mission) -> int:
    """Check a mission file's MISSION keyword and TDB time system; return its season.

    Shared by the lightcurve files and the target pixel files, which carry the same keywords.

    Parameters
    ----------
    path : pathlib.Path
        The file (named in errors).
    primary, table_header : dict
        Its primary header and the header of its data table, as :func:`header_to_dict` gives them.
    table : str
        The data table's name, for the errors.
    mission : Mission
        The mission it should be of.

    Returns
    -------
    int
        Quarter, campaign or sector: the header's keyword, else read from the file name.

    Raises
    ------
    DataError
        A file of another mission, no season, or a time system other than TDB.
    """
    # Kepler and K2 files share every column and keyword but MISSION; without this check a K2 file
    # ingested as Kepler would fail later on a missing QUARTER, which says less.
    value = primary.get("MISSION")
    if mission.mission_values and isinstance(value, str) and value.strip() not in mission.mission_values:
        raise DataError(f"{path}: a {value.strip()} file (MISSION keyword), not {mission.name}")
    season = primary.get(mission.season_keyword)
    if not isinstance(season, int) or isinstance(season, bool):
        season = mission.season_from_filename(path.name)
    if season is None:
        raise DataError(f"{path}: no {mission.season_keyword} keyword and no {mission.season_word} in the file name")
    timesys = str(table_header.get("TIMESYS", "TDB")).upper()
    if timesys != "TDB":
        raise DataError(f"{path}: {table} TIMESYS is {timesys!r}, expected 'TDB'")
    return int(season)


def target_id(primary: dict, mission: Mission) -> int | None:
    """Return the mission's target number (KEPLERID, K2_ID/KEPLERID, TICID) from the primary header, or None."""
    target = primary.get(mission.target_keyword)
    return target if isinstance(target, int) and not isinstance(target, bool) else None


def target_position(primary: dict) -> tuple[float, float]:
    """Return the primary header's ``(RA_OBJ, DEC_OBJ)`` in degrees, NaN where missing or not a number."""
    return _float_or_nan(primary.get("RA_OBJ")), _float_or_nan(primary.get("DEC_OBJ"))


def _float_or_nan(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
