"""domain.astrometry.mjd_from_heliocentric against astropy's heliocentric light travel time."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time

from virtualobserver.domain.astrometry import PALOMAR, mjd_from_heliocentric


def test_heliocentric_times_go_back_to_utc_within_a_millisecond_of_astropy():
    rng = np.random.default_rng(5)
    mjd = np.sort(rng.uniform(58200.0, 60800.0, 500))  # ZTF's years, 2018-2025
    ra, dec = rng.uniform(0.0, 360.0, 500), np.degrees(np.arcsin(rng.uniform(-0.5, 1.0, 500)))
    site = EarthLocation.from_geodetic(PALOMAR[0] * u.deg, PALOMAR[1] * u.deg, PALOMAR[2] * u.m)
    light = Time(mjd, format="mjd", scale="utc", location=site).light_travel_time(
        SkyCoord(ra * u.deg, dec * u.deg), kind="heliocentric").to_value(u.day)
    assert np.abs(light).max() * 86400 > 400  # up to ~8.3 minutes: the conversion matters
    back = mjd_from_heliocentric(mjd + light, ra, dec)
    assert np.abs(back - mjd).max() * 86400 < 1e-3


def test_missing_times_stay_missing_and_one_position_serves_all():
    hmjd = np.array([59000.3, np.nan, 59010.7])
    out = mjd_from_heliocentric(hmjd, 150.0, 2.0)
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    np.testing.assert_array_equal(out[[0, 2]], mjd_from_heliocentric(hmjd[[0, 2]], [150.0, 150.0], [2.0, 2.0]))
    assert np.isnan(mjd_from_heliocentric(np.array([np.nan]), 1.0, 2.0)).all()
