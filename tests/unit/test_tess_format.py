"""TESS SPOC lightcurve files: checksums, columns, headers, QUALITY presets and the reduction to lightcurves."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from astropy.io import fits

from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.surveys.tess import TessParameters, VirtualTESS
from virtualobserver.adapters.surveys.tess_format import (
    NAN_FLAG,
    QUALITY_PRESETS,
    cadence_seconds,
    hdu_checksum_sums,
    header_to_dict,
    ones_complement_sum,
    quality_mask,
    read_lightcurve_file,
    verify_fits_checksums,
)
from virtualobserver.adapters.surveys.tess_selection import choose_tic, select_products
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.reduction import ReductionParameters

REAL_FILE = "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"
SYNTHETIC_TIC = 123456789


def write_spoc_lc(path, *, n=300, sector=7, tic=SYNTHETIC_TIC, ra=51.1119, dec=-77.4515, fast=False, seed=0):
    """Write a small SPOC-like lightcurve file with proper CHECKSUM/DATASUM (astropy ``checksum=True``).

    Rows 0-9 have NaN TIME, rows 10-29 NaN PDCSAP_FLUX, rows 30-34 a negative PDCSAP_FLUX; QUALITY has
    default-mask bits, hard-only bits (64, 1024) and a bit no preset but "hardest" uses (256).
    """
    rng = np.random.default_rng(seed)
    cadence_days = (20.0 if fast else 120.0) / 86400.0
    time = 1468.27 + np.arange(n) * cadence_days
    time[:10] = np.nan
    pdcsap = rng.normal(250.0, 3.0, n).astype(np.float32)
    pdcsap[10:30] = np.nan
    pdcsap[30:35] = -5.0
    sap = rng.normal(240.0, 3.0, n).astype(np.float32)
    quality = np.zeros(n, dtype=np.int32)
    quality[40:45] = 32          # desaturation: in every preset but "none"
    quality[45:50] = 128 | 4     # manual exclude + coarse point
    quality[50:55] = 64          # cosmic ray in aperture: "hard" only
    quality[55:58] = 1024        # collateral cosmic ray: "hard" only
    quality[58:60] = 256         # discontinuity corrected: "hardest" only
    primary = fits.Header()
    for key, value in [("EXTNAME", "PRIMARY"), ("TELESCOP", "TESS"), ("OBJECT", f"TIC {tic}"), ("TICID", tic),
                       ("SECTOR", sector), ("CAMERA", 3), ("CCD", 3), ("RADESYS", "ICRS"), ("RA_OBJ", ra),
                       ("DEC_OBJ", dec), ("EQUINOX", 2000.0), ("PMRA", 275.0), ("PMDEC", 188.0),
                       ("TESSMAG", 14.331), ("MH", None), ("CRMITEN", True)]:
        primary[key] = value
    primary["COMMENT"] = "a comment card that must not reach the metadata"
    primary["HISTORY"] = "a history card that must not reach the metadata"
    columns = [
        fits.Column("TIME", "D", unit="BJD - 2457000, days", array=time),
        fits.Column("CADENCENO", "J", array=np.arange(n, dtype=np.int32) + 100000),
        fits.Column("SAP_FLUX", "E", unit="e-/s", array=sap),
        fits.Column("SAP_FLUX_ERR", "E", unit="e-/s", array=np.full(n, 2.0, np.float32)),
        fits.Column("PDCSAP_FLUX", "E", unit="e-/s", array=pdcsap),
        fits.Column("PDCSAP_FLUX_ERR", "E", unit="e-/s", array=np.full(n, 2.5, np.float32)),
        fits.Column("QUALITY", "J", array=quality),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    for key, value in [("TIMEREF", "SOLARSYSTEM"), ("TIMESYS", "TDB"), ("BJDREFI", 2457000), ("BJDREFF", 0.0),
                       ("TIMEUNIT", "d"), ("TIMEDEL", cadence_days), ("INT_TIME", 1.98), ("NUM_FRM", 10 if fast
                                                                                             else 60),
                       ("FRAMETIM", 2.0), ("EXPOSURE", 22.08), ("CROWDSAP", 0.99), ("FLFRCSAP", 0.85)]:
        table.header[key] = value
    aperture = fits.ImageHDU(np.array([[129, 133, 129], [133, 139, 133], [129, 129, 129]], dtype=np.int32),
                             name="APERTURE")
    fits.HDUList([fits.PrimaryHDU(header=primary), table, aperture]).writeto(path, checksum=True)
    return path


@pytest.fixture
def synthetic(tmp_path):
    return write_spoc_lc(tmp_path / f"tess2019006130736-s0007-{SYNTHETIC_TIC:016d}-0131-s_lc.fits")


def _flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- checksums -------------------------------------------------------------------------------------------------------

def test_ones_complement_sum_folds_carries():
    assert ones_complement_sum(b"\xff\xff\xff\xff\x00\x00\x00\x01") == 1  # 0x1_0000_0000 folds to 1
    complement = (0xFFFFFFFF - 0x12345678).to_bytes(4, "big")  # a word plus its complement is negative zero
    assert ones_complement_sum((0x12345678).to_bytes(4, "big") + complement) == 0xFFFFFFFF
    assert ones_complement_sum(b"\x00" * 2880) == 0


def test_real_spoc_file_passes_and_a_flipped_byte_fails(shared_data, tmp_path):
    path = shared_data / REAL_FILE
    sums = hdu_checksum_sums(path)
    assert [(name, total) for name, total, _ in sums] == [
        ("PRIMARY", 0xFFFFFFFF), ("LIGHTCURVE", 0xFFFFFFFF), ("APERTURE", 0xFFFFFFFF)]
    assert verify_fits_checksums(path) == 3
    # astropy's own check rejects the intact file (no DATASUM): the reason for our routine.
    with pytest.warns(UserWarning, match="Checksum verification failed"):
        with fits.open(path, checksum=True) as hdus:
            hdus.verify()
    broken = shutil.copy(path, tmp_path / REAL_FILE)
    _flip_byte(broken, 2880 * 6 + 1000)  # inside the LIGHTCURVE table data
    with pytest.raises(DataError, match=r"HDU 1 \(LIGHTCURVE\) fails"):
        verify_fits_checksums(broken)


def test_synthetic_file_checksum_accepted_then_rejected_after_a_change(synthetic):
    assert verify_fits_checksums(synthetic) == 3
    raw = synthetic.read_bytes()
    # Change one header character of the PRIMARY HDU (the OBJECT value), keeping it valid FITS.
    offset = raw.index(b"OBJECT  = 'TIC ") + 15
    _flip_byte(synthetic, offset)
    with pytest.raises(DataError, match=r"HDU 0 \(PRIMARY\) fails"):
        verify_fits_checksums(synthetic)


def test_truncated_and_non_fits_files_are_refused(synthetic, tmp_path):
    raw = synthetic.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[: len(raw) - 2880])
    with pytest.raises(DataError, match="truncated"):
        verify_fits_checksums(cut)
    odd = tmp_path / "odd.fits"
    odd.write_bytes(raw[:1000])
    with pytest.raises(DataError, match="truncated"):
        verify_fits_checksums(odd)
    html = tmp_path / "page.fits"
    html.write_bytes(b"<html>".ljust(2880, b" "))
    with pytest.raises(DataError, match="not a FITS file"):
        verify_fits_checksums(html)


def test_missing_checksum_is_an_error_only_when_required(tmp_path):
    path = tmp_path / "plain.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros(4, np.int16))]).writeto(path)
    with pytest.raises(DataError, match="no CHECKSUM"):
        verify_fits_checksums(path)
    assert verify_fits_checksums(path, require=False) == 0


# -- QUALITY presets --------------------------------------------------------------------------------------------------

def test_quality_presets_follow_lightkurve():
    assert QUALITY_PRESETS == {"none": 0, "default": 17087, "hard": 17087 | 64 | 1024 | 2048 | 4096,
                               "hardest": 65535}
    assert quality_mask("default") == 1 | 2 | 4 | 8 | 16 | 32 | 128 | 512 | 16384
    with pytest.raises(DataError, match="unknown TESS quality preset 'soft'"):
        quality_mask("soft")


# -- reading ---------------------------------------------------------------------------------------------------------

def test_read_real_file(shared_data):
    lc = read_lightcurve_file(shared_data / REAL_FILE)
    with fits.open(shared_data / REAL_FILE) as hdus:
        table = hdus[1].data
        time, quality = np.array(table["TIME"]), np.array(table["QUALITY"])
    assert (lc.tic_id, lc.sector, lc.cadence_s) == (358108509, 1, 120.0)
    assert (lc.ra, lc.dec) == (51.1119, -77.4515)
    assert lc.columns["time_btjd"].size == 20076 and np.isnan(lc.columns["time_btjd"]).sum() == 815
    np.testing.assert_array_equal(lc.columns["quality"], quality)
    np.testing.assert_allclose(lc.columns["mjd_tdb"], time + 2457000 - 2400000.5, rtol=0, atol=1e-9)
    assert lc.aperture.shape == (11, 11) and set(np.unique(lc.aperture)) == {129, 133, 139}
    assert lc.primary["TICID"] == 358108509 and lc.primary["MH"] is None
    assert lc.lightcurve["TIMESYS"] == "TDB"
    assert json.loads(json.dumps(lc.lightcurve, allow_nan=False)) == lc.lightcurve


def test_read_synthetic_file(synthetic):
    lc = read_lightcurve_file(synthetic)
    assert (lc.tic_id, lc.sector, lc.cadence_s) == (SYNTHETIC_TIC, 7, 120.0)
    assert lc.columns["cadenceno"][0] == 100000 and lc.columns["sector"].tolist() == [7] * 300
    assert np.isnan(lc.columns["mjd_tdb"][:10]).all()
    assert lc.columns["mjd_tdb"][10] == pytest.approx(1468.27 + 10 * 120 / 86400 + 2457000 - 2400000.5, abs=1e-9)
    assert "COMMENT" not in lc.primary and "HISTORY" not in lc.primary
    assert lc.primary["MH"] is None and lc.primary["CRMITEN"] is True
    assert lc.aperture.dtype == np.int32 and lc.aperture.dtype.isnative


def test_cadence_seconds_prefers_timedel():
    assert cadence_seconds({"TIMEDEL": 0.001388888888888889, "EXPOSURE": 22.08, "INT_TIME": 1.98,
                            "NUM_FRM": 60}) == pytest.approx(120.0)
    assert cadence_seconds({"FRAMETIM": 2.0, "NUM_FRM": 10}) == 20.0
    assert np.isnan(cadence_seconds({"EXPOSURE": 22.08}))


def test_header_values_are_json_safe():
    header = fits.Header()
    header["A"] = 1.5
    header["C"] = "text   "
    header["D"] = np.int64(3)
    header["E"] = None
    assert header_to_dict(header) == {"A": 1.5, "C": "text", "D": 3, "E": None}


def test_a_file_without_the_lightcurve_table_is_refused(tmp_path):
    path = tmp_path / "x.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path, checksum=True)
    with pytest.raises(DataError, match="no LIGHTCURVE extension"):
        read_lightcurve_file(path)


# -- parse_file and reduce (no network) ---------------------------------------------------------------------------

def _client(**params):
    return VirtualTESS(TessParameters(offline=True, **params))


def _expected_kept(time, flux, quality, mask):
    return ((quality & mask) == 0) & np.isfinite(time) & np.isfinite(flux)


def test_real_file_reduces_to_sector_one(shared_data):
    client = _client()
    raw = client.parse_file(shared_data / REAL_FILE)
    assert raw.source_name == "" and (raw.ra, raw.dec) == (51.1119, -77.4515)
    assert raw.meta["tic_id"] == 358108509
    (lc,) = client.reduce(raw, ReductionParameters())
    with fits.open(shared_data / REAL_FILE) as hdus:
        t = np.array(hdus[1].data["TIME"])
        flux = np.array(hdus[1].data["PDCSAP_FLUX"])
        quality = np.array(hdus[1].data["QUALITY"])
    assert (lc.survey, lc.filter, lc.season, lc.time_scale) == ("tess", "TESS", 1, "tdb")
    assert lc.times.scale == "tdb" and lc.num_epochs == 20076
    # Cadences without TIME get the time their cadence number implies, so the file order is kept.
    assert np.all(np.diff(lc.mjds) > 0)
    np.testing.assert_array_equal(lc.flag == 0, _expected_kept(t, flux, quality, 17087))
    finite = np.isfinite(t)
    np.testing.assert_allclose(lc.mjds[finite], t[finite] + 2457000 - 2400000.5, rtol=0, atol=1e-9)
    assert np.all(lc.flag[~finite] & NAN_FLAG)
    gaps = np.diff(lc.mjds) * 86400.0
    assert gaps.min() > 119.0 and np.median(gaps) == pytest.approx(120.0, abs=0.01)
    assert np.all(lc.flag[~np.isfinite(lc.flux)] & NAN_FLAG)
    assert np.all(lc.exptime == 120.0)
    good = lc.flag == 0
    np.testing.assert_allclose(lc.mag[good], 20.44 - 2.5 * np.log10(lc.flux[good]))
    np.testing.assert_allclose(lc.magerr[good], 1.0857 * lc.fluxerr[good] / lc.flux[good], rtol=1e-4)


def test_synthetic_file_reduces_with_each_preset_and_flux(synthetic):
    with fits.open(synthetic) as hdus:
        t = np.array(hdus[1].data["TIME"])
        pdcsap, sap = np.array(hdus[1].data["PDCSAP_FLUX"]), np.array(hdus[1].data["SAP_FLUX"])
        quality = np.array(hdus[1].data["QUALITY"])
    for preset, mask in QUALITY_PRESETS.items():
        client = _client(quality_bitmask=preset)
        (lc,) = client.reduce(client.parse_file(synthetic), ReductionParameters())
        np.testing.assert_array_equal(lc.flag == 0, _expected_kept(t, pdcsap, quality, mask))
        assert lc.season == 7 and lc.num_epochs == 300
    counts = {p: int((_client(quality_bitmask=p).reduce(_client().parse_file(synthetic), ReductionParameters())[0]
                      .flag == 0).sum()) for p in QUALITY_PRESETS}
    assert counts["none"] > counts["default"] > counts["hard"] > counts["hardest"]
    client = _client(flux_column="sap")
    (lc,) = client.reduce(client.parse_file(synthetic), ReductionParameters())
    np.testing.assert_array_equal(lc.flux, sap.astype(float))
    assert lc.mjds[0] == pytest.approx(1468.27 + 2457000 - 2400000.5, abs=1e-9)  # filled from cadence numbers
    # A negative PDCSAP flux has no magnitude but is kept (unflagged: it is a real measurement).
    (lc,) = _client().reduce(_client().parse_file(synthetic), ReductionParameters())
    negative = lc.flux < 0
    assert negative.sum() == 5 and np.isnan(lc.mag[negative]).all() and np.isnan(lc.magerr[negative]).all()


def test_min_epochs_drops_a_short_sector(synthetic):
    client = _client()
    raw = client.parse_file(synthetic)
    assert client.reduce(raw, ReductionParameters(min_epochs=301)) == []
    assert len(client.reduce(raw, ReductionParameters(min_epochs=300))) == 1


def test_two_cadences_of_one_sector_become_two_lightcurves(tmp_path):
    client = _client()
    slow = client.parse_file(write_spoc_lc(tmp_path / "tess-s0007-0000000123456789-0131-s_lc.fits"))
    fast = client.parse_file(write_spoc_lc(tmp_path / "tess-s0007-0000000123456789-0131-a_fast-lc.fits",
                                           fast=True, n=200))
    raw = client.combine([fast, slow, slow])
    assert raw.num_epochs == 500 and raw.meta["tic_id"] == SYNTHETIC_TIC
    assert set(raw.images) == {"aperture_s0007", "aperture_s0007_fast"}
    lcs = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.season, lc.num_epochs, lc.exptime[0]) for lc in lcs] == [
        ("TESS", 7, 300, 120.0), ("TESS-fast", 7, 200, pytest.approx(20.0))]


def test_corrupt_or_foreign_file_is_a_survey_error(synthetic, tmp_path):
    _flip_byte(synthetic, 2880 * 3 + 7)
    with pytest.raises(SurveyError, match="checksum of HDU"):
        _client().parse_file(synthetic)
    other = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((2, 2)))]).writeto(other)
    with pytest.raises(SurveyError, match="no LIGHTCURVE"):
        _client().parse_file(other)


def test_meta_and_aperture_survive_json_and_the_hdf5_store(synthetic, tmp_path):
    raw = _client().parse_file(synthetic)
    text = json.dumps(raw.meta, allow_nan=False)
    assert json.loads(text) == raw.meta
    (entry,) = raw.meta["files"]
    assert entry["primary"]["TICID"] == SYNTHETIC_TIC and entry["lightcurve"]["TIMEDEL"] == pytest.approx(120 / 86400)
    raw.source_name, raw.version = "star", "v1"
    store = Hdf5DataStore(tmp_path / "data")
    store.save_raw(raw)
    fresh = type(raw)("tess", "star", "v1")  # a record without arrays, as the repository gives it
    fresh.file, fresh.key = raw.file, raw.key
    loaded = store.load_raw(fresh)
    assert loaded.meta == raw.meta
    image = loaded.images["aperture_s0007"]
    assert image.dtype == raw.images["aperture_s0007"].dtype and image.shape == (3, 3)
    np.testing.assert_array_equal(image, raw.images["aperture_s0007"])
    for name, column in raw.columns.items():
        np.testing.assert_array_equal(loaded.columns[name], column)


# -- choosing the TIC entry and the files ----------------------------------------------------------------------------

def _star(tic, ra, dec, tmag, **extra):
    return {"ID": tic, "ra": ra, "dec": dec, "Tmag": tmag, "pmRA": None, "pmDEC": None, **extra}


def test_choose_tic_nearest_within_radius_prefers_compatible_tmag():
    rows = [_star(1, 10.0, 0.0, 9.0), _star(2, 10.0, 3 / 3600, 14.2), _star(3, 10.0, 20 / 3600, 14.0)]
    assert choose_tic(rows, 10.0, 0.0, 10.0, None, 2.0)["ID"] == 1
    chosen = choose_tic(rows, 10.0, 0.0, 10.0, 14.5, 2.0)
    assert chosen["ID"] == 2 and chosen["mag_compatible"] is True
    assert chosen["distance_arcsec"] == pytest.approx(3.0, abs=1e-6)
    assert choose_tic(rows, 10.0, 0.0, 10.0, 25.0, 2.0)["ID"] == 1  # nothing compatible: the nearest
    assert choose_tic(rows, 50.0, 0.0, 10.0, None, 2.0) is None
    assert choose_tic([_star(9, 10.0, 0.0, 9.0, disposition="DUPLICATE")], 10.0, 0.0, 10.0, None, 2.0) is None


def test_choose_tic_on_the_real_mast_answer(shared_data):
    rows = json.loads((shared_data / "mast_tic_catalog_7rows_astroquery.json").read_text())["data"]
    star = choose_tic(rows, 254.2481, -4.1292, 5.0, None, 2.0)
    assert star["ID"] == 10000869228 and star["Tmag"] == 15.15
    assert json.loads(json.dumps(star, allow_nan=False)) == star
    assert choose_tic(rows, 254.0, -4.5, 5.0, None, 2.0) is None


def test_select_products_by_cadence_and_sector():
    def product(name, group):
        return {"productFilename": name, "productSubGroupDescription": group, "dataURI": f"mast:TESS/product/{name}"}

    rows = [product("tess-s0001-0000000000000001-0120-s_lc.fits", "LC"),
            product("tess-s0001-0000000000000001-0120-s_tp.fits", "TP"),
            product("tess-s0027-0000000000000001-0120-a_fast-lc.fits", "FAST-LC"),
            product("tess-s0027-0000000000000001-0120-s_lc.fits", "LC"),
            product("tess-s0027-0000000000000001-0120-s_lc.fits", "LC"),
            product("tess-s0001-0000000000000001-0120-s_dvt.fits", "DVT")]
    names = [r["productFilename"] for r in select_products(rows, ["120"], [])]
    assert names == ["tess-s0001-0000000000000001-0120-s_lc.fits", "tess-s0027-0000000000000001-0120-s_lc.fits"]
    both = [r["productFilename"] for r in select_products(rows, ["120", "20"], [27])]
    assert both == ["tess-s0027-0000000000000001-0120-a_fast-lc.fits", "tess-s0027-0000000000000001-0120-s_lc.fits"]
