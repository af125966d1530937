"""Angular separations, positions at another epoch from proper motions, and the search radius a moving star needs."""

from __future__ import annotations

import numpy as np

__all__ = ["MAS_PER_DEG", "ARCSEC_PER_DEG", "angular_separation_deg", "julian_year_of_mjd", "propagate_position",
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
