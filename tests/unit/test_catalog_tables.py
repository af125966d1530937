"""Catalogs from astropy tables (what astroquery returns): mapping, units converted, masked values, selection."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle
from astropy.table import MaskedColumn, QTable, Table

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.errors import CatalogError


def gaia_like() -> Table:
    """Three rows as astroquery's Gaia results come: source_id integers, units on the columns, masked parallax."""
    return Table({
        "source_id": np.array([4295806720, 38655544960, 6917529027641081856], dtype=np.int64),
        "ra": [44.996155, 45.004978, 359.99] * u.deg,
        "dec": [0.005615, 0.021586, -89.5] * u.deg,
        "parallax": MaskedColumn([0.35, 45.0, 1.0], mask=[False, False, True], unit="mas"),
        "phot_g_mean_mag": np.array([17.5, 12.25, 20.75], dtype=np.float32) * u.mag,
        "phot_variable_flag": ["NOT_AVAILABLE", "VARIABLE", "NOT_AVAILABLE"],
    })


def test_an_astroquery_like_table_maps_to_standard_columns_with_its_epoch():
    catalog = Catalog.from_table(gaia_like(), {"name": "source_id", "mag": "phot_g_mean_mag"}, epoch=2016.0)
    assert list(catalog.columns["name"]) == ["4295806720", "38655544960", "6917529027641081856"]
    assert catalog.columns["mag"].tolist() == [17.5, 12.25, 20.75]
    assert catalog.columns["parallax"][:2].tolist() == [0.35, 45.0] and np.isnan(catalog.columns["parallax"][2])
    (source,) = catalog.sources(start=1, stop=2)
    assert (source.name, source.ra, source.dec, source.epoch) == ("38655544960", 45.004978, 0.021586, 2016.0)


def test_selection_uses_table_columns():
    catalog = Catalog.from_table(gaia_like(), {"name": "source_id"}, selection="phot_variable_flag == 'VARIABLE'")
    assert list(catalog.columns["name"]) == ["38655544960"]


def test_units_other_than_the_catalog_ones_are_converted():
    table = QTable({"id": ["a", "b"], "ra": Angle([1.0, 2.0], u.rad), "dec": [-3600.0, 7200.0] * u.arcsec,
                    "pmra": [0.5, -1.0] * u.arcsec / u.yr})
    catalog = Catalog.from_table(table, {"name": "id"})
    # By hand: 1 rad = 180/pi deg; 3600 arcsec = 1 deg; 1 arcsec = 1000 mas.
    assert catalog.columns["ra"].tolist() == pytest.approx([180 / np.pi, 360 / np.pi], rel=1e-15)
    assert catalog.columns["dec"].tolist() == pytest.approx([-1.0, 2.0], rel=1e-15)
    assert catalog.columns["pmra"].tolist() == pytest.approx([500.0, -1000.0], rel=1e-15)


def test_a_unit_that_does_not_convert_names_the_column():
    table = Table({"id": ["a"], "ra": [1.0] * u.m, "dec": [0.0] * u.deg})
    with pytest.raises(CatalogError, match=r"field 'ra'.*unit m does not convert to deg"):
        Catalog.from_table(table, {"name": "id"})


def test_a_missing_mapped_column_and_a_bad_row_are_named():
    with pytest.raises(CatalogError, match=r"field 'name'.*'designation' not in the table"):
        Catalog.from_table(gaia_like(), {"name": "designation"})
    table = gaia_like()
    table["dec"][1] = 95.0
    with pytest.raises(CatalogError, match=r"row 2.*field 'dec'"):
        Catalog.from_table(table, {"name": "source_id"}, name="astroquery result")
