"""TESS SPOC lightcurve files (``*_lc.fits``): checksums, columns, headers, aperture and QUALITY masks."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from domain.errors import DataError

__all__ = [
    "BLOCK",
    "QUALITY_BITS",
    "QUALITY_PRESETS",
    "NAN_FLAG",
    "RAW_COLUMNS",
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

#: FITS files are written in blocks of this many bytes.
BLOCK = 2880
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
QUALITY_PRESETS = {
    "none": 0,
    "default": sum(_DEFAULT_BITS),
    "hard": sum(_DEFAULT_BITS) | sum(_HARD_EXTRA_BITS),
    "hardest": sum(QUALITY_BITS),
}
#: Flag bit set where the time or the flux is NaN, far above every QUALITY bit, so such cadences are never used.
NAN_FLAG = 1 << 30
#: TESS magnitude of 1 e-/s (Vanderspek et al., TESS Instrument Handbook: 15000 e-/s at Tmag 10).
TESS_ZERO_POINT = 20.44

#: Raw columns of a TESS download, with their dtypes (an empty download keeps the same layout).
RAW_COLUMNS = {
    "time_btjd": np.float64, "mjd_tdb": np.float64,
    "sap_flux": np.float32, "sap_flux_err": np.float32,
    "pdcsap_flux": np.float32, "pdcsap_flux_err": np.float32,
    "quality": np.int32, "sector": np.int32, "cadenceno": np.int32, "cadence_s": np.float64,
}
_FILE_COLUMNS = {
    "time_btjd": "TIME", "sap_flux": "SAP_FLUX", "sap_flux_err": "SAP_FLUX_ERR",
    "pdcsap_flux": "PDCSAP_FLUX", "pdcsap_flux_err": "PDCSAP_FLUX_ERR", "quality": "QUALITY",
    "cadenceno": "CADENCENO",
}
_MJD_OFFSET = 2400000.5
_SECTOR_IN_NAME = re.compile(r"-s(\d{4})-")


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
    try:
        return QUALITY_PRESETS[preset]
    except KeyError:
        raise DataError(f"unknown TESS quality preset {preset!r} (use {', '.join(QUALITY_PRESETS)})") from None


# -- checksums -------------------------------------------------------------------------------------------------------

def ones_complement_sum(data: bytes | memoryview) -> int:
    """Return the 32-bit ones'-complement sum of big-endian words (FITS checksum convention).

    Parameters
    ----------
    data : bytes
        Length a multiple of 4 (FITS HDUs are multiples of 2880 bytes).

    Returns
    -------
    int
        Sum folded into 32 bits; ``0xFFFFFFFF`` (negative zero) for an HDU whose CHECKSUM is right.

    Examples
    --------
    >>> hex(ones_complement_sum(b"\\xff\\xff\\xff\\xff\\x00\\x00\\x00\\x01"))
    '0x1'
    """
    words = np.frombuffer(data, dtype=">u4")
    total = 0
    # Chunks keep every partial uint64 sum far from overflow, whatever the file size.
    chunk = 1 << 24
    for start in range(0, words.size, chunk):
        total += int(words[start:start + chunk].sum(dtype=np.uint64))
    # Folding the carries back in is the end-around carry of ones'-complement addition.
    while total > 0xFFFFFFFF:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


@dataclass(frozen=True)
class _HduSpan:
    index: int
    start: int
    end: int
    extname: str
    has_checksum: bool


def _card_value(card: str) -> str:
    return card[10:].split("/", 1)[0].strip().strip("'").strip()


def _hdu_spans(raw: bytes, name: str) -> list[_HduSpan]:
    spans = []
    offset = 0
    while offset < len(raw):
        index = len(spans)
        keys: dict[str, str] = {}
        block = offset
        ended = False
        if index == 0 and not raw.startswith(b"SIMPLE  ="):
            raise DataError(f"{name}: not a FITS file (it does not start with SIMPLE =)")
        while not ended:
            if block + BLOCK > len(raw):
                raise DataError(f"{name}: truncated FITS file (header of HDU {index} ends at byte {len(raw)})")
            text = raw[block:block + BLOCK].decode("ascii", errors="replace")
            block += BLOCK
            for i in range(0, BLOCK, 80):
                card = text[i:i + 80]
                keyword = card[:8].strip()
                if keyword == "END":
                    ended = True
                    break
                if card[8:10] == "= " and keyword not in keys:
                    keys[keyword] = _card_value(card)
        try:
            bits = abs(int(keys["BITPIX"]))
            axes = [int(keys[f"NAXIS{k}"]) for k in range(1, int(keys["NAXIS"]) + 1)]
            pcount, gcount = int(keys.get("PCOUNT", 0)), int(keys.get("GCOUNT", 1))
        except (KeyError, ValueError) as exc:
            raise DataError(f"{name}: HDU {index} has a malformed size keyword ({exc})") from None
        size = bits // 8 * gcount * (pcount + math.prod(axes)) if axes else 0
        end = block + -(-size // BLOCK) * BLOCK
        if end > len(raw):
            raise DataError(f"{name}: truncated FITS file (HDU {index} needs {end} bytes, file has {len(raw)})")
        spans.append(_HduSpan(index, offset, end, keys.get("EXTNAME", "PRIMARY" if index == 0 else ""),
                              "CHECKSUM" in keys))
        offset = end
    return spans


def hdu_checksum_sums(path: str | Path) -> list[tuple[str, int, bool]]:
    """Return, per HDU, its EXTNAME, the ones'-complement sum over its bytes and whether it has a CHECKSUM.

    Parameters
    ----------
    path : str or pathlib.Path
        FITS file.

    Returns
    -------
    list of tuple
        ``(extname, sum, has_checksum)`` in file order.

    Raises
    ------
    DataError
        If the file is not FITS or is truncated.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw or len(raw) % BLOCK:
        raise DataError(f"{path}: truncated FITS file ({len(raw)} bytes is not a multiple of {BLOCK})")
    return [(s.extname, ones_complement_sum(raw[s.start:s.end]), s.has_checksum) for s in _hdu_spans(raw, str(path))]


def verify_fits_checksums(path: str | Path, *, require: bool = True) -> int:
    """Check that every HDU with a CHECKSUM sums to negative zero (``0xFFFFFFFF``).

    SPOC files carry CHECKSUM but no DATASUM, so astropy's own check (which
    takes a missing DATASUM as 0) reports false failures; summing each whole
    HDU (header and data) is the check the FITS checksum convention defines.

    Parameters
    ----------
    path : str or pathlib.Path
        FITS file.
    require : bool
        Whether an HDU without CHECKSUM is an error (downloads from MAST) or
        is skipped (a user's own file).

    Returns
    -------
    int
        Number of HDUs verified.

    Raises
    ------
    DataError
        Naming the file and the HDU that fails, lacks a CHECKSUM, or is truncated.
    """
    checked = 0
    for index, (extname, total, has_checksum) in enumerate(hdu_checksum_sums(path)):
        if not has_checksum:
            if require:
                raise DataError(f"{path}: HDU {index} ({extname}) has no CHECKSUM keyword")
            continue
        if total != 0xFFFFFFFF:
            raise DataError(f"{path}: checksum of HDU {index} ({extname}) fails (sum {total:#010x}, "
                            "expected 0xffffffff); the file is corrupt")
        checked += 1
    return checked


# -- reading ---------------------------------------------------------------------------------------------------------

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


def cadence_seconds(lightcurve_header) -> float:
    """Return the exposure time of one cadence in seconds, from a LIGHTCURVE header.

    This is ``TIMEDEL`` (days) x 86400: 120 s for 2-min data, 20 s for fast
    data. It is the time each point averages over, which is what smears a
    short event such as a flare. The alternatives do not give that:
    ``EXPOSURE`` is the whole sector's time on source (22.08 d in sector 1,
    not per cadence), and ``INT_TIME * NUM_FRM`` (1.98 s x 60 = 118.8 s)
    leaves out the readout time between frames; ``FRAMETIM * NUM_FRM``
    (2.0 s x 60 = 120 s) is the fallback when TIMEDEL is absent.

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


def empty_columns() -> dict[str, np.ndarray]:
    """Return the raw TESS columns with zero length (the answer for a target without data)."""
    return {name: np.zeros(0, dtype=dtype) for name, dtype in RAW_COLUMNS.items()}


@dataclass
class TessLightcurveFile:
    """Contents of one SPOC lightcurve file.

    ``columns`` has every name of :data:`RAW_COLUMNS`, one row per cadence
    (cadences with NaN times included); ``mjd_tdb`` is BTJD + BJDREFI +
    BJDREFF - 2400000.5, on the TDB scale the file's TIMESYS states.
    """

    path: Path
    tic_id: int | None
    sector: int
    ra: float
    dec: float
    cadence_s: float
    columns: dict[str, np.ndarray]
    primary: dict = field(default_factory=dict)
    lightcurve: dict = field(default_factory=dict)
    aperture: np.ndarray | None = None


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
            missing = [c for c in _FILE_COLUMNS.values() if c not in names]
            if missing:
                raise DataError(f"{path}: LIGHTCURVE lacks columns {missing}")
            columns = {
                name: np.asarray(data[column]).astype(RAW_COLUMNS[name])
                for name, column in _FILE_COLUMNS.items()
            }
            aperture = None
            if "APERTURE" in hdus and hdus["APERTURE"].data is not None:
                aperture = np.asarray(hdus["APERTURE"].data)
                aperture = aperture.astype(aperture.dtype.newbyteorder("="))
    except DataError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataError(f"{path}: cannot read as a TESS lightcurve file ({exc})") from None
    sector = primary.get("SECTOR")
    if not isinstance(sector, int):
        sector = sector_from_filename(path.name)
    if sector is None:
        raise DataError(f"{path}: no SECTOR keyword and no sector in the file name")
    timesys = str(lc_header.get("TIMESYS", "TDB")).upper()
    if timesys != "TDB":
        raise DataError(f"{path}: LIGHTCURVE TIMESYS is {timesys!r}, expected 'TDB'")
    bjdrefi = lc_header.get("BJDREFI", 2457000)
    bjdreff = lc_header.get("BJDREFF", 0.0)
    # Subtract the integer parts first so the sum keeps the float64 precision of TIME (~10 us).
    columns["mjd_tdb"] = columns["time_btjd"] + ((float(bjdrefi) - _MJD_OFFSET) + float(bjdreff or 0.0))
    n = columns["time_btjd"].size
    cadence = cadence_seconds(lc_header)
    columns["sector"] = np.full(n, sector, dtype=RAW_COLUMNS["sector"])
    columns["cadence_s"] = np.full(n, cadence, dtype=RAW_COLUMNS["cadence_s"])
    columns = {name: columns[name] for name in RAW_COLUMNS}
    tic = primary.get("TICID")
    return TessLightcurveFile(
        path=path, tic_id=tic if isinstance(tic, int) else None, sector=int(sector),
        ra=_float_or_nan(primary.get("RA_OBJ")), dec=_float_or_nan(primary.get("DEC_OBJ")),
        cadence_s=cadence, columns=columns, primary=primary, lightcurve=lc_header, aperture=aperture,
    )


def _float_or_nan(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
