"""Recognising a catalog file's name, position and magnitude columns by UCD, unit or common name.

A catalog names its columns as its archive likes (``RAJ2000`` in VizieR, ``ra`` with the UCD
``pos.eq.ra;meta.main`` in Gaia, ``RA_ICRS``, ``ra_deg`` ...). :func:`recognise` looks for the
column of one standard role through tiers of evidence, strongest first, and stops at the first tier
that has any candidate: one candidate is the answer, several are a choice only the user can make
(``RAJ2000`` beside ``RA_ICRS`` are positions at different epochs). Nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

__all__ = ["ColumnInfo", "Recognition", "recognise", "ROLES", "REQUIRED_ROLES", "suggest_mapping"]

#: Roles looked for, in the order a configuration lists them; the first three are required.
ROLES = ("name", "ra", "dec", "mag", "pmra", "pmdec", "parallax")
REQUIRED_ROLES = ("name", "ra", "dec")


@dataclass(frozen=True)
class ColumnInfo:
    """What a catalog file says about one column.

    Parameters
    ----------
    name : str
        Column name as in the file.
    unit : str
        Unit as astropy writes it (``"deg"``, ``"mag"``, ``"mas / yr"``), empty when none.
    ucd : str
        IVOA Unified Content Descriptor (``"pos.eq.ra;meta.main"``), empty when none.
    numeric : bool
        Whether the column holds numbers.
    """

    name: str
    unit: str = ""
    ucd: str = ""
    numeric: bool = True

    @property
    def words(self) -> tuple[str, ...]:
        """The UCD's words, lower case (``("pos.eq.ra", "meta.main")``)."""
        return tuple(w.strip().lower() for w in self.ucd.split(";") if w.strip())

    @property
    def key(self) -> str:
        """The name folded for comparison: lower case, without spaces, dashes or a leading underscore."""
        return self.name.strip().lower().replace(" ", "_").replace("-", "_").lstrip("_")


@dataclass(frozen=True)
class Recognition:
    """The outcome of looking for one role.

    Attributes
    ----------
    role : str
        Standard role (``"ra"``).
    candidates : tuple of str
        Columns of the strongest tier that had any (empty: none found).
    reason : str
        The evidence of that tier (``"UCD pos.eq.ra;meta.main"``, ``"a common name"``).
    """

    role: str
    candidates: tuple[str, ...]
    reason: str

    @property
    def column(self) -> str | None:
        """The column when exactly one candidate was found, else None."""
        return self.candidates[0] if len(self.candidates) == 1 else None


def _names(*names: str) -> frozenset[str]:
    return frozenset(n.lower() for n in names)


def _ucd(primary: str, main: bool) -> Callable[[ColumnInfo], bool]:
    # The primary (first) word says what the column is: `stat.error;pos.eq.ra` is an error, not a position.
    def test(c: ColumnInfo) -> bool:
        return bool(c.words) and c.words[0] == primary and (not main or "meta.main" in c.words)
    return test


def _named(names: frozenset[str]) -> Callable[[ColumnInfo], bool]:
    return lambda c: c.key in names


def _degrees_starting(prefix: str) -> Callable[[ColumnInfo], bool]:
    return lambda c: c.numeric and c.unit.strip().lower() in ("deg", "degree", "degrees") and c.key.startswith(prefix)


_RA_NAMES = _names("ra", "raj2000", "ra_icrs", "ra_deg", "radeg", "ra_j2000", "ra2000", "ra_obj", "ra_d", "raj2000_deg",
                   "right_ascension", "rightascension", "alpha_j2000")
_DEC_NAMES = _names("dec", "dej2000", "de_icrs", "dec_deg", "decdeg", "dedeg", "dec_j2000", "dec2000", "de2000",
                    "dec_obj", "dec_d", "decl", "declination", "delta_j2000")
# Identifiers: a designation ("Gaia DR3 123...") is an identifier too, but weaker than a column named
# as the identifier (Gaia files carry source_id and designation).
_ID_NAMES = _names("name", "id", "source_id", "objname", "object", "obj_id", "target", "target_name", "targetname",
                   "main_id", "source_name", "identifier", "star", "tic", "tic_id", "ticid", "kic", "kic_id", "kepid",
                   "epic", "epic_id", "epicid", "oid")
_DESIGNATION_NAMES = _names("designation", "desig", "source", "srcid", "recno", "seq")
_GAIA_G_NAMES = _names("gmag", "phot_g_mean_mag", "g_mag", "gaia_g", "gaiagmag", "gaia_gmag", "g_mean_mag")
_OTHER_MAG_NAMES = _names("tmag", "kpmag", "kepmag", "kp", "vmag", "v_mag", "bmag", "rmag", "r_mag", "gpmag", "rpmag",
                          "imag", "jmag", "hmag", "kmag", "ksmag", "mag_g", "mag_r", "mag_v", "zgmag", "zrmag")

#: Per role, the tiers of evidence, strongest first: (what the tier means, the test of a column).
_TIERS: dict[str, tuple[tuple[str, Callable[[ColumnInfo], bool]], ...]] = {
    "name": (("UCD meta.id;meta.main", _ucd("meta.id", True)),
             ("a common identifier name", _named(_ID_NAMES)),
             ("UCD meta.id", _ucd("meta.id", False)),
             ("a common designation name", _named(_DESIGNATION_NAMES))),
    "ra": (("UCD pos.eq.ra;meta.main", _ucd("pos.eq.ra", True)),
           ("a common right ascension name", _named(_RA_NAMES)),
           ("UCD pos.eq.ra", _ucd("pos.eq.ra", False)),
           ("unit deg and a name starting with 'ra'", _degrees_starting("ra"))),
    "dec": (("UCD pos.eq.dec;meta.main", _ucd("pos.eq.dec", True)),
            ("a common declination name", _named(_DEC_NAMES)),
            ("UCD pos.eq.dec", _ucd("pos.eq.dec", False)),
            ("unit deg and a name starting with 'de'", _degrees_starting("de"))),
    "mag": (("UCD phot.mag;meta.main", _ucd("phot.mag", True)),
            ("the name 'mag'", _named(_names("mag"))),
            ("a Gaia G magnitude name", _named(_GAIA_G_NAMES)),
            ("a common magnitude name", _named(_OTHER_MAG_NAMES)),
            ("UCD phot.mag", _ucd("phot.mag", False))),
    "pmra": (("a proper motion name", _named(_names("pmra", "pm_ra", "pmra_cosdec", "pmracosd"))),
             ("UCD pos.pm;pos.eq.ra", lambda c: c.words[:2] == ("pos.pm", "pos.eq.ra"))),
    "pmdec": (("a proper motion name", _named(_names("pmdec", "pmde", "pm_dec", "pm_de"))),
              ("UCD pos.pm;pos.eq.dec", lambda c: c.words[:2] == ("pos.pm", "pos.eq.dec"))),
    "parallax": (("a parallax name", _named(_names("parallax", "plx"))),
                 ("UCD pos.parallax", _ucd("pos.parallax.trig", False))),
}


def recognise(columns: Sequence[ColumnInfo], role: str, *, taken: Sequence[str] = ()) -> Recognition:
    """Find the column of one standard role.

    Parameters
    ----------
    columns : sequence of ColumnInfo
        The file's columns.
    role : str
        One of :data:`ROLES`.
    taken : sequence of str
        Columns already given another role (never candidates).

    Returns
    -------
    Recognition
        The candidates of the strongest tier that has any, and that tier's evidence; no candidates
        when no tier has one.

    Examples
    --------
    >>> cols = [ColumnInfo("ID", numeric=False), ColumnInfo("RAJ2000"), ColumnInfo("DEJ2000"), ColumnInfo("Gmag")]
    >>> [recognise(cols, role).column for role in ("name", "ra", "dec", "mag")]
    ['ID', 'RAJ2000', 'DEJ2000', 'Gmag']
    """
    free = [c for c in columns if c.name not in set(taken)]
    # A column with the standard name is read without any mapping, so it is the natural answer
    # unless a UCD marks another as the main one.
    tiers = _TIERS[role][:1] + ((f"the standard name '{role}'", lambda c: c.name == role),) + _TIERS[role][1:]
    for reason, test in tiers:
        found = tuple(c.name for c in free if test(c))
        if found:
            return Recognition(role, found, reason)
    return Recognition(role, (), "")


def suggest_mapping(names: Sequence[str]) -> dict[str, str]:
    """Return ``catalog.columns`` for the required roles that common names recognise unambiguously.

    Used to say which key to set when a catalog lacks a standard column: the file's column names
    only, without units or UCDs.

    Parameters
    ----------
    names : sequence of str
        The file's column names.

    Returns
    -------
    dict
        Standard role -> file column, for each required role with exactly one candidate whose
        column is not already the standard name.

    Examples
    --------
    >>> suggest_mapping(["ID", "RAJ2000", "DEJ2000", "Gmag"])
    {'name': 'ID', 'ra': 'RAJ2000', 'dec': 'DEJ2000'}
    """
    columns = [ColumnInfo(n) for n in names]
    found = {}
    for role in REQUIRED_ROLES:
        column = recognise(columns, role, taken=list(found.values())).column
        if column is not None and column != role:
            found[role] = column
    return found
