"""ADQL builder: astroquery's cone search form, numbers formatted, hostile where clauses refused by token."""

import re

import pytest

from adapters.catalogs.adql import check_columns, check_where, cone_query, format_number, select_query
from domain.errors import CatalogError


def squash(text: str) -> str:
    # astroquery indents its template over many lines; compare token streams, not layout.
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text)).strip()


#: What astroquery 0.4.x sends for Gaia.ROW_LIMIT = 50 and a cone of 0.5 deg at (280, -60),
#: written out from astroquery/gaia/core.py ``__cone_search`` (layout aside).
ASTROQUERY_CONE = """
    SELECT TOP 50 *,
      DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 280.0, -60.0)) AS dist
    FROM gaiadr3.gaia_source
    WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 280.0, -60.0, 0.5))
    ORDER BY dist ASC
"""


def test_cone_equals_astroquery_form():
    assert squash(cone_query("gaiadr3.gaia_source", 280, -60, 0.5, top=50)) == squash(ASTROQUERY_CONE)


def test_cone_with_columns_where_and_no_limit():
    adql = cone_query("gaiadr3.gaia_source", 10.5, 41.25, 1 / 60, columns=["source_id", "ra", "dec"],
                      where=" phot_g_mean_mag < 18 ", top=None)
    assert adql == (
        "SELECT source_id, ra, dec, DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 10.5, 41.25)) AS dist "
        "FROM gaiadr3.gaia_source "
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10.5, 41.25, 0.016666666666666666)) "
        "AND (phot_g_mean_mag < 18) ORDER BY dist ASC")


def test_numbers_round_trip_exactly():
    value = 0.1 + 0.2  # not representable as a short decimal: the text must still read back identically
    assert float(format_number(value, what="ra")) == value
    assert format_number(-0.0, what="dec") == "-0.0"
    assert format_number(1e-7, what="radius") == "1e-07"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "12; DROP", None, True])
def test_non_numbers_refused(value):
    with pytest.raises(CatalogError, match="field 'ra'.*(finite|number)"):
        cone_query("gaiadr3.gaia_source", value, 0, 0.1)


@pytest.mark.parametrize("ra, dec, radius, field", [(361, 0, 0.1, "ra"), (-1, 0, 0.1, "ra"),
                                                    (0, 91, 0.1, "dec"), (0, 0, 0.0, "radius_deg"),
                                                    (0, 0, 181, "radius_deg")])
def test_out_of_range_positions_refused(ra, dec, radius, field):
    with pytest.raises(CatalogError, match=f"field '{field}'"):
        cone_query("gaiadr3.gaia_source", ra, dec, radius)


def test_select_query():
    assert select_query("gaiadr3.gaia_source", columns=["source_id"], where="ruwe IS NOT NULL", top=10) == \
        "SELECT TOP 10 source_id FROM gaiadr3.gaia_source WHERE ruwe IS NOT NULL"
    assert select_query("gaiadr3.gaia_source") == "SELECT * FROM gaiadr3.gaia_source"


@pytest.mark.parametrize("where", [
    "phot_g_mean_mag < 18",
    "phot_g_mean_mag + 5*(1 + 0.1) <= 20 AND NOT (ruwe > 1.4) OR parallax_over_error >= 10",
    "ruwe IS NULL or radial_velocity is not null",
    "pmra*pmra + pmdec*pmdec > 1e4 and -dec > .5 AND bp_rp <> 1 AND bp_rp != 2",
    "((((parallax))) > 1)",
])
def test_accepted_where(where):
    assert check_where(where) == where.strip()


@pytest.mark.parametrize("where, token", [
    ("parallax > 1; DROP TABLE x", ";"),
    ("parallax > 1 -- AND ruwe < 1.4", "--"),
    ("parallax > 1 /* hidden */", "/*"),
    ("designation = 'Gaia DR3 1'", "'"),
    ('designation = "x"', '"'),
    ("parallax > 1 OR 1=1 UNION SELECT * FROM user_x.t", "UNION"),
    ("drop > 1", "drop"),
    ("parallax > (SELECT max(parallax) FROM gaiadr3.gaia_source)", "SELECT"),
    ("source_id IN (1, 2)", "IN"),
    ("insert_me = 1 AND Insert = 2", "Insert"),
    ("DELETE", "DELETE"),
    ("UPDATE", "UPDATE"),
    ("parallax > 1 AND", "AND"),
    ("parallax > > 1", ">"),
    ("(parallax > 1", "1"),
    ("parallax > 1)", ")"),
    ("ruwe IS 3", "3"),
    ("abs(pmra) > 3", "("),
    ("parallax > 1e5x", "1e5x"),
    ("parallax > 1 # comment", "#"),
    ("parallax > 1 \\", "\\"),
    ("gaiadr3.gaia_source.ra > 1", "."),
])
def test_hostile_or_malformed_where_names_the_token(where, token):
    with pytest.raises(CatalogError, match=rf"field 'where'.*{re.escape(repr(token))}"):
        check_where(where)


def test_hostile_where_never_reaches_the_query():
    with pytest.raises(CatalogError, match="';'"):
        cone_query("gaiadr3.gaia_source", 1, 1, 0.1, where="1=1); DROP TABLE t; --")


@pytest.mark.parametrize("columns", [["source_id, (SELECT 1)"], ["ra;"], ["select"], ["'x'"]])
def test_bad_column_names_refused(columns):
    with pytest.raises(CatalogError, match="field 'columns'"):
        check_columns(columns)


def test_bad_table_and_top_refused():
    with pytest.raises(CatalogError, match="field 'table'"):
        select_query("gaiadr3.gaia_source; DROP")
    with pytest.raises(CatalogError, match="field 'top'"):
        select_query("gaiadr3.gaia_source", top="5; DROP")
