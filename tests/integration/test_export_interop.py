"""Every export reads back right in the ecosystem's own tools: astropy (native times), pandas, xarray, lightkurve.

Real files: the ZTF DR1 lightcurve of SN 2018hmx (IRSA IPAC table), the TESS sector 1 and Kepler Q5 SPOC
lightcurves, each read by its survey client and reduced with the shipped configuration, then exported.
The expected values come from the raw files themselves, read here with astropy alone (TESS ``TIME`` +
2457000 = BJD_TDB, Kepler + 2454833; ZTF ``mjd`` on UTC; ZTF fluxes by hand, ``10**(-0.4 (mag - 23.9))``
uJy), never from the code under test. The project products (detections, injections, sources,
histograms, SkyPortal) come from the demo survey on the real PostgreSQL, as ``vo export`` writes them.
"""

import json
import warnings
from pathlib import Path

import astropy.units as u
import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.table import Table
from astropy.time import Time
from astropy.timeseries import TimeSeries

from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.adapters.config_file import load_config
from virtualobserver.adapters.container import SURVEYS
from virtualobserver.adapters.files.fits_lightcurves import write_lightcurves_fits, write_lightkurve_files
from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.files.netcdf_store import NetCdfHistogramStore
from virtualobserver.adapters.files.cf_histograms import read_histograms, write_histograms
from virtualobserver.adapters.files.tables import csv_sidecar, read_table, write_table
from virtualobserver.adapters.postgres.unit_of_work import SqlAlchemyUnitOfWork
from virtualobserver.adapters.surveys.demo import VirtualDemoObs
from virtualobserver.services.product_tables import lightcurve_table, skyportal_table
from virtualobserver.services.products import Products
from virtualobserver.services.project import Project
from tests.e2e.helpers import REPO, write_project

MICROSECOND_IN_DAYS = 1e-6 / 86400.0
FILES = {"ztf": "ztf_dr1_lightcurve_SN2018hmx_ipac.tbl",
         "tess": "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits",
         "kepler": "kplr010002792-2010174085026_llc.fits"}
#: What each survey's times are (FITS TIMESYS, TREFPOS, TIMEREF), its flux unit and the year of the file.
FRAMES = {"ztf": ("UTC", "TOPOCENTER", "LOCAL", u.uJy, 2018), "tess": ("TDB", "BARYCENTER", "SOLARSYSTEM",
                                                                     u.electron / u.s, 2018),
          "kepler": ("TDB", "BARYCENTER", "SOLARSYSTEM", u.electron / u.s, 2010)}


def reduced(shared_data: Path, survey: str):
    """The first lightcurve of a real file, as its survey client reduces it, and its export table."""
    config = load_config(REPO / "configs" / f"{survey}.yaml",
                         survey_parameters={k: v.parameters_class for k, v in SURVEYS.items()})
    chosen = next(s for s in config.surveys if s.name == survey)
    client = SURVEYS[survey](chosen.download)
    try:
        lc = client.reduce(client.parse_file(shared_data / FILES[survey]), chosen.reduction)[0]
    finally:
        client.close()  # its download cache folder
    # The provenance Products.provenance gives: the zero point of the stored flux for surveys without a unit.
    meta = {"FLUXZP": float(chosen.reduction.zero_point)} if survey == "ztf" else {}
    return lc, lightcurve_table(lc, meta)


def raw_times(shared_data: Path, survey: str) -> Time:
    """Every epoch time in the raw file, with astropy alone (BJD_TDB of the missions, ZTF's MJD on UTC)."""
    path = shared_data / FILES[survey]
    if survey == "ztf":
        return Time(np.asarray(Table.read(path, format="ipac")["mjd"], dtype=float), format="mjd", scale="utc")
    with fits.open(path) as hdul:
        header, time = hdul[1].header, np.asarray(hdul[1].data["TIME"], dtype=float)
    assert header["TIMESYS"] == "TDB" and header["TIMEREF"] == "SOLARSYSTEM"
    time = time[np.isfinite(time)]
    # Two parts (reference, offset): one float JD near 2.4e6 would only resolve 40 us.
    return Time(np.full(time.shape, header["BJDREFI"] + header["BJDREFF"]), time, format="jd", scale="tdb")


def stored_times(lc) -> Time:
    """The stored epoch times, on the lightcurve's own scale."""
    return Time(lc.mjds, format="mjd", scale=lc.time_scale)


def assert_same_times(read: Time, lc, raw: Time):
    """The times read are the stored ones (to 1 us, on the stored scale), and the raw file's are among them."""
    assert read.scale == lc.time_scale and len(read) == lc.num_epochs
    assert np.max(np.abs((read - stored_times(lc)).to_value(u.d))) < MICROSECOND_IN_DAYS
    # The shorter list's epochs are all in the longer one: a ZTF file holds several filters (the lightcurve
    # one of them), a mission's reader keeps the cadences whose TIME is NaN (their time from the cadence).
    assert raw.scale == read.scale
    few, many = (read, raw) if len(read) <= len(raw) else (raw, read)
    order = np.argsort(many.mjd)
    values = many.mjd[order]
    at = np.clip(np.searchsorted(values, few.mjd), 1, len(values) - 1)
    nearer = np.where(np.abs(values[at - 1] - few.mjd) < np.abs(values[at] - few.mjd), at - 1, at)
    gap = (many[order][nearer] - few).to_value(u.d)
    assert np.max(np.abs(gap)) < MICROSECOND_IN_DAYS


@pytest.fixture(scope="module")
def products(tmp_path_factory, module_session_factory):
    folder = tmp_path_factory.mktemp("interop")
    path = write_project(folder, rows=12, extra="  simulation: {enabled: true, injections_per_source: 3}\n")
    config = load_config(path, survey_parameters={"demo": VirtualDemoObs.parameters_class})
    project = Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(module_session_factory),
                      store=Hdf5DataStore(folder / "data"), catalog_reader=FileCatalogReader(),
                      histogram_store=NetCdfHistogramStore(folder / "data"), surveys={"demo": VirtualDemoObs})
    project.run()
    return Products.of(project, fingerprint=lambda path: "0" * 64)


# -- lightcurves of real files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("survey", FILES)
def test_fits_times_read_natively_and_exactly(shared_data, tmp_path, survey):
    lc, table = reduced(shared_data, survey)
    timesys, trefpos, timeref, flux_unit, year = FRAMES[survey]
    expected = raw_times(shared_data, survey)
    write_table(table, tmp_path / "table.fits")
    write_lightcurves_fits([table], tmp_path / "all.fits", {})
    (lightkurve_file,) = write_lightkurve_files([table], tmp_path / "lk")
    for path, column in ((tmp_path / "table.fits", "mjd"), (tmp_path / "all.fits", "mjd"),
                         (lightkurve_file, "TIME")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "reference position ignored" or other time warning
            warnings.simplefilter("ignore", u.UnitsWarning)  # the FITS standard has no "electron"
            native = Table.read(path, hdu=1, astropy_native=True)
        times = native[column]
        assert isinstance(times, Time) and times.scale == timesys.lower(), path.name
        assert times.to_datetime()[0].year == year  # not 1862: the reference time is in the header
        assert_same_times(times, lc, expected)
        assert u.Unit(str(native[{"mjd": "flux", "TIME": "FLUX"}[column]].unit)) == flux_unit
        series = TimeSeries.read(path, format="fits", hdu=1, time_column=column, astropy_native=True)
        assert series.time.scale == timesys.lower() and len(series) == lc.num_epochs
        header = fits.getheader(path, 1)
        assert (header["TIMESYS"], header["TREFPOS"], header["TIMEREF"], header["TIMEUNIT"]) == (
            timesys, trefpos, timeref, "d")
        assert header["TIMEPIXR"] == (0.0 if survey == "ztf" else 0.5)
    header = fits.getheader(lightkurve_file, 1)
    if survey == "ztf":
        assert header["MJDREF"] == 0.0
    else:  # the mission's own reference: BTJD for TESS, BKJD for Kepler
        bjdref = {"tess": 2457000, "kepler": 2454833}[survey]
        assert header["BJDREFI"] == bjdref and header["MJDREF"] == bjdref - 2400000.5


@pytest.mark.parametrize("survey", FILES)
def test_ecsv_and_votable_state_scale_and_reference_position(shared_data, tmp_path, survey):
    lc, table = reduced(shared_data, survey)
    timesys, trefpos, _, flux_unit, _ = FRAMES[survey]
    expected = raw_times(shared_data, survey)
    write_table(table, tmp_path / "lc.ecsv")
    back = Table.read(tmp_path / "lc.ecsv")
    assert isinstance(back["mjd"], Time) and back["mjd"].scale == timesys.lower()
    assert back.meta["TREFPOS"] == trefpos and back["flux"].unit == flux_unit
    assert_same_times(back["mjd"], lc, expected)
    series = TimeSeries.read(tmp_path / "lc.ecsv", time_column="mjd")
    assert series.time.scale == timesys.lower()
    np.testing.assert_array_equal(series["flux"].value, table["flux"])

    write_table(table, tmp_path / "lc.vot")
    votable = parse_votable(str(tmp_path / "lc.vot"))
    (timesys_element,) = list(votable.iter_timesys())
    assert (timesys_element.timescale, timesys_element.refposition, timesys_element.timeorigin) == (
        timesys, trefpos, "MJD-origin")  # JD 2400000.5
    fields = {field.name: field for field in votable.get_first_table().fields}
    assert fields["mjd"].ref == timesys_element.ID and fields["flux"].ref is None
    assert "TIMESYS" not in {param.name for param in votable.get_first_table().params}  # not a PARAM
    plain = votable.get_first_table().to_table(use_names_over_ids=True)
    times = Time(np.asarray(plain["mjd"], dtype=float), format="mjd", scale=timesys_element.timescale.lower())
    assert_same_times(times, lc, expected)
    assert Table.read(tmp_path / "lc.vot")["flux"].unit.to_string() == flux_unit.to_string()


@pytest.mark.parametrize("survey", ["ztf", "tess"])
def test_csv_is_plain_csv_with_units_in_the_column_names(shared_data, tmp_path, survey):
    lc, table = reduced(shared_data, survey)
    path = tmp_path / "lc.csv"
    write_table(table, path, "csv")
    frame = pd.read_csv(path, float_precision="round_trip")  # pandas' default parser may be 1 ulp off
    scale, unit = {"ztf": ("utc", "ujy"), "tess": ("tdb", "electron_s")}[survey]
    assert list(frame.columns[:7]) == [f"mjd_{scale}", f"flux_{unit}", f"fluxerr_{unit}", "mag", "magerr_mag",
                                       "flag", "exptime_s"]
    assert not path.read_text().startswith("#") and len(frame) == lc.num_epochs
    np.testing.assert_array_equal(frame[f"mjd_{scale}"].to_numpy(), lc.mjds)
    np.testing.assert_array_equal(frame["flag"].to_numpy(), lc.flag)
    np.testing.assert_array_equal(frame[f"flux_{unit}"].to_numpy(), table["flux"])
    default = pd.read_csv(path)
    assert np.max(np.abs(default[f"mjd_{scale}"].to_numpy() - lc.mjds)) < MICROSECOND_IN_DAYS
    sidecar = json.loads(csv_sidecar(path).read_text())
    units = {c["header"]: c["unit"] for c in sidecar["columns"]}
    assert u.Unit(units[f"flux_{unit}"]) == FRAMES[survey][3] and sidecar["meta"]["TIMESYS"] == scale.upper()
    assert read_table(path)["flux"].unit == FRAMES[survey][3]


def test_ztf_flux_is_microjansky_by_hand(shared_data):
    lc, table = reduced(shared_data, "ztf")
    raw = Table.read(shared_data / FILES["ztf"], format="ipac")
    mag_at = dict(zip(np.round(np.asarray(raw["mjd"], dtype=float), 8), np.asarray(raw["mag"], dtype=float)))
    mags = np.array([mag_at[t] for t in np.round(lc.mjds, 8)])
    # AB: 0 mag = 3631 Jy, so 1 uJy is 2.5 log10(3631e6) = 23.9 mag.
    assert 2.5 * np.log10(3631e6) == pytest.approx(23.9, abs=1e-3)
    np.testing.assert_allclose(table["flux"], 10 ** (-0.4 * (mags - 23.9)), rtol=1e-9)
    assert table["flux"].unit == u.uJy and table.meta["MAGSYS"] == "AB" and table.meta["FLUXZP"] == 23.9
    # The error follows: d(flux) = flux * 0.4 ln(10) d(mag).
    np.testing.assert_allclose(table["fluxerr"], table["flux"] * 0.4 * np.log(10) * lc.magerr, rtol=1e-6)


def test_lightkurve_reads_the_collection_back(shared_data, tmp_path):
    lk = pytest.importorskip("lightkurve")
    tables = {survey: reduced(shared_data, survey) for survey in FILES}
    files = write_lightkurve_files([table for _, table in tables.values()], tmp_path / "lk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's own deprecation and optional-dependency warnings
        collection = lk.LightCurveCollection([lk.read(str(path)) for path in files])
    assert len(collection) == 3
    for read, (survey, (lc, table)) in zip(collection, tables.items()):
        timesys, _, _, flux_unit, _ = FRAMES[survey]
        assert read.time.scale == timesys.lower() and read.flux.unit == flux_unit
        assert read.time.format == {"ztf": "mjd", "tess": "btjd", "kepler": "bkjd"}[survey]
        assert_same_times(read.time, lc, raw_times(shared_data, survey))
        np.testing.assert_array_equal(read.flux.value, table["flux"])
    tess = collection[1]
    with fits.open(shared_data / FILES["tess"]) as hdul:
        timed = np.isfinite(hdul[1].data["TIME"])
        pdcsap = np.asarray(hdul[1].data["PDCSAP_FLUX"], dtype=float)
        spoc_time = np.asarray(hdul[1].data["TIME"], dtype=float)
    assert len(tess) == len(pdcsap)  # one row per cadence, in the file's order
    np.testing.assert_allclose(tess.time.value[timed], spoc_time[timed], rtol=0, atol=MICROSECOND_IN_DAYS)
    # SPOC's PDCSAP flux in e-/s, cadence for cadence.
    np.testing.assert_array_equal(np.ma.filled(tess.flux.value, np.nan)[timed], pdcsap[timed])


def test_skyportal_photometry_of_a_mission(shared_data):
    _, table = reduced(shared_data, "tess")
    table.add_column(np.full(len(table), "TIC 358108509"), name="source", index=0)
    photometry = skyportal_table(table)
    assert set(photometry["filter"]) == {"tess"} and set(photometry["magsys"]) == {"vega"}
    # TESS's zero point: T = 20.44 - 2.5 log10(flux in e-/s) (TESS Instrument Handbook).
    assert photometry["zp"][0] == pytest.approx(20.44, abs=1e-6)
    assert len(photometry) == np.isfinite(np.asarray(table["flux"])).sum()


# -- project products on PostgreSQL ------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["detections", "injections", "sources"])
def test_every_product_states_its_time_scale(products, tmp_path, what):
    table = products.table(what)
    column = {"detections": "peak_mjd", "injections": "peak_mjd", "sources": "best_peak_mjd"}[what]
    stored = np.asarray(table[column], dtype=float)
    assert table.meta["TIMESYS"] == "UTC" and table.meta["TREFPOS"] == "TOPOCENTER" and len(table)
    write_table(table, tmp_path / "t.fits")
    write_table(table, tmp_path / "t.ecsv")
    for read in (Table.read(tmp_path / "t.fits", hdu=1, astropy_native=True), Table.read(tmp_path / "t.ecsv")):
        times = read[column]
        assert isinstance(times, Time) and times.scale == "utc"
        mjd = np.ma.filled(np.ma.asarray(times.mjd, dtype=float), np.nan)
        np.testing.assert_array_equal(np.isnan(mjd), np.isnan(stored))
        finite = ~np.isnan(stored)
        assert np.max(np.abs(mjd[finite] - stored[finite]), initial=0.0) < MICROSECOND_IN_DAYS
    write_table(table, tmp_path / "t.vot")
    (timesys,) = list(parse_votable(str(tmp_path / "t.vot")).iter_timesys())
    assert (timesys.timescale, timesys.refposition) == ("UTC", "TOPOCENTER")


def test_detection_fluxes_are_microjansky_and_csv_reads_in_pandas(products, tmp_path):
    detections = products.table("detections")
    assert detections["peak_flux"].unit == u.uJy and detections.meta["FLUXZP"] == 23.9
    # delta_mag is the peak's brightening over the baseline: the flux ratio, whatever the unit.
    ratio = np.asarray(detections["peak_flux"]) / np.asarray(detections["baseline_flux"])
    good = (ratio > 0) & np.isfinite(detections["delta_mag"])
    np.testing.assert_allclose(-2.5 * np.log10(ratio[good]), np.asarray(detections["delta_mag"])[good],
                               rtol=1e-6, atol=1e-9)
    path = tmp_path / "detections.csv"
    write_table(detections, path)
    frame = pd.read_csv(path, keep_default_na=False, na_values=["nan"], float_precision="round_trip")
    assert {"peak_mjd_utc", "peak_flux_ujy", "baseline_flux_ujy", "delta_mag", "filter_width_d"} <= set(frame)
    np.testing.assert_array_equal(frame["peak_mjd_utc"].to_numpy(), np.asarray(detections["peak_mjd"]))
    np.testing.assert_array_equal(frame["peak_flux_ujy"].to_numpy(), np.asarray(detections["peak_flux"]))
    assert list(frame["label"]) == list(detections["label"])


def test_skyportal_photometry_of_the_demo(products):
    table = products.table("lightcurves", limit=3)
    photometry = skyportal_table(table)
    frame = photometry.to_pandas()
    assert list(frame.columns) == ["obj_id", "mjd", "flux", "fluxerr", "zp", "magsys", "filter", "origin"]
    assert set(frame["filter"]) == {"ztfg", "ztfr"} and set(frame["magsys"]) == {"ab"} and set(frame["zp"]) == {23.9}
    assert frame["origin"].str.startswith("virtualobserver demo").all()
    # SkyPortal's magnitude is zp - 2.5 log10(flux): the stored magnitude, for every positive flux.
    finite = np.isfinite(np.asarray(table["flux"]))
    mag, flux = np.asarray(table["mag"])[finite], frame["flux"].to_numpy()
    positive = flux > 0
    np.testing.assert_allclose(23.9 - 2.5 * np.log10(flux[positive]), mag[positive], atol=1e-9)
    np.testing.assert_array_equal(frame["mjd"].to_numpy(), np.asarray(table["mjd"])[finite])


@pytest.mark.parametrize("name", ["scanned", "efficiency"])
def test_netcdf_histograms_follow_cf_conventions(products, tmp_path, name):
    histograms = products.histograms(name)
    path = tmp_path / f"{name}.nc"
    write_histograms(histograms, path, name=name, meta=products.provenance(product="histograms"))
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["title"].endswith(name) and ds.attrs["history"]
    assert ds.attrs["PROJECT"] == "e2e"
    for variable in histograms.variables:
        counts = ds[variable]
        assert counts.attrs["units"] == "1" and counts.attrs["long_name"]
        np.testing.assert_array_equal(counts.values, histograms[variable].values)
        for dim in counts.dims:  # every dimension has a coordinate variable: 1-D, its own name, monotonic
            coordinate = ds[dim]
            assert coordinate.dims == (dim,) and np.all(np.diff(coordinate.values) > 0)
            assert coordinate.attrs["long_name"] and "units" in coordinate.attrs
    with netCDF4.Dataset(path) as nc:  # cfchecks' rules, on the file itself
        assert nc.getncattr("Conventions") == "CF-1.10"
        for variable in histograms.variables:
            listed = nc.variables[variable].getncattr("coordinates").split()
            assert listed and all(name in nc.variables for name in listed)  # auxiliary coordinates exist
        for var in nc.variables.values():
            assert "_FillValue" not in var.ncattrs()  # every bin holds a value
            if "bounds" in var.ncattrs():
                bounds = nc.variables[var.getncattr("bounds")]
                assert bounds.dimensions == (*var.dimensions, "nv") and bounds.shape[-1] == 2
                lower, upper = bounds[:, 0], bounds[:, 1]
                finite = np.isfinite(lower) & np.isfinite(upper)
                assert np.all(lower[finite] < upper[finite])
                assert var.getncattr("units") in ("1", "s", "d")  # UDUNITS units
    assert read_histograms(path) == histograms


# -- lightkurve-written files back in ------------------------------------------------------------------------------

@pytest.mark.parametrize("survey", ["tess", "kepler"])
def test_vo_ingest_takes_files_lightkurve_wrote(shared_data, tmp_path, module_session_factory, survey):
    lk = pytest.importorskip("lightkurve")
    written = tmp_path / f"{survey}_from_lightkurve.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = lk.read(str(shared_data / FILES[survey]), quality_bitmask="none")
        original.to_fits(str(written), overwrite=True)
    assert fits.getheader(written)["CREATOR"].startswith("lightkurve")
    config = load_config(REPO / "configs" / f"{survey}.yaml",
                         survey_parameters={k: v.parameters_class for k, v in SURVEYS.items()},
                         overrides={f"observatories.{survey}.download.offline": True})
    project = Project(config, uow_factory=lambda: SqlAlchemyUnitOfWork(module_session_factory),
                      store=Hdf5DataStore(tmp_path / "data"), catalog_reader=FileCatalogReader(),
                      histogram_store=NetCdfHistogramStore(tmp_path / "data"), surveys={survey: SURVEYS[survey]})
    assert project.ingest(survey, [written]).ingested  # matched to its catalog star by RA_OBJ/DEC_OBJ
    project.run(limit=1)
    (path,) = write_lightkurve_files(Products.of(project).lightcurve_tables(), tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = lk.read(str(path))
    assert (ours.time.format, ours.time.scale, ours.flux.unit) == (
        original.time.format, "tdb", u.electron / u.s)
    # Cadence for cadence: the time lightkurve wrote (to 1 us), its flux and its quality bits.
    assert len(ours) == len(original)
    np.testing.assert_allclose(ours.time.value, original.time.value, rtol=0, atol=MICROSECOND_IN_DAYS)
    np.testing.assert_array_equal(np.ma.filled(ours.flux.value, np.nan),
                                  np.ma.filled(original.flux.value, np.nan).astype(np.float32))
    # The flag keeps the quality bits of the configured preset, lightkurve's default bitmask.
    flags = {"tess": lk.utils.TessQualityFlags, "kepler": lk.utils.KeplerQualityFlags}[survey]
    np.testing.assert_array_equal(np.asarray(ours.quality) & 0xFFFF,
                                  np.asarray(original.quality) & flags.DEFAULT_BITMASK)
