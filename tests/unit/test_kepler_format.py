"""Kepler and K2 lightcurve files: reading, quality presets, BKJD times and reduction, checked against lightkurve.

Every test on the real files in ../shared/data has a twin on a small synthetic Kepler-layout file written
here, so the logic is tested where the real files are absent.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits

from virtualobserver.adapters.files.hdf5_store import Hdf5DataStore
from virtualobserver.adapters.surveys.fits_checksum import verify_fits_checksums
from virtualobserver.adapters.surveys.kepler import K2Parameters, KeplerParameters, VirtualK2, VirtualKepler
from virtualobserver.adapters.surveys.kepler_format import (
    K2,
    KEPLER,
    KEPLER_QUALITY_BITS,
    KEPLER_QUALITY_PRESETS,
    KEPLER_ZERO_POINT,
    campaign_from_filename,
    season_from_description,
)
from virtualobserver.adapters.surveys.spoc_format import NAN_FLAG, read_mission_file
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.reduction import ReductionParameters

KEPLER_REAL = "kplr010002792-2010174085026_llc.fits"
K2_REAL = "ktwo211117077-c04_llc.fits"
#: BKJD = BJD - 2454833, so BKJD = MJD - (2454833 - 2400000.5).
BKJD_TO_MJD = 2454833 - 2400000.5
LONG_DAYS = 0.02043359821692
SHORT_DAYS = LONG_DAYS / 30
SYNTHETIC_KIC = 10002792


def write_kepler_lc(path, *, n=400, kepler_id=SYNTHETIC_KIC, mission="Kepler", season=5, short=False,
                    ra=287.86721, dec=46.98308, quality_column="SAP_QUALITY", first_cadence=16373, t0=443.49,
                    season_keyword=True, seed=0):
    """Write a small Kepler-layout lightcurve (``K2`` for ``mission="K2"``) with CHECKSUM/DATASUM.

    Rows 0-4 have NaN TIME (quality 0, so only the NaN makes them bad), rows 10-19 NaN PDCSAP_FLUX, rows 20-22 a
    negative PDCSAP_FLUX. SAP_QUALITY has, in blocks of five rows: every default-mask bit, every bit "hard" adds,
    bits only "hardest" masks, and the unused bit 512, which no preset masks.
    """
    rng = np.random.default_rng(seed)
    cadence = SHORT_DAYS if short else LONG_DAYS
    time = t0 + np.arange(n) * cadence
    time[:5] = np.nan
    pdcsap = rng.normal(93000.0, 30.0, n).astype(np.float32)
    pdcsap[10:20] = np.nan
    pdcsap[20:23] = -5.0
    sap = rng.normal(72000.0, 30.0, n).astype(np.float32)
    quality = np.zeros(n, dtype=np.int32)
    start = 30
    for bits in ([1, 2, 4, 8, 32, 256, 16384, 65536, 1048576], [128, 1024, 8192, 524288],
                 [16, 64, 2048, 4096, 32768, 131072, 262144], [512]):
        for bit in bits:
            quality[start:start + 5] = bit
            start += 5
    quality[start:start + 5] = 32 | 128  # a default bit with a hard one
    primary = fits.Header()
    for key, value in [("TELESCOP", "Kepler"), ("INSTRUME", "Kepler Photometer"), ("OBJECT", f"KIC {kepler_id}"),
                       ("KEPLERID", kepler_id), ("MISSION", mission), ("OBSMODE", "short cadence" if short
                                                                        else "long cadence"),
                       ("RADESYS", "ICRS"), ("RA_OBJ", ra), ("DEC_OBJ", dec), ("EQUINOX", 2000.0), ("KEPMAG", 13.0),
                       ("CREATOR", "FluxExporter2PipelineModule"), ("ORIGIN", "NASA/Ames"), ("TEFF", None)]:
        primary[key] = value
    if season_keyword:
        primary["CAMPAIGN" if mission == "K2" else "QUARTER"] = season
    primary["COMMENT"] = "a comment card that must not reach the metadata"
    n_col = np.arange(n, dtype=np.float64)
    columns = [
        fits.Column("TIME", "D", unit="BJD - 2454833", array=time),
        fits.Column("TIMECORR", "E", unit="d", array=np.full(n, 0.001, np.float32)),
        fits.Column("CADENCENO", "J", array=np.arange(n, dtype=np.int32) + first_cadence),
        fits.Column("SAP_FLUX", "E", unit="e-/s", array=sap),
        fits.Column("SAP_FLUX_ERR", "E", unit="e-/s", array=np.full(n, 11.0, np.float32)),
        fits.Column("SAP_BKG", "E", unit="e-/s", array=np.full(n, 500.0, np.float32)),
        fits.Column("SAP_BKG_ERR", "E", unit="e-/s", array=np.full(n, 1.0, np.float32)),
        fits.Column("PDCSAP_FLUX", "E", unit="e-/s", array=pdcsap),
        fits.Column("PDCSAP_FLUX_ERR", "E", unit="e-/s", array=np.full(n, 13.0, np.float32)),
        fits.Column(quality_column, "J", array=quality),
        fits.Column("MOM_CENTR1", "D", unit="pixel", array=500.0 + 0.001 * n_col),
        fits.Column("MOM_CENTR2", "D", unit="pixel", array=700.0 - 0.001 * n_col),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    for key, value in [("TIMEREF", "SOLARSYSTEM"), ("TASSIGN", "SPACECRAFT"), ("TIMESYS", "TDB"),
                       ("BJDREFI", 2454833), ("BJDREFF", 0.0), ("TIMEUNIT", "d"), ("TIMEDEL", cadence),
                       ("INT_TIME", 6.01980290327), ("FRAMETIM", 6.538751429414), ("NUM_FRM", 9 if short else 270),
                       ("CROWDSAP", 0.78), ("FLFRCSAP", 0.80)]:
        table.header[key] = value
    aperture = fits.ImageHDU(np.array([[0, 1, 1], [1, 3, 1], [0, 1, 0]], dtype=np.int32), name="APERTURE")
    fits.HDUList([fits.PrimaryHDU(header=primary), table, aperture]).writeto(path, checksum=True)
    return path


@pytest.fixture
def kepler_file(tmp_path):
    return write_kepler_lc(tmp_path / f"kplr{SYNTHETIC_KIC:09d}-2010174085026_llc.fits")


@pytest.fixture
def k2_file(tmp_path):
    return write_kepler_lc(tmp_path / "ktwo211117077-c04_llc.fits", kepler_id=211117077, mission="K2", season=4,
                           ra=55.967295, dec=24.841616, first_cadence=103744, t0=2228.80)


def _lightkurve():
    lk = pytest.importorskip("lightkurve")
    return lk


def _read_with_lightkurve(path, preset="default", flux_column="pdcsap_flux"):
    lk = _lightkurve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's notes on masked cadences and units
        return lk.read(str(path), quality_bitmask=preset, flux_column=flux_column)


def _client(survey, **params):
    return (VirtualKepler(KeplerParameters(offline=True, **params)) if survey == "kepler"
            else VirtualK2(K2Parameters(offline=True, **params)))


def _assert_matches_lightkurve(path, survey, preset="default", flux_column="pdcsap"):
    """The reduced lightcurve, on the cadences lightkurve keeps, has lightkurve's times, fluxes and errors.

    lightkurve drops the cadences its preset masks and those with NaN times; here they are kept and flagged,
    so the good-cadence mask (quality bits only, NAN_FLAG aside) must pick exactly lightkurve's cadences.
    """
    client = _client(survey, quality_bitmask=preset, flux_column=flux_column)
    raw = client.parse_file(path)
    (lc,) = client.reduce(raw, ReductionParameters())
    theirs = _read_with_lightkurve(path, preset, f"{flux_column}_flux")
    assert theirs.time.format == "bkjd" and theirs.time.scale == "tdb" and lc.time_scale == "tdb"
    finite_time = np.isfinite(raw.columns["time_bkjd"])
    quality_good = (lc.flag & ~NAN_FLAG) == 0
    kept = np.isin(raw.columns["cadenceno"], np.asarray(theirs.cadenceno))
    np.testing.assert_array_equal(kept, quality_good & finite_time)
    np.testing.assert_array_equal(raw.columns["cadenceno"][kept], np.asarray(theirs.cadenceno))
    np.testing.assert_allclose(lc.mjds[kept] - BKJD_TO_MJD, theirs.time.value, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(lc.flux[kept], np.asarray(theirs.flux.value, dtype=float))
    np.testing.assert_array_equal(lc.fluxerr[kept], np.asarray(theirs.flux_err.value, dtype=float))
    # Searched cadences: lightkurve's ones with a finite flux.
    np.testing.assert_array_equal(lc.flag == 0, kept & np.isfinite(lc.flux))
    return lc, theirs


# -- quality bits, presets and the zero point ------------------------------------------------------------------------

def test_quality_bits_and_presets_are_lightkurves():
    flags = _lightkurve().utils.KeplerQualityFlags
    assert KEPLER_QUALITY_BITS.keys() == flags.STRINGS.keys()
    assert KEPLER_QUALITY_PRESETS == dict(flags.OPTIONS)
    assert KEPLER_QUALITY_PRESETS == {"none": 0, "default": 1130799, "hard": 1664431, "hardest": 2096639}
    assert not KEPLER_QUALITY_PRESETS["hardest"] & 512  # unused by Kepler
    assert K2.presets == KEPLER.presets and K2.zero_point == KEPLER.zero_point
    with pytest.raises(DataError, match="unknown Kepler quality preset 'soft'"):
        KEPLER.quality_mask("soft")


def test_zero_point_puts_the_go_office_reference_star_at_kp_12():
    assert KEPLER_ZERO_POINT == pytest.approx(25.1014, abs=1e-4)
    assert KEPLER_ZERO_POINT - 2.5 * np.log10(1.74e5) == pytest.approx(12.0, abs=1e-12)


def test_season_from_file_names_and_descriptions():
    assert campaign_from_filename("ktwo211117077-c04_llc.fits") == 4
    assert [campaign_from_filename(f"ktwo200069974-c{c}_llc.fits") for c in (91, 92, 101, 112, 19)] == [
        9, 9, 10, 11, 19]
    assert campaign_from_filename("kplr010002792-2010174085026_llc.fits") is None
    assert season_from_description("Lightcurve Long Cadence (CLC) - Q4") == 4
    assert season_from_description("Lightcurve Long Cadence (KLC) - C13") == 13
    assert season_from_description("Target Pixel Long Cadence (KTL)") is None


# -- against lightkurve: the real files and their synthetic twins ---------------------------------------------------

@pytest.mark.parametrize("name, survey", [(KEPLER_REAL, "kepler"), (K2_REAL, "k2")])
def test_real_file_reads_as_lightkurve_reads_it(shared_data, name, survey):
    lc, theirs = _assert_matches_lightkurve(shared_data / name, survey)
    assert len(theirs) < lc.num_epochs  # lightkurve dropped cadences that are kept (flagged) here
    _assert_matches_lightkurve(shared_data / name, survey, flux_column="sap")


@pytest.mark.parametrize("survey", ["kepler", "k2"])
@pytest.mark.parametrize("preset", ["default", "hard", "hardest", "none"])
def test_synthetic_file_reads_as_lightkurve_reads_it(kepler_file, k2_file, survey, preset):
    path = kepler_file if survey == "kepler" else k2_file
    lc, theirs = _assert_matches_lightkurve(path, survey, preset)
    # 5 NaN times; default: 9 blocks of 5 and the default+hard block; hard: 4 blocks more; hardest: 7 more.
    expected = {"none": 5, "default": 5 + 45 + 5, "hard": 5 + 45 + 5 + 20, "hardest": 5 + 45 + 5 + 20 + 35}[preset]
    assert lc.num_epochs - len(theirs) == expected  # NaN times, then the masked blocks of the writer
    if preset == "default":
        _assert_matches_lightkurve(path, survey, preset, flux_column="sap")


def test_real_kepler_file_contents(shared_data):
    path = shared_data / KEPLER_REAL
    assert verify_fits_checksums(path) == 3
    lc = read_mission_file(path, KEPLER)
    with fits.open(path) as hdus:
        time, quality = np.array(hdus[1].data["TIME"]), np.array(hdus[1].data["SAP_QUALITY"])
    assert (lc.target_id, lc.season, lc.ra, lc.dec) == (10002792, 5, 287.86721, 46.98308)
    assert lc.cadence_s == pytest.approx(LONG_DAYS * 86400)
    assert lc.columns["time_bkjd"].size == 4634 and np.isnan(lc.columns["time_bkjd"]).sum() == 96
    assert (lc.columns["quality"] != 0).sum() == 666
    np.testing.assert_array_equal(lc.columns["quality"], quality)
    np.testing.assert_allclose(lc.columns["mjd_tdb"], time + BKJD_TO_MJD, rtol=0, atol=1e-9)
    assert np.nanmin(lc.columns["time_bkjd"]) == pytest.approx(443.49, abs=0.01)
    assert lc.aperture.shape == (5, 6) and lc.primary["QUARTER"] == 5 and lc.lightcurve["BJDREFI"] == 2454833
    assert json.loads(json.dumps(lc.primary, allow_nan=False)) == lc.primary


def test_synthetic_kepler_file_contents(kepler_file):
    assert verify_fits_checksums(kepler_file) == 3
    lc = read_mission_file(kepler_file, KEPLER)
    assert (lc.target_id, lc.season, lc.ra, lc.dec) == (SYNTHETIC_KIC, 5, 287.86721, 46.98308)
    assert lc.cadence_s == pytest.approx(LONG_DAYS * 86400)
    assert np.isnan(lc.columns["mjd_tdb"][:5]).all()
    assert lc.columns["mjd_tdb"][5] == pytest.approx(443.49 + 5 * LONG_DAYS + BKJD_TO_MJD, abs=1e-9)
    assert lc.columns["quarter"].tolist() == [5] * 400 and lc.columns["cadenceno"][0] == 16373
    assert "COMMENT" not in lc.primary and lc.primary["TEFF"] is None
    assert lc.aperture.dtype == np.int32 and lc.aperture.dtype.isnative


# -- reduction -------------------------------------------------------------------------------------------------------

def test_real_files_reduce_to_one_lightcurve_per_season(shared_data):
    for name, survey, season, epochs in ((KEPLER_REAL, "kepler", 5, 4634), (K2_REAL, "k2", 4, 3470)):
        client = _client(survey)
        raw = client.parse_file(shared_data / name)
        (lc,) = client.reduce(raw, ReductionParameters())
        assert (lc.survey, lc.filter, lc.season, lc.num_epochs, lc.time_scale) == (survey, "Kepler", season,
                                                                                  epochs, "tdb")
        assert np.all(np.diff(lc.mjds) > 0) and np.all(lc.flag[~np.isfinite(raw.columns["time_bkjd"])] & NAN_FLAG)
        good = (lc.flag == 0) & (lc.flux > 0)
        np.testing.assert_allclose(lc.mag[good], KEPLER_ZERO_POINT - 2.5 * np.log10(lc.flux[good]))
        kepmag = raw.meta["files"][0]["primary"]["KEPMAG"]
        assert abs(np.median(lc.mag[good]) - kepmag) < 0.4  # Kp is defined for a G2V star; these are redder


def test_synthetic_file_reduces_with_magnitudes_and_filled_times(kepler_file):
    client = _client("kepler")
    (lc,) = client.reduce(client.parse_file(kepler_file), ReductionParameters())
    assert (lc.filter, lc.season, lc.num_epochs, lc.exptime[0]) == ("Kepler", 5, 400, pytest.approx(1765.46, 0.01))
    assert lc.mjds[0] == pytest.approx(443.49 + BKJD_TO_MJD, abs=1e-9)  # filled from the cadence numbers
    assert np.all(lc.flag[:5] & NAN_FLAG) and np.all(lc.flag[10:20] & NAN_FLAG)
    negative = lc.flux < 0
    assert negative.sum() == 3 and np.isnan(lc.mag[negative]).all() and not (lc.flag[negative] & NAN_FLAG).any()
    good = (lc.flag == 0) & (lc.flux > 0)
    np.testing.assert_allclose(lc.magerr[good], 1.0857 * lc.fluxerr[good] / lc.flux[good], rtol=1e-4)
    assert client.reduce(client.parse_file(kepler_file), ReductionParameters(min_epochs=401)) == []


def test_short_cadence_months_of_a_quarter_make_one_lightcurve(tmp_path):
    client = _client("kepler", cadences=["long", "short"])
    months = [client.parse_file(write_kepler_lc(tmp_path / f"kplr{SYNTHETIC_KIC:09d}-20101{k}0000000_slc.fits",
                                                short=True, n=300, first_cadence=500000 + 40000 * k,
                                                t0=443.49 + 30.0 * k, seed=k)) for k in range(3)]
    long = client.parse_file(write_kepler_lc(tmp_path / f"kplr{SYNTHETIC_KIC:09d}-2010174085026_llc.fits"))
    raw = client.combine([months[2], long, months[0], months[1], months[0]])
    assert raw.num_epochs == 400 + 900 and raw.meta["kepler_id"] == SYNTHETIC_KIC
    assert sorted(raw.images) == ["aperture_q05", "aperture_q05_short_500000", "aperture_q05_short_540000",
                                  "aperture_q05_short_580000"]
    lcs = client.reduce(raw, ReductionParameters())
    assert [(lc.filter, lc.season, lc.num_epochs) for lc in lcs] == [("Kepler", 5, 400), ("Kepler-short", 5, 900)]
    short = lcs[1]
    assert short.exptime[0] == pytest.approx(58.85, abs=0.01) and np.all(np.diff(short.mjds) > 0)
    # A month's first cadences have no time: filled between the months by cadence number, not left NaN.
    assert np.isfinite(short.mjds).all()


# -- wrong or damaged files ------------------------------------------------------------------------------------------

def test_a_file_of_the_other_mission_is_refused_naming_it(kepler_file, k2_file):
    with pytest.raises(SurveyError, match=rf"k2: .*{kepler_file.name}: a Kepler file \(MISSION keyword\), not K2"):
        _client("k2").parse_file(kepler_file)
    with pytest.raises(SurveyError, match=r"kepler: .*: a K2 file \(MISSION keyword\), not Kepler"):
        _client("kepler").parse_file(k2_file)


def test_real_k2_file_is_not_read_as_kepler(shared_data):
    with pytest.raises(SurveyError, match=rf"{K2_REAL}: a K2 file \(MISSION keyword\), not Kepler"):
        _client("kepler").parse_file(shared_data / K2_REAL)


def test_a_tess_file_is_not_a_kepler_file(tmp_path):
    from tests.unit.test_tess_format import write_spoc_lc

    path = write_spoc_lc(tmp_path / "tess-s0007-0000000123456789-0131-s_lc.fits")
    with pytest.raises(SurveyError, match=r"no QUARTER keyword and no quarter in the file name"):
        _client("kepler").parse_file(path)


def test_quality_column_named_quality_and_season_from_the_name(tmp_path):
    path = write_kepler_lc(tmp_path / "ktwo211117077-c102_llc.fits", mission="K2", kepler_id=211117077,
                           quality_column="QUALITY", season_keyword=False)
    lc = read_mission_file(path, K2)
    assert lc.season == 10 and (lc.columns["quality"] != 0).sum() == 5 * 22
    nameless = write_kepler_lc(tmp_path / "kepler.fits", season_keyword=False)
    with pytest.raises(DataError, match="kepler.fits: no QUARTER keyword"):
        read_mission_file(nameless, KEPLER)


def test_corrupt_real_file_is_refused(tmp_path, shared_data):
    path = shutil.copy(shared_data / K2_REAL, tmp_path / K2_REAL)
    data = bytearray(path.read_bytes())
    data[2880 * 4 + 333] ^= 0x04  # inside the LIGHTCURVE table
    path.write_bytes(bytes(data))
    with pytest.raises(SurveyError, match=rf"{K2_REAL}: checksum of HDU 1 \(LIGHTCURVE\) fails"):
        _client("k2").parse_file(path)


def test_corrupt_synthetic_file_is_refused(kepler_file):
    data = bytearray(kepler_file.read_bytes())
    data[2880 * 4 + 333] ^= 0x04
    kepler_file.write_bytes(bytes(data))
    with pytest.raises(SurveyError, match=rf"{kepler_file.name}: checksum of HDU 1 \(LIGHTCURVE\) fails"):
        _client("kepler").parse_file(kepler_file)


def test_meta_and_apertures_survive_json_and_the_hdf5_store(k2_file, tmp_path):
    raw = _client("k2").parse_file(k2_file)
    assert json.loads(json.dumps(raw.meta, allow_nan=False)) == raw.meta
    (entry,) = raw.meta["files"]
    assert (entry["campaign"], entry["epic_id"], raw.meta["epic_id"]) == (4, 211117077, 211117077)
    raw.source_name, raw.version = "pleiad", "v1"
    store = Hdf5DataStore(tmp_path / "data")
    store.save_raw(raw)
    fresh = type(raw)("k2", "pleiad", "v1")
    fresh.file, fresh.key = raw.file, raw.key
    loaded = store.load_raw(fresh)
    assert loaded.meta == raw.meta
    np.testing.assert_array_equal(loaded.images["aperture_c04"], raw.images["aperture_c04"])
    for name, column in raw.columns.items():
        np.testing.assert_array_equal(loaded.columns[name], column)
