"""FITS checksums of mission files (TESS SPOC, Kepler, K2), which carry CHECKSUM but no DATASUM."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virtualobserver.domain.errors import DataError

__all__ = ["BLOCK", "hdu_checksum_sums", "ones_complement_sum", "verify_fits_checksums"]

#: FITS files are written in blocks of this many bytes.
BLOCK = 2880


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

    SPOC and Kepler files carry CHECKSUM but no DATASUM, so astropy's own
    check (which takes a missing DATASUM as 0) reports false failures;
    summing each whole HDU (header and data) is the check the FITS checksum
    convention defines.

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
