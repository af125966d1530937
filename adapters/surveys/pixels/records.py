"""PixelFile: what a pixel download hands back (a stored FITS file and what it holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "PixelFile"]

#: Kinds of pixel file: a mission target pixel file, a TESScut FFI cutout, a ZTF science image cutout.
KINDS = ("tpf", "tesscut", "ztf_cutout")


@dataclass(frozen=True)
class PixelFile:
    """One pixel file stored in the raw-answer cache, checked before it got there.

    Attributes
    ----------
    path : pathlib.Path
        The FITS file (read it lazily, e.g. ``astropy.io.fits.open(path, memmap=True)``).
    survey : str
        ``"kepler"``, ``"k2"``, ``"tess"`` or ``"ztf"``.
    target : str
        Source name the file was asked for.
    kind : str
        One of :data:`KINDS`.
    shape : tuple of int
        ``(cadences, rows, columns)`` for ``tpf`` and ``tesscut``; ``(rows, columns)`` for
        ``ztf_cutout``: the real shape, which for a clipped cutout is smaller than asked.
    season : int or None
        Quarter (Kepler), campaign (K2) or sector (TESS); None for ZTF.
    obsjd : float or None
        Start of the ZTF exposure (JD, UTC); None for the others.
    meta : dict
        JSON-able details: ``target_id``, ``uri`` (TPF); ``camera``, ``ccd``, ``size_px`` (TESScut);
        ``filtercode``, ``field``, ``ccdid``, ``qid``, ``url``, ``size_arcsec``, ``clipped`` (ZTF).
    """

    path: Path
    survey: str
    target: str
    kind: str
    shape: tuple[int, ...]
    season: int | None = None
    obsjd: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"pixel file kind {self.kind!r} is not one of {KINDS}")
