"""Angular separations, positions at another epoch from proper motions, and the search radius a moving star needs."""

from __future__ import annotations

import numpy as np

__all__ = ["MAS_PER_DEG", "ARCSEC_PER_DEG", "PALOMAR", "angular_separation_deg", "julian_year_of_mjd",
           "mjd_from_heliocentric", "propagate_position",
           "proper_motion_radius"]

MAS_PER_DEG = 3.6e6
ARCSEC_PER_DEG = 3600.0


def angular_separation_deg(ra1, dec1, ra2, dec2):
    """Return the great-circle distance between positions in degrees: the one separation of the code.

    astropy's :func:`astropy.coordinates.angular_separation` (Vincenty's formula: exact at every
    distance, from arcseconds to antipodes, where the haversine loses precision), the same values
    ``SkyCoord.separation`` gives, without building coordinate objects.

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : float or array_like
        Right ascensions and declinations in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray
        Separations in degrees (a 0-d array for scalar input: ``float()`` it).

    Examples
    --------
    >>> round(float(angular_separation_deg(0.0, 90.0, 180.0, 89.0)), 9)
    1.0
    """
    # astropy.coordinates costs half a second to import: loaded by the first caller (a cone search, an
    # ingest, a survey's product choice), not by every module that imports the domain.
    from astropy.coordinates import angular_separation

    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    return np.degrees(np.asarray(angular_separation(ra1, dec1, ra2, dec2)))


def julian_year_of_mjd(mjd):
    """Return the Julian year (e.g. 2016.0 = J2016.0) of an MJD.

    Parameters
    ----------
    mjd : float or array_like
        Modified Julian date.

    Returns
    -------
    float or numpy.ndarray
        Julian epoch in years.

    Examples
    --------
    >>> round(float(julian_year_of_mjd(51544.5)), 6)
    2000.0
    """
    return 2000.0 + (np.asarray(mjd, dtype=float) - 51544.5) / 365.25


def propagate_position(ra, dec, pmra, pmdec, from_year, to_year):
    """Move positions along their proper motion from one epoch to another.

    A linear (tangent-plane) motion; over decades it differs from rigorous
    space motion by far less than a survey's astrometric error. A missing
    (NaN or None) proper motion counts as zero, so the position is unchanged.

    Parameters
    ----------
    ra, dec : float or array_like
        Positions in degrees at ``from_year``.
    pmra, pmdec : float or array_like or None
        Proper motion in mas/yr (``pmra`` includes the cos dec factor).
    from_year, to_year : float or array_like
        Julian years.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ra, dec)`` in degrees at ``to_year``; ra wrapped into [0, 360), dec clipped to [-90, 90].

    Examples
    --------
    >>> ra, dec = propagate_position(10.0, 0.0, 3.6e6, 0.0, 2000.0, 2001.0)
    >>> float(ra), float(dec)
    (11.0, 0.0)
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    pmra = np.nan_to_num(np.asarray(pmra if pmra is not None else 0.0, dtype=float))
    pmdec = np.nan_to_num(np.asarray(pmdec if pmdec is not None else 0.0, dtype=float))
    years = np.asarray(to_year, dtype=float) - np.asarray(from_year, dtype=float)
    years = np.nan_to_num(years)
    cos_dec = np.maximum(np.cos(np.radians(dec)), 1e-9)
    new_ra = np.mod(ra + pmra * years / MAS_PER_DEG / cos_dec, 360.0)
    new_dec = np.clip(dec + pmdec * years / MAS_PER_DEG, -90.0, 90.0)
    return new_ra, new_dec


def proper_motion_radius(radius_deg, pmra, pmdec, years):
    """Return a search radius widened by how far the star moves over ``years``.

    Parameters
    ----------
    radius_deg : float
        Radius for a star that does not move (degrees).
    pmra, pmdec : float or None
        Proper motion in mas/yr; missing counts as zero.
    years : float
        Largest time between the catalog epoch and any epoch searched.

    Returns
    -------
    float
        ``radius_deg`` plus the total proper motion times ``abs(years)``.

    Examples
    --------
    >>> proper_motion_radius(0.001, 3600.0, 0.0, 10.0)
    0.011
    """
    pm = np.hypot(np.nan_to_num(float(pmra or 0.0)), np.nan_to_num(float(pmdec or 0.0)))
    return float(radius_deg + pm * abs(float(years)) / MAS_PER_DEG)


#: Palomar Observatory (ZTF's site): geodetic longitude, latitude (degrees) and height (metres).
PALOMAR = (-116.8650, 33.3564, 1712.0)
#: Step (days) of the table of the Earth's heliocentric position and velocity that times are interpolated in
#: (cubic Hermite): the error, ~h**4/384 times the 4th derivative, is ~35 m on the 30 km/s orbit (0.1 us of light).
_HELIO_STEP_DAYS = 1.0


def mjd_from_heliocentric(hmjd, ra, dec, site=PALOMAR):
    """Return UTC MJDs from heliocentric ones (HJD - 2400000.5 on the UTC scale), for sources at ``ra``, ``dec``.

    HMJD = MJD + (r · n) / c, with r the observatory's position relative to the Sun at MJD and n the
    unit vector towards the source (astropy's ``Time.light_travel_time(kind="heliocentric")``). The
    Earth's position and velocity are tabulated every day over the span of the times (astropy's
    built-in ephemeris) and interpolated (cubic Hermite); the observatory's offset from the geocentre
    is its terrestrial vector turned by the Earth rotation angle (precession and nutation left out: at
    most ~40 km, 0.15 ms, in the 2020s). Solved by fixed-point iteration (the light time changes by
    < 1e-4 of a shift of the time). Within a millisecond of astropy's full computation.

    Parameters
    ----------
    hmjd : array_like
        Heliocentric modified Julian dates (UTC).
    ra, dec : array_like
        Source positions (degrees, ICRS), one per time or one for all.
    site : tuple of float
        Observatory longitude, latitude (degrees) and height (metres); default Palomar.

    Returns
    -------
    numpy.ndarray
        MJD (UTC) of each time; NaN where ``hmjd`` is NaN.
    """
    import astropy.units as u
    from astropy.constants import c
    from astropy.coordinates import EarthLocation, get_body_barycentric_posvel
    from astropy.time import Time

    hmjd = np.asarray(hmjd, dtype=float)
    out = np.full(hmjd.shape, np.nan)
    finite = np.isfinite(hmjd)
    if not finite.any():
        return out
    light_day = c.to_value(u.m / u.s) * 86400.0
    start = np.floor(np.min(hmjd[finite])) - 1.0
    grid = np.arange(start, np.max(hmjd[finite]) + 2.0, _HELIO_STEP_DAYS)
    times = Time(grid, format="mjd", scale="utc")
    (earth, earth_v), (sun, sun_v) = (get_body_barycentric_posvel(body, times) for body in ("earth", "sun"))
    position = (earth - sun).xyz.to_value(u.m) / light_day  # light days
    velocity = (earth_v - sun_v).xyz.to_value(u.m / u.day) / light_day  # light days per day
    site_xyz = EarthLocation.from_geodetic(site[0] * u.deg, site[1] * u.deg, site[2] * u.m).to_value(u.m)
    site_xyz = [float(v) / light_day for v in site_xyz]
    r = np.radians(np.broadcast_to(ra, hmjd.shape)[finite])
    d = np.radians(np.broadcast_to(dec, hmjd.shape)[finite])
    towards = (np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d))
    mjd = hmjd[finite]
    for _ in range(3):
        # Earth rotation angle (IAU 2000) with UT1 ~ UTC (< 0.9 s: 0.4 km).
        era = 2 * np.pi * (0.7790572732640 + 1.00273781191135448 * (mjd - 51544.5))
        cos_era, sin_era = np.cos(era), np.sin(era)
        x, y, z = _hermite(mjd, grid, position, velocity)
        x = x + cos_era * site_xyz[0] - sin_era * site_xyz[1]
        y = y + sin_era * site_xyz[0] + cos_era * site_xyz[1]
        z = z + site_xyz[2]
        mjd = hmjd[finite] - (x * towards[0] + y * towards[1] + z * towards[2])
    out[finite] = mjd
    return out


def _hermite(t, grid, position, velocity):
    # Cubic Hermite interpolation of (3, n) positions with their time derivatives on an even grid.
    step = grid[1] - grid[0]
    i = np.clip(((t - grid[0]) // step).astype(np.int64), 0, grid.size - 2)
    s = (t - grid[i]) / step
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return [h00 * position[k, i] + h10 * step * velocity[k, i] + h01 * position[k, i + 1]
            + h11 * step * velocity[k, i + 1] for k in range(3)]
