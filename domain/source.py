"""A target of the search: one row of the catalog, inside one project."""

from __future__ import annotations

import math

__all__ = ["Source"]


class Source:
    """A sky position with catalog properties, unique by ``name`` within a project.

    Parameters
    ----------
    name : str
        Catalog identifier (e.g. a Gaia ``source_id`` as text).
    ra, dec : float
        ICRS position in degrees.
    mag, mag_err : float, optional
        Catalog magnitude and its uncertainty.
    pmra, pmdec : float, optional
        Proper motion in mas/yr (``pmra`` includes cos dec).
    parallax : float, optional
        Parallax in mas.
    epoch : float, optional
        Julian year of the position (e.g. 2016.0 for Gaia DR3); with the
        proper motion it gives the position at another epoch.
    project : str, optional
        Name of the project the source belongs to.
    """

    def __init__(
        self,
        name: str,
        ra: float,
        dec: float,
        mag: float | None = None,
        mag_err: float | None = None,
        pmra: float | None = None,
        pmdec: float | None = None,
        parallax: float | None = None,
        project: str | None = None,
        epoch: float | None = None,
    ):
        # One update of __dict__ rather than an assignment per attribute: once the ORM maps the class,
        # every assignment is an attribute event, and a new source has no session to track them (the
        # repository inserts rows itself).
        self.__dict__.update(
            id=None, name=str(name), ra=float(ra), dec=float(dec), mag=_optional_float(mag),
            mag_err=_optional_float(mag_err), pmra=_optional_float(pmra), pmdec=_optional_float(pmdec),
            parallax=_optional_float(parallax), project=project, epoch=_optional_float(epoch))

    def __repr__(self) -> str:
        return f"Source({self.name!r}, ra={self.ra:.5f}, dec={self.dec:.5f}, mag={self.mag})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Source)
            and self.name == other.name
            and self.project == other.project
            and math.isclose(self.ra, other.ra)
            and math.isclose(self.dec, other.dec)
        )

    def __hash__(self) -> int:
        return hash((self.project, self.name))


def _optional_float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
