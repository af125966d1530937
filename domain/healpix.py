"""HEALPix nested pixel indices of sky positions and the pixel ranges that cover a cone, in numpy.

A source's index at :data:`INDEX_ORDER` (nside 2**20, pixels of about 0.2 arcsec) is kept in the
database; every pixel of a coarser order ``k`` is the contiguous range of its
``4**(INDEX_ORDER - k)`` descendants, so a cone becomes a few ``BETWEEN`` ranges on a btree index,
followed by an exact distance test. The pixelisation is Górski et al. (2005), as in the HEALPix
C++ library's ``loc2pix``; only this module's own indices are ever compared, so what matters is
that a cone's cover contains every index inside the cone, which :func:`cone_ranges` guarantees by
construction (see there) and the tests check against brute force.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["INDEX_ORDER", "ang2pix_nested", "cone_ranges", "angular_distance_deg"]

#: Order of the stored index: nside = 2**20, 12 * 4**20 pixels of ~0.2 arcsec (fits in int64).
INDEX_ORDER = 20
_TWO_THIRDS = 2.0 / 3.0
#: Mean pixel size (deg) at order 0: sqrt(4 pi / 12) rad.
_SIZE_ORDER0 = math.degrees(math.sqrt(4.0 * math.pi / 12.0))
#: Above this radius a cone is answered by one full range (the cover would be most of the sky).
_FULL_SKY_RADIUS = 30.0
#: Cone cover: the cone is widened by _MARGIN pixel sizes and sampled every 1/_DENSITY pixel size.
_MARGIN, _DENSITY = 1.5, 6.0


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


def angular_distance_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Return great-circle distances in degrees (haversine, exact for small angles).

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : array_like
        Positions in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray
        Distances in degrees.
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2.0) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2.0) ** 2
    return np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def _order_for(radius_deg: float) -> int:
    # The finest order whose pixels are still at least half the radius: a cone then needs a few
    # dozen coarse pixels at most, and the cover's excess area stays a small multiple of the cone's.
    if radius_deg <= 0:
        return INDEX_ORDER
    return int(min(INDEX_ORDER, max(0, math.floor(math.log2(_SIZE_ORDER0 / radius_deg)) + 1)))


def _disc_samples(ra: float, dec: float, radius_deg: float, spacing_deg: float) -> tuple[np.ndarray, np.ndarray]:
    # A square grid on the plane tangent at the centre (gnomonic), rotated back to the sphere.
    n = int(math.ceil(radius_deg / spacing_deg))
    steps = np.tan(np.radians(np.arange(-n, n + 1) * spacing_deg))
    x, y = np.meshgrid(steps, steps)
    inside = np.hypot(np.degrees(np.arctan(x)), np.degrees(np.arctan(y))) <= radius_deg + spacing_deg
    x, y = x[inside], y[inside]
    ra0, dec0 = math.radians(ra), math.radians(dec)
    # Inverse gnomonic projection about (ra0, dec0).
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        sin_dec = np.cos(c) * math.sin(dec0) + np.where(rho > 0, y * np.sin(c) * math.cos(dec0) / rho, 0.0)
        dec_s = np.arcsin(np.clip(sin_dec, -1.0, 1.0))
        ra_s = ra0 + np.arctan2(x * np.sin(c), rho * math.cos(dec0) * np.cos(c) - y * math.sin(dec0) * np.sin(c))
    return np.degrees(ra_s) % 360.0, np.degrees(dec_s)


def cone_ranges(ra: float, dec: float, radius_deg: float) -> list[tuple[int, int]]:
    """Return inclusive ranges of :data:`INDEX_ORDER` indices that contain every position within the cone.

    The cone is covered with pixels of a coarse order ``k`` (at least half the radius wide), found by
    sampling the cone widened by two pixel sizes on a grid of 1/16 of a pixel: every pixel that
    touches the cone holds a disc of about a quarter of its size within two pixel sizes of the
    cone, which such a grid cannot miss. Adjacent pixels merge into one range. The cover may hold
    positions outside the cone; callers test the exact distance.

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
    order = _order_for(radius_deg)
    size = _SIZE_ORDER0 / (1 << order)
    ra_s, dec_s = _disc_samples(ra, dec, radius_deg + _MARGIN * size, size / _DENSITY)
    pixels = np.unique(ang2pix_nested(order, ra_s, dec_s))
    shift = 2 * (INDEX_ORDER - order)
    ranges: list[tuple[int, int]] = []
    for start, stop in _runs(pixels):
        ranges.append((int(start) << shift, ((int(stop) + 1) << shift) - 1))
    return ranges


def _runs(sorted_values: np.ndarray):
    # (first, last) of each run of consecutive integers.
    if sorted_values.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(sorted_values) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [sorted_values.size - 1]])
    return list(zip(sorted_values[starts], sorted_values[ends]))
