"""Exports round-trip through every format (values, units, metadata) and open in astropy and lightkurve.

The project runs in-process on the demo survey with real HDF5 and netCDF files and a real PostgreSQL
(one database for the module: the project is built once), as an integration test must.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from astropy.timeseries import TimeSeries

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.files.fits_lightcurves import (
    BTJD_OFFSET,
    read_lightcurves_fits,
    write_lightcurves_fits,
    write_lightkurve_files,
)
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.files.tables import guess_format, read_table, write_table
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.adapters.surveys.demo import VirtualDemoObs
from virtualobserver.adapters.surveys.tess import VirtualTESS
from virtualobserver.domain.errors import DataError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.services.product_tables import lightcurve_table, table_histograms, to_timeseries
from virtualobserver.services.products import Products
from virtualobserver.services.project import Project
from tests.e2e.helpers import REPO, write_project

FORMATS = {"csv": "csv", "ecsv": "ecsv", "fits": "fits", "votable": "vot", "hdf5": "h5"}
PROVENANCE = ("PRODUCT", "PROJECT", "SURVEY", "PROJVER", "DLVER", "REDVER", "ANAVER", "SIMVER", "VOVERS", "ALGOVER",
              "CATHASH", "DATE", "SIMULATD", "FLUXZP")


@pytest.fixture(scope="module")
def products(tmp_path_factory, module_session_factory):
    folder = tmp_path_factory.mktemp("export")
    path = write_project(folder, rows=16, extra="  simulation: {enabled: true, injections_per_source: 4}\n")
    config = load_config(path, survey_parameters={"demo": VirtualDemoObs.parameters_class})
    project = Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(module_session_factory),
                      store=Hdf5DataStore(folder / "data"),
                      catalog_reader=FileCatalogReader(), histogram_store=NetCdfHistogramStore(folder / "data"),
                      surveys={"demo": VirtualDemoObs})
    project.run()
    detections = project.detections()
    assert len(detections) >= 2, "the demo project should find events to export"
    project.label_detections({detections[0].id: "real"})
    return Products.of(project, fingerprint=lambda path: "0" * 64)


def unit(column):
    return column.unit if column.unit is not None else u.dimensionless_unscaled


def assert_same(table, back):
    assert back.colnames == table.colnames
    for name in table.colnames:
        a, b = table[name], back[name]
        assert unit(b) == unit(a), name
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(np.asarray(b, dtype=float), np.asarray(a, dtype=float), err_msg=name)
        elif getattr(a, "mask", None) is not None and np.any(a.mask):
            assert list(b.mask) == list(a.mask) and list(b[~b.mask]) == list(a[~a.mask]), name
        else:
            assert [str(v) for v in b] == [str(v) for v in a], name
    for key, value in table.meta.items():
        assert back.meta[key] == value and type(back.meta[key]) is type(value), key


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("what", ["lightcurves", "detections", "sources", "histograms"])
def test_round_trip_keeps_values_units_and_metadata(products, tmp_path, what, fmt):
    table = products.table(what, limit=6 if what == "lightcurves" else None)
    assert len(table) > 0 and set(PROVENANCE) <= set(table.meta)
    path = tmp_path / f"out.{FORMATS[fmt]}"
    assert guess_format(path) == fmt and write_table(table, path) == len(table)
    assert_same(table, read_table(path))


def test_units_and_provenance_say_what_the_numbers_are(products):
    lightcurves = products.table("lightcurves", limit=2)
    assert lightcurves["mjd"].unit == u.d and lightcurves["mag"].unit == u.mag and lightcurves["exptime"].unit == u.s
    assert "UTC" in lightcurves["mjd"].description and lightcurves.meta["TIMESYS"] == "UTC"
    # The demo's AB magnitudes: fluxes in microjansky, 10**(-0.4 (mag - 23.9)), where the stored ones are on 25.
    assert lightcurves["flux"].unit == u.uJy and "microjansky" in lightcurves["flux"].description
    positive = np.asarray(lightcurves["flux"]) > 0
    np.testing.assert_allclose(np.asarray(lightcurves["flux"])[positive],
                               10 ** (-0.4 * (np.asarray(lightcurves["mag"])[positive] - 23.9)), rtol=1e-9)
    meta = lightcurves.meta
    survey = products.survey()
    assert (meta["PROJECT"], meta["SURVEY"], meta["REDVER"], meta["ANAVER"]) == (
        "e2e", "demo", survey.reduction_version, survey.analysis_version)
    assert meta["CATHASH"] and meta["FLUXZP"] == 23.9 and meta["MAGSYS"] == "AB"
    assert meta["ALGOVER"].startswith("reduction=")
    assert (meta["TIMEREF"], meta["TREFPOS"], meta["TIMEPIXR"]) == ("LOCAL", "TOPOCENTER", 0.5)
    detections = products.table("detections")
    assert detections["peak_mjd"].unit == u.d and detections["delta_mag"].unit == u.mag
    sources = products.table("sources")
    assert sources["ra"].unit == u.deg and len(sources) == 16 and sources["analysed"].all()
    assert sources["best_peak_mjd"].unit == u.d and {"best_snr", "best_kind", "detections_dropped"} <= set(
        sources.colnames)


def test_detections_carry_their_triage_label(products, tmp_path):
    table = products.table("detections")
    assert list(table["label"]).count("real") == 1 and set(table["label"]) == {"real", ""}
    assert not table["is_simulated"].any() and table.meta["SIMULATD"] is False
    everything = products.table("detections", simulated=True)
    assert everything["is_simulated"].sum() > 0 and everything.meta["SIMULATD"] is True
    assert len(everything) == len(table) + everything["is_simulated"].sum()
    for fmt, ext in FORMATS.items():  # the empty label survives every format as an empty string
        write_table(table, tmp_path / f"d.{ext}")
        assert sorted(read_table(tmp_path / f"d.{ext}")["label"]) == sorted(table["label"]), fmt


def test_histogram_tables_rebuild_the_histograms(products, tmp_path):
    for name in ("scanned", "cut_offset", "efficiency"):
        original = products.histograms(name)
        table = products.table("histograms", histogram=name)
        write_table(table, tmp_path / f"{name}.fits")
        assert table_histograms(read_table(tmp_path / f"{name}.fits")) == original, name
    efficiency = products.table("histograms", simulated=True)
    assert efficiency.meta["HISTNAME"] == "efficiency" and efficiency["injected"].sum() == 16 * 4
    ratio = efficiency["recovered"] / np.where(efficiency["injected"] > 0, efficiency["injected"], np.nan)
    np.testing.assert_array_equal(efficiency["efficiency"], ratio)


def test_empty_exports_keep_their_columns(products, tmp_path):
    table = products.table("detections", limit=0)
    assert len(table) == 0 and "label" in table.colnames
    with pytest.raises(DataError, match="no source named no such source"):  # not an empty table
        products.table("detections", names=["no such source"])
    for fmt, ext in FORMATS.items():
        write_table(table, tmp_path / f"e.{ext}")
        assert read_table(tmp_path / f"e.{ext}").colnames == table.colnames, fmt


def test_one_fits_extension_per_lightcurve(products, tmp_path):
    tables = list(products.lightcurve_tables(limit=3))
    path = tmp_path / "lightcurves.fits"
    assert write_lightcurves_fits(tables, path, products.provenance(product="lightcurves")) == len(tables)
    back = read_lightcurves_fits(path)
    assert len(back) == len(tables) > 3  # several filters and seasons per source
    for table, read in zip(tables, back):
        assert_same(table, read)
        assert read.meta["OBJECT"] and read.meta["MJDREF"] == 0 and read.meta["TIMESYS"] == "UTC"


def test_lightcurves_open_with_plain_astropy_table_and_timeseries(products, tmp_path):
    item = next(products.sources(limit=1))
    lc = products.load(item.lightcurves)[0]
    write_lightcurves_fits([lightcurve_table(lc)], tmp_path / "lc.fits", {})
    write_table(lightcurve_table(lc), tmp_path / "lc.ecsv")
    for path in (tmp_path / "lc.fits", tmp_path / "lc.ecsv"):
        table = Table.read(path)  # astropy alone, no reader of ours
        np.testing.assert_array_equal(table["mag"], lc.mag)
        assert table["mag"].unit == u.mag
        if path.suffix == ".ecsv":  # ECSV holds the times as astropy Time, on their scale
            assert table["mjd"].scale == "utc" and np.max(np.abs(table["mjd"].mjd - lc.mjds)) < 1e-6 / 86400
        else:
            assert table["mjd"].unit == u.d
    series = TimeSeries.read(tmp_path / "lc.fits", format="fits", hdu=1, time_column="mjd", time_format="mjd",
                             time_scale="utc")
    np.testing.assert_array_equal(series.time.mjd, lc.mjds)
    ours = products.timeseries(lc)
    assert ours.time.scale == "utc" and ours["mag"].unit == u.mag and ours.meta["REDVER"] == lc.version
    np.testing.assert_array_equal(ours.time.mjd, lc.mjds)
    assert ours["flux"].unit == u.uJy
    np.testing.assert_allclose(ours["flux"].value, lc.flux * 10 ** (-0.4 * (25.0 - 23.9)), rtol=1e-12)


def tess_like(n=50):
    rng = np.random.default_rng(3)
    flux = 1000 + rng.normal(0, 5, n)
    lc = Lightcurve("tess", "TESS", 2, {
        "mjd": 59000.0 + np.arange(n) / 720.0, "flux": flux, "fluxerr": np.full(n, 5.0),
        "mag": 20.44 - 2.5 * np.log10(flux), "magerr": np.full(n, 0.005), "flag": np.where(np.arange(n) == 3, 128, 0),
        "exptime": np.full(n, 120.0)}, source_name="TIC 1", version="abc", time_scale="tdb")
    return lc


def test_timeseries_keep_the_lightcurves_own_time_scale():
    lc = tess_like()
    series = to_timeseries(lc)
    assert series.time.scale == "tdb" and series["flux"].unit == u.electron / u.s
    np.testing.assert_array_equal(series.time.mjd, lc.mjds)


def test_lightkurve_reads_both_layouts(products, tmp_path):
    lk = pytest.importorskip("lightkurve")
    item = next(products.sources(limit=1))
    demo = products.load(item.lightcurves)[0]
    tables = [lightcurve_table(demo, products.provenance(product="lightcurve")), lightcurve_table(tess_like())]
    files = write_lightkurve_files(tables, tmp_path / "lk")
    write_lightcurves_fits(tables, tmp_path / "all.fits", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's own deprecation and optional-dependency warnings
        for number, (path, lc) in enumerate(zip(files, (demo, tess_like())), start=1):
            read = lk.read(str(path))
            assert read.time.scale == lc.time_scale and read.meta["LABEL"] == lc.source_name
            assert read.time.format == ("btjd" if lc.time_scale == "tdb" else "mjd")
            np.testing.assert_allclose(read.time.mjd, lc.mjds, rtol=0, atol=1e-8)  # < 1 ms
            scale = 1.0 if lc.survey == "tess" else 10 ** (-0.4 * (25.0 - 23.9))  # the demo's flux: uJy
            np.testing.assert_allclose(read.flux.value, lc.flux * scale, rtol=1e-12)
            np.testing.assert_array_equal(np.asarray(read.quality), lc.flag)
            assert read.flux.unit == (u.electron / u.s if lc.survey == "tess" else u.uJy)
            generic = lk.read(str(tmp_path / "all.fits"), ext=number, time_column="mjd", flux_err_column="fluxerr",
                              quality_column="flag")
            np.testing.assert_array_equal(generic.time.mjd, lc.mjds)
            np.testing.assert_allclose(generic.flux_err.value, lc.fluxerr * scale, rtol=1e-12)
    assert abs(BTJD_OFFSET - 56999.5) < 1e-12


def test_an_exported_tess_lightcurve_reads_like_the_spoc_file_it_came_from(shared_data, tmp_path,
                                                                            module_session_factory):
    lk = pytest.importorskip("lightkurve")
    spoc_file = shared_data / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"
    config = load_config(REPO / "configs" / "tess.yaml", survey_parameters={"tess": VirtualTESS.parameters_class},
                         overrides={"observatories.tess.download.offline": True})
    # The module's database: the TESS project has its own name, so it shares nothing with the demo one.
    project = Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(module_session_factory),
                      store=Hdf5DataStore(tmp_path),
                      catalog_reader=FileCatalogReader(), histogram_store=NetCdfHistogramStore(tmp_path),
                      surveys={"tess": VirtualTESS})
    assert project.ingest("tess", [spoc_file]).ingested
    project.run(limit=1)  # the ingested star only: nothing is downloaded
    (path,) = write_lightkurve_files(Products.of(project).lightcurve_tables(), tmp_path / "lk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, spoc = lk.read(str(path)), lk.read(str(spoc_file), quality_bitmask="none")
    assert (ours.time.format, ours.time.scale, ours.flux.unit) == ("btjd", "tdb", u.electron / u.s)
    # Every SPOC cadence is ours too, at the same BTJD (to 1 us), with the same PDCSAP flux and QUALITY bits.
    after = np.clip(np.searchsorted(ours.time.value, spoc.time.value), 1, len(ours) - 1)
    nearer_before = np.abs(ours.time.value[after - 1] - spoc.time.value) < np.abs(ours.time.value[after] -
                                                                                  spoc.time.value)
    mine = np.where(nearer_before, after - 1, after)
    np.testing.assert_allclose(ours.time.value[mine], spoc.time.value, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(ours.flux.value[mine], spoc.flux.value)
    np.testing.assert_array_equal(np.asarray(ours.quality)[mine] & 0xFFFF, np.asarray(spoc.quality))
    assert ours.meta["LABEL"] == "TIC358108509" and ours.meta["MISSION"] == "TESS"


def test_unknown_format_and_product_are_one_line_errors(products, tmp_path):
    with pytest.raises(DataError, match=r"cannot tell the format from the extension '\.txt'"):
        guess_format(tmp_path / "out.txt")
    with pytest.raises(DataError, match="cannot export 'spectra'"):
        products.table("spectra")
