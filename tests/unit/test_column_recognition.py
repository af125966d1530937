"""Recognising catalog columns by UCD, standard name, common name and unit (domain/catalog_columns.py)."""

import pytest

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.catalog_columns import ColumnInfo, recognise, suggest_mapping
from virtualobserver.domain.errors import CatalogError


def columns(*specs):
    return [ColumnInfo(*spec) if isinstance(spec, tuple) else ColumnInfo(spec) for spec in specs]


def test_gaia_columns_by_their_ucds():
    # The UCDs of a Gaia DR3 archive answer: designation is meta.id;meta.main, source_id only meta.id,
    # ra_error is an error *of* the RA (stat.error first), BP is a magnitude but G has the common name.
    gaia = columns(("source_id", "", "meta.id"), ("designation", "", "meta.id;meta.main", False),
                   ("ra_error", "mas", "stat.error;pos.eq.ra"), ("ra", "deg", "pos.eq.ra;meta.main"),
                   ("dec", "deg", "pos.eq.dec;meta.main"), ("phot_bp_mean_mag", "mag", "phot.mag;em.opt.B"),
                   ("phot_g_mean_mag", "mag", "phot.mag;em.opt"), ("pmra", "mas / yr", "pos.pm;pos.eq.ra"))
    found = {role: recognise(gaia, role) for role in ("name", "ra", "dec", "mag", "pmra")}
    assert {role: r.column for role, r in found.items()} == {
        "name": "designation", "ra": "ra", "dec": "dec", "mag": "phot_g_mean_mag", "pmra": "pmra"}
    assert found["name"].reason == "UCD meta.id;meta.main" and found["ra"].reason == "UCD pos.eq.ra;meta.main"


def test_a_ucd_marked_main_wins_over_a_column_with_the_standard_name():
    cols = columns(("ra", "deg", ""), ("RA_ICRS", "deg", "pos.eq.ra;meta.main"))
    assert recognise(cols, "ra").column == "RA_ICRS"


def test_the_standard_name_wins_over_common_names():
    assert recognise(columns("name", "ID", "ra", "dec"), "name").column == "name"


@pytest.mark.parametrize("names, ra, dec", [
    (("RAJ2000", "DEJ2000"), "RAJ2000", "DEJ2000"),
    (("RA_ICRS", "DE_ICRS"), "RA_ICRS", "DE_ICRS"),
    (("ra_deg", "dec_deg"), "ra_deg", "dec_deg"),
    (("_RAJ2000", "_DEJ2000"), "_RAJ2000", "_DEJ2000"),
    (("RAdeg", "DEdeg"), "RAdeg", "DEdeg"),
])
def test_common_position_names(names, ra, dec):
    cols = columns("ID", *names)
    assert (recognise(cols, "ra").column, recognise(cols, "dec").column) == (ra, dec)


def test_a_degree_unit_finds_an_unusually_named_position_but_an_error_in_mas_is_never_one():
    cols = columns(("ra_2016", "deg"), ("ra_err", "mas"), ("dec_2016", "deg"), ("RAh", "h"))
    assert recognise(cols, "ra").column == "ra_2016" and recognise(cols, "dec").column == "dec_2016"
    assert recognise(cols, "ra").reason == "unit deg and a name starting with 'ra'"


def test_two_candidates_of_one_tier_are_returned_not_chosen():
    found = recognise(columns("ID", "RAJ2000", "RA_ICRS", "DEJ2000"), "ra")
    assert found.candidates == ("RAJ2000", "RA_ICRS") and found.column is None


def test_columns_taken_by_another_role_are_not_candidates():
    assert recognise(columns("ID", "RAJ2000", "RA_ICRS"), "ra", taken=["RA_ICRS"]).column == "RAJ2000"


def test_nothing_found():
    found = recognise(columns("foo", "bar"), "ra")
    assert found.candidates == () and found.column is None


def test_magnitudes_prefer_mag_then_gaia_g_then_one_other_band():
    assert recognise(columns("mag", "Gmag", "Vmag"), "mag").column == "mag"
    assert recognise(columns("BPmag", "Gmag", "RPmag"), "mag").column == "Gmag"
    assert recognise(columns("Tmag", "Teff"), "mag").column == "Tmag"
    assert recognise(columns("Vmag", "Jmag"), "mag").candidates == ("Vmag", "Jmag")


def test_suggested_mapping_from_names_only():
    assert suggest_mapping(["ID", "RAJ2000", "DEJ2000", "Gmag"]) == {"name": "ID", "ra": "RAJ2000", "dec": "DEJ2000"}
    assert suggest_mapping(["name", "RA_ICRS", "dec"]) == {"ra": "RA_ICRS"}
    assert suggest_mapping(["ID", "RAJ2000", "RA_ICRS", "DEJ2000"]) == {"name": "ID", "dec": "DEJ2000"}


def test_a_catalog_without_a_standard_column_names_the_key_to_set():
    with pytest.raises(CatalogError) as raised:
        Catalog({"ID": ["a"], "RAJ2000": [1.0], "DEJ2000": [2.0], "Gmag": [3.0]}, name="t.csv")
    assert str(raised.value) == (
        "t.csv, field 'name': missing required column (have: ID, RAJ2000, DEJ2000, Gmag); set catalog.columns.name "
        "to the file's column, e.g. catalog.columns: {name: ID, ra: RAJ2000, dec: DEJ2000} (or let `vo init "
        "CATALOG` write the configuration)")
    with pytest.raises(CatalogError, match=r"field 'ra': missing required column \(have: name, x, dec\); set "
                                           r"catalog.columns.ra to the file's column of the right ascensions"):
        Catalog({"name": ["a"], "x": [1.0], "dec": [2.0]}, name="t.csv")
