"""Separations against astropy's SkyCoord; proper-motion propagation: exact small cases, a Gaia catalog row at J2016.0,
and astropy's rigorous space motion."""

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Distance, SkyCoord
from astropy.table import Table
from astropy.time import Time

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.catalogs.gaia_tap import GAIA_DR3_EPOCH, gaia_catalog_spec
from virtualobserver.domain.astrometry import (
    MAS_PER_DEG,
    angular_separation_deg,
    julian_year_of_mjd,
    propagate_position,
    proper_motion_radius,
)

#: 36 years at 1000 mas/yr is 36000 mas = exactly 0.01 degree on the sky.
YEARS = 36.0


def test_separation_is_skycoords_from_a_microarcsecond_to_the_antipode():
    rng = np.random.default_rng(3)
    ra1, dec1 = rng.uniform(0, 360, 2000), np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    # Partners at every scale: 1 micro-arcsecond to 180 degrees, in any direction, across RA = 0 and the poles.
    step = 10 ** rng.uniform(-9.6, math.log10(180.0), ra1.size) * u.deg
    first = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    offset = first.directional_offset_by(rng.uniform(0, 360, ra1.size) * u.deg, step)
    second = SkyCoord(offset.ra.deg * u.deg, offset.dec.deg * u.deg)  # the very degrees the function gets
    expected = first.separation(second).deg
    got = angular_separation_deg(ra1, dec1, second.ra.deg, second.dec.deg)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-13)  # 1e-13 deg: the rounding of positions in degrees
    # And the offsets asked for, to the precision of positions in degrees (1e-14 of 360).
    assert np.allclose(got, step.value, rtol=1e-6, atol=1e-11)


def test_separation_of_scalars_and_broadcast_arrays():
    assert float(angular_separation_deg(10.0, 0.0, 10.0, 1 / 3600)) * 3600 == pytest.approx(1.0, rel=1e-12)
    assert float(angular_separation_deg(359.9, 0.0, 0.1, 0.0)) == pytest.approx(0.2, rel=1e-12)
    assert float(angular_separation_deg(0.0, 90.0, 123.0, 90.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(angular_separation_deg(10.0, 20.0, 190.0, -20.0)) == pytest.approx(180.0, rel=1e-12)
    assert angular_separation_deg(0.0, 0.0, [0.0, 90.0], 0.0) == pytest.approx([0.0, 90.0])


def test_one_hundredth_of_a_degree_on_the_sky():
    ra, dec = propagate_position(100.0, 60.0, 1000.0, -500.0, 2016.0, 2016.0 + YEARS)
    # On the sky the star moves 0.01 deg east; at dec 60 (cos = 1/2) that is 0.02 deg of right ascension.
    assert float(ra) == pytest.approx(100.02, abs=1e-12)
    assert float(dec) == pytest.approx(59.995, abs=1e-12)
    back = propagate_position(ra, dec, 1000.0, -500.0, 2016.0 + YEARS, 2016.0)
    # Linear motion is not reversible exactly: going back uses cos of the new declination.
    assert float(back[0]) == pytest.approx(100.02 - 0.01 / math.cos(math.radians(59.995)), abs=1e-12)
    assert abs(float(back[0]) - 100.0) < 1e-5
    assert float(back[1]) == pytest.approx(60.0, abs=1e-12)


def test_wraps_right_ascension_and_treats_missing_motion_as_zero():
    ra, dec = propagate_position(359.995, 0.0, 1000.0, 0.0, 2016.0, 2016.0 + YEARS)
    assert float(ra) == pytest.approx(0.005, abs=1e-12) and float(dec) == 0.0
    ra, dec = propagate_position(12.0, -5.0, np.nan, None, 2016.0, 2030.0)
    assert (float(ra), float(dec)) == (12.0, -5.0)


def test_julian_year_of_gaia_epoch():
    # J2016.0 = JD 2457389.0 = MJD 57388.5
    assert float(julian_year_of_mjd(57388.5)) == pytest.approx(GAIA_DR3_EPOCH, abs=1e-12)


def _gaia_like_votable(path):
    table = Table({
        "source_id": np.array([4583627001381815936, 5348723816842275584], dtype=np.int64),
        "ra": [100.0, 171.55081173633306] * u.deg,
        "dec": [60.0, -62.3] * u.deg,
        "pmra": [1000.0, -4.2] * u.mas / u.yr,
        "pmdec": [-500.0, 2.5] * u.mas / u.yr,
        "parallax": [20.0, 0.5] * u.mas,
        "phot_g_mean_mag": np.array([11.5, 17.25], dtype=np.float32) * u.mag,
        "ref_epoch": [2016.0, 2016.0] * u.yr,
    })
    table.write(path, format="votable")
    return path


def test_catalog_row_moves_from_j2016(tmp_path):
    spec = gaia_catalog_spec(_gaia_like_votable(tmp_path / "gaia.vot"))
    source = FileCatalogReader().read(spec).sources()[0]
    assert source.name == "4583627001381815936" and source.epoch == 2016.0
    assert (source.pmra, source.pmdec, source.mag) == (1000.0, -500.0, 11.5)
    ra, dec = propagate_position(source.ra, source.dec, source.pmra, source.pmdec, source.epoch, 2052.0)
    assert (float(ra), float(dec)) == (pytest.approx(100.02, abs=1e-12), pytest.approx(59.995, abs=1e-12))
    radius = proper_motion_radius(0.001, source.pmra, source.pmdec, 2052.0 - source.epoch)
    assert radius == pytest.approx(0.001 + math.hypot(1000.0, 500.0) * YEARS / MAS_PER_DEG, abs=1e-15)


def _separation_from_astropy_mas(ra, dec, pmra, pmdec, parallax, years):
    start = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, pm_ra_cosdec=pmra * u.mas / u.yr, pm_dec=pmdec * u.mas / u.yr,
                     distance=Distance(parallax=parallax * u.mas), radial_velocity=0 * u.km / u.s,
                     obstime=Time(GAIA_DR3_EPOCH, format="jyear"))
    rigorous = start.apply_space_motion(new_obstime=Time(GAIA_DR3_EPOCH + years, format="jyear"))
    new_ra, new_dec = propagate_position(ra, dec, pmra, pmdec, GAIA_DR3_EPOCH, GAIA_DR3_EPOCH + years)
    linear = SkyCoord(ra=float(new_ra) * u.deg, dec=float(new_dec) * u.deg)
    return linear.separation(SkyCoord(ra=rigorous.ra, dec=rigorous.dec)).to_value(u.mas)


@pytest.mark.parametrize("ra, dec, pmra, pmdec, parallax", [
    (268.0676646661466, -30.5, -5.0, 3.0, 2.0),
    (171.55, -62.3, 800.0, -800.0, 50.0),
    (10.0, 45.0, -300.0, 600.0, 10.0),
    (359.999, 0.1, 500.0, 500.0, 5.0),
    (120.0, 70.0, 200.0, -100.0, 1.0),
])
def test_linear_motion_agrees_with_astropy_within_1_mas_over_10_years(ra, dec, pmra, pmdec, parallax):
    assert _separation_from_astropy_mas(ra, dec, pmra, pmdec, parallax, 10.0) < 1.0


def test_real_gaia_rows_agree_with_astropy(shared_data):
    table = Table.read(shared_data / "gaia_dr3_gaia_source_2rows_astroquery.vot", format="votable",
                       use_names_over_ids=True)
    assert set(table["ref_epoch"]) == {GAIA_DR3_EPOCH}
    for row in table:
        assert _separation_from_astropy_mas(float(row["ra"]), float(row["dec"]), float(row["pmra"]),
                                            float(row["pmdec"]), float(row["parallax"]), 10.0) < 1.0
    # The propagation must actually move them: a large shift would make the 1-mas agreement meaningful.
    moved = np.hypot(table["pmra"], table["pmdec"]) * 10.0
    assert np.all(np.asarray(moved) > 1.0)
