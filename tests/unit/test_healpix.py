"""HEALPix nested indices and cone covers (domain.healpix) against brute force."""

import numpy as np
import pytest

from virtualobserver.domain.healpix import INDEX_ORDER, angular_distance_deg, ang2pix_nested, cone_ranges


def _sky(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def test_base_pixels_and_poles():
    # Face centres: north cap faces 0-3, equatorial 4-7, south 8-11.
    assert ang2pix_nested(0, [45, 135, 225, 315], 60).tolist() == [0, 1, 2, 3]
    assert ang2pix_nested(0, [0, 90, 180, 270], 0).tolist() == [4, 5, 6, 7]
    assert ang2pix_nested(0, [45, 135, 225, 315], -60).tolist() == [8, 9, 10, 11]
    assert 0 <= ang2pix_nested(INDEX_ORDER, 0.0, 90.0) < 12 * 4**INDEX_ORDER
    assert 0 <= ang2pix_nested(INDEX_ORDER, 359.9999999, -90.0) < 12 * 4**INDEX_ORDER


def test_nested_hierarchy_and_equal_area():
    ra, dec = _sky(200_000)
    fine = ang2pix_nested(8, ra, dec)
    for order in (0, 3, 7):
        assert np.array_equal(ang2pix_nested(order, ra, dec), fine >> (2 * (8 - order)))
    counts = np.bincount(ang2pix_nested(2, ra, dec), minlength=192)
    expected = ra.size / 192
    assert abs(counts - expected).max() < 6 * np.sqrt(expected)  # equal-area pixels


def test_order_out_of_range_is_refused():
    with pytest.raises(ValueError, match="order must be 0..29"):
        ang2pix_nested(30, 0.0, 0.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_cone_cover_holds_every_position_inside(seed):
    ra, dec = _sky(300_000, seed)
    pixels = ang2pix_nested(INDEX_ORDER, ra, dec)
    rng = np.random.default_rng(seed + 10)
    centres = [(rng.uniform(0, 360), rng.uniform(-90, 90)) for _ in range(40)]
    centres += [(10.0, 89.99), (200.0, -89.99), (359.999, 0.0), (0.0, 41.81), (123.0, -41.81)]
    for c_ra, c_dec in centres:
        radius = 10 ** rng.uniform(-1.5, 1.2)
        ranges = cone_ranges(c_ra, c_dec, radius)
        covered = np.zeros(ra.size, bool)
        for lo, hi in ranges:
            covered |= (pixels >= lo) & (pixels <= hi)
        inside = angular_distance_deg(c_ra, c_dec, ra, dec) <= radius
        assert covered[inside].all(), (c_ra, c_dec, radius)
        assert len(ranges) <= 40
        assert all(lo <= hi for lo, hi in ranges)


def test_large_cone_is_the_whole_sky():
    assert cone_ranges(0.0, 0.0, 45.0) == [(0, 12 * 4**INDEX_ORDER - 1)]


def test_angular_distance():
    assert angular_distance_deg(0, 0, 90, 0) == pytest.approx(90.0)
    assert angular_distance_deg(10, 89.999, 190, 89.999) == pytest.approx(0.002, rel=1e-6)
    assert angular_distance_deg(359.5, 0, 0.5, 0) == pytest.approx(1.0)
