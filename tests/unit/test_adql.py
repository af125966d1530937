"""ADQL builder: astroquery's cone search form, numbers formatted, any read-only condition passed and only text that
could leave its condition refused."""

import re

import pytest

from virtualobserver.adapters.catalogs.adql import check_columns, check_where, cone_query, format_number, select_query
from virtualobserver.domain.errors import CatalogError


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


#: The issue's five forms (each refused by the old whitelist), then more ordinary read-only ADQL.
ISSUE_FORMS = [
    "phot_variable_flag = 'VARIABLE'",
    "ABS(b) > 30",
    "phot_g_mean_mag BETWEEN 12 AND 18",
    "source_id IN (4295806720, 38655544960)",
    "phot_variable_flag IN ('VARIABLE', 'NOT_AVAILABLE')",
]


@pytest.mark.parametrize("where", [
    *ISSUE_FORMS,
    "phot_g_mean_mag < 18",
    "phot_g_mean_mag + 5*(1 + 0.1) <= 20 AND NOT (ruwe > 1.4) OR parallax_over_error >= 10",
    "ruwe IS NULL or radial_velocity is not null",
    "pmra*pmra + pmdec*pmdec > 1e4 and -dec > .5 AND bp_rp <> 1 AND bp_rp != 2",
    "((((parallax))) > 1)",
    "designation LIKE 'Gaia DR3 46%' AND phot_bp_mean_mag - phot_rp_mean_mag NOT BETWEEN -1 AND 1",
    "source_id IN (SELECT source_id FROM gaiadr3.vari_summary WHERE num_selected_g_fov > 20 ORDER BY 1)",
    "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1)) AND CAST(ref_epoch AS INTEGER) = 2016",
    "phot_variable_flag = 'it''s; -- not a comment /* nor this */ UNION'",
    '"DEC" > 0 AND "weird;name" IS NOT NULL',
    "parallax > 1\n  AND ruwe < 1.4\t",
    "désignation = 'ü'",
])
def test_accepted_where(where):
    assert check_where(where) == where.strip()


def test_the_issue_forms_reach_the_cone_query_unchanged():
    for where in ISSUE_FORMS:
        assert cone_query("gaiadr3.gaia_source", 1, 1, 0.1, where=where).endswith(f" AND ({where}) ORDER BY dist ASC")


@pytest.mark.parametrize("where, token", [
    ("parallax > 1; DROP TABLE x", ";"),
    ("parallax > 1;", ";"),
    ("parallax > 1 -- AND ruwe < 1.4", "--"),
    ("parallax > 1 /* hidden */", "/*"),
    ("parallax > 1 */", "*/"),
    ("designation = 'Gaia DR3 1", "'Gaia DR3 1"),
    ("designation = 'it''s", "'it''s"),
    ('"DEC > 0', '"DEC > 0'),
    ("parallax > 1 OR 1=1 UNION SELECT * FROM user_x.t", "UNION"),
    ("parallax > 1 ORDER BY parallax", "ORDER"),
    ("parallax > 1 group by ra", "group"),
    ("1=1 OFFSET 5", "OFFSET"),
    ("(parallax > 1", "("),
    ("parallax > 1)", ")"),
    ("1=1) OR (1=1", ")"),
    ("parallax > 1 \x00", "\x00"),
    ("designation = 'a\x1bb'", "\x1b"),
])
def test_where_that_could_leave_its_condition_names_the_token(where, token):
    with pytest.raises(CatalogError, match=rf"field 'where'.*{re.escape(repr(token))}"):
        check_where(where)


def test_the_position_named_is_the_character_of_the_token():
    with pytest.raises(CatalogError, match=r"';' at character 13"):
        check_where("parallax > 1; DROP TABLE x")


def test_an_absurdly_long_where_is_refused_and_the_limit_named():
    from virtualobserver.adapters.catalogs.adql import MAX_WHERE_CHARS

    ids = ", ".join(str(n) for n in range(4000))
    assert len(f"source_id IN ({ids})") > MAX_WHERE_CHARS
    with pytest.raises(CatalogError, match=rf"field 'where'.*more than the {MAX_WHERE_CHARS:,} allowed"):
        check_where(f"source_id IN ({ids})")
    short = ", ".join(str(n) for n in range(1000))
    assert check_where(f"source_id IN ({short})")  # a list of a thousand ids is ordinary


def test_hostile_where_never_reaches_the_query():
    with pytest.raises(CatalogError, match="'\\)' at character 4"):
        cone_query("gaiadr3.gaia_source", 1, 1, 0.1, where="1=1); DROP TABLE t; --")
    with pytest.raises(CatalogError, match="';' at character 4"):
        cone_query("gaiadr3.gaia_source", 1, 1, 0.1, where="1=1; DROP TABLE t")


@pytest.mark.parametrize("columns", [["source_id, (SELECT 1)"], ["ra;"], ["select"], ["'x'"]])
def test_bad_column_names_refused(columns):
    with pytest.raises(CatalogError, match="field 'columns'"):
        check_columns(columns)


def test_bad_table_and_top_refused():
    with pytest.raises(CatalogError, match="field 'table'"):
        select_query("gaiadr3.gaia_source; DROP")
    with pytest.raises(CatalogError, match="field 'top'"):
        select_query("gaiadr3.gaia_source", top="5; DROP")
