"""HEALPix nested pixel indices of sky positions and the pixel ranges that cover a cone, in numpy.

A source's index at :data:`INDEX_ORDER` (nside 2**20, pixels of about 0.2 arcsec) is kept in the
database; every pixel of a coarser order ``k`` is the contiguous range of its
``4**(INDEX_ORDER - k)`` descendants, so a cone becomes a few ``BETWEEN`` ranges on a btree index,
followed by an exact distance test. The pixelisation is Górski et al. (2005), as in the HEALPix
C++ library's ``loc2pix`` (the same indices as ``cdshealpix``, checked by the tests); the cone cover
is ``cdshealpix``'s, and the tests check against brute force that it contains every index inside the cone.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["INDEX_ORDER", "ang2pix_nested", "cone_ranges"]

#: Order of the stored index: nside = 2**20, 12 * 4**20 pixels of ~0.2 arcsec (fits in int64).
INDEX_ORDER = 20
_TWO_THIRDS = 2.0 / 3.0
#: Mean pixel size (deg) at order 0: sqrt(4 pi / 12) rad.
_SIZE_ORDER0 = math.degrees(math.sqrt(4.0 * math.pi / 12.0))
#: Above this radius a cone is answered by one full range (the cover would be most of the sky).
_FULL_SKY_RADIUS = 30.0
#: Cone cover: cells up to this many orders finer than the coarse order (about 1.7 times the cone's area,
#: as many ranges as the coarse order gave; two finer: 1.3 times in twice as many ranges).
_FINER = 1
#: A zero radius (an exact position) is searched as a cone of 1 micro-arcsecond: cdshealpix wants a positive one.
_SMALLEST_RADIUS = 1e-6 / 3600.0


def _spread_bits(v: np.ndarray) -> np.ndarray:
    # Interleave zeros between the low 32 bits of v (Morton code): bit i goes to bit 2 i.
    v = v.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def ang2pix_nested(order: int, ra, dec) -> np.ndarray:
    """Return the nested HEALPix index of each position at ``order`` (nside = 2**order).

    Parameters
    ----------
    order : int
        HEALPix order, 0 to 29.
    ra, dec : array_like
        Right ascension and declination in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray
        ``int64`` pixel indices in ``[0, 12 * 4**order)``.

    Examples
    --------
    >>> ang2pix_nested(0, [45.0, 0.0, 45.0], [60.0, 0.0, -60.0]).tolist()
    [0, 4, 8]
    """
    if not 0 <= order <= 29:
        raise ValueError(f"HEALPix order must be 0..29, got {order}")
    nside = 1 << order
    ra, dec = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
    dec_rad = np.radians(dec)
    z = np.sin(dec_rad)
    za = np.abs(z)
    tt = np.mod(np.mod(ra, 360.0) / 90.0, 4.0)  # phi / (pi / 2) in [0, 4)

    # Equatorial belt: indices of the ascending (jp) and descending (jm) edge lines.
    temp1 = nside * (0.5 + tt)
    temp2 = nside * (z * 0.75)
    jp = (temp1 - temp2).astype(np.int64)
    jm = (temp1 + temp2).astype(np.int64)
    ifp, ifm = jp >> order, jm >> order
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1

    # Polar caps; near the poles cos(dec) keeps the precision that sqrt(1 - |z|) loses.
    ntt = np.minimum(tt.astype(np.int64), 3)
    tp = tt - ntt
    with np.errstate(invalid="ignore", divide="ignore"):
        tmp = np.where(za < 0.99, nside * np.sqrt(np.maximum(3.0 * (1.0 - za), 0.0)),
                       nside * np.cos(dec_rad) / np.sqrt((1.0 + za) / 3.0))
    jp_p = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm_p = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_p = np.where(north, ntt, ntt + 8)
    ix_p = np.where(north, nside - jm_p - 1, jp_p)
    iy_p = np.where(north, nside - jp_p - 1, jm_p)

    equatorial = za <= _TWO_THIRDS
    face = np.where(equatorial, face_eq, face_p).astype(np.int64)
    ix = np.where(equatorial, ix_eq, ix_p)
    iy = np.where(equatorial, iy_eq, iy_p)
    inner = _spread_bits(ix) | (_spread_bits(iy) << np.uint64(1))
    return face * (nside * nside) + inner.astype(np.int64)


def _order_for(radius_deg: float) -> int:
    # The finest order whose pixels are still at least half the radius: a cone then needs a few
    # dozen coarse pixels at most, and the cover's excess area stays a small multiple of the cone's.
    if radius_deg <= 0:
        return INDEX_ORDER
    return int(min(INDEX_ORDER, max(0, math.floor(math.log2(_SIZE_ORDER0 / radius_deg)) + 1)))


def cone_ranges(ra: float, dec: float, radius_deg: float) -> list[tuple[int, int]]:
    """Return inclusive ranges of :data:`INDEX_ORDER` indices that contain every position within the cone.

    The cover is ``cdshealpix``'s cone search (the CDS HEALPix library, which MOCpy and Aladin use): every
    cell that overlaps the cone, at most two orders finer than the coarse order whose pixels are at
    least half the radius wide (:func:`_order_for`), merged into a multi-order map. Each cell is the
    contiguous range of its descendants at :data:`INDEX_ORDER`, and adjacent ranges merge. The cover
    may hold positions outside the cone (about 1.5 times its area); callers test the exact distance.

    Parameters
    ----------
    ra, dec : float
        Centre in degrees.
    radius_deg : float
        Radius in degrees.

    Returns
    -------
    list of tuple of int
        Sorted, disjoint ``(first, last)`` index ranges.

    Examples
    --------
    >>> ranges = cone_ranges(10.0, 20.0, 1 / 60)
    >>> all(lo <= hi for lo, hi in ranges)
    True
    """
    if radius_deg >= _FULL_SKY_RADIUS:
        return [(0, 12 * 4**INDEX_ORDER - 1)]
    # Imported here: astropy's units and angles (which cdshealpix's interface takes) cost a second to
    # import, and only cone searches need them.
    import astropy.units as u
    from astropy.coordinates import Latitude, Longitude
    from cdshealpix.nested import cone_search

    depth = min(INDEX_ORDER, _order_for(radius_deg) + _FINER)
    cells, depths, _ = cone_search(Longitude(float(ra) % 360.0, u.deg), Latitude(float(dec), u.deg),
                                   max(float(radius_deg), _SMALLEST_RADIUS) * u.deg, depth)
    shift = 2 * (INDEX_ORDER - depths.astype(np.int64))
    first = cells.astype(np.int64) << shift
    last = ((cells.astype(np.int64) + 1) << shift) - 1
    order = np.argsort(first)
    return _merged(first[order], last[order])


def _merged(first: np.ndarray, last: np.ndarray) -> list[tuple[int, int]]:
    # Sorted, disjoint ranges: a range that starts right after the previous one ends extends it.
    if first.size == 0:
        return []
    breaks = np.flatnonzero(first[1:] != last[:-1] + 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [first.size - 1]])
    return [(int(first[i]), int(last[j])) for i, j in zip(starts, ends)]
