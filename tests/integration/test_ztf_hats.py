"""VirtualZtfHats on HATS collections written here: the same raw data and lightcurves as the per-request client.

The per-request path (VirtualZTF) asks a local HTTP archive whose cone answers are made by brute force with
astropy (every object with an epoch within the cone's radius, all its epochs); the HATS path reads the same rows
from a HATS collection written with hats' own tools (tests/hats_writer.py).
"""

from __future__ import annotations


import astropy.units as u
import cdshealpix.nested as healpix
import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import Latitude, Longitude, SkyCoord

from virtualobserver.adapters.container import _survey_factories
from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.http.fetcher import OfflineError
from virtualobserver.adapters.surveys.ztf import RAW_COLUMNS, VirtualZTF, ZtfParameters
from virtualobserver.adapters.surveys.ztf_format import ZTF_DTYPES, read_answer
from virtualobserver.adapters.surveys.ztf_hats import VirtualZtfHats
from virtualobserver.domain.errors import ConfigError, SurveyError
from virtualobserver.domain.reduction import ReductionParameters
from virtualobserver.domain.source import Source

from tests.hats_writer import write_hats_collection
from tests.http_server import Reply

LC_PATH = "/cgi-bin/ZTF/nph_light_curves"
REAL = "ztf_dr1_lightcurve_SN2018hmx_ipac.tbl"
SN2018HMX = Source("SN2018hmx", 128.41389, 55.59812, mag=17.3)


def cone_archive(archive, columns: dict[str, np.ndarray]) -> None:
    """Answer each IRSA cone (as CSV) with every epoch of the objects having an epoch inside it (astropy)."""
    positions = SkyCoord(columns["ra"] * u.deg, columns["dec"] * u.deg)
    names = list(columns)

    def answer(request):
        _, ra, dec, radius = request.query["POS"][0].split()
        inside = positions.separation(SkyCoord(float(ra) * u.deg, float(dec) * u.deg)).deg <= float(radius)
        rows = np.flatnonzero(np.isin(columns["oid"], np.unique(columns["oid"][inside])))
        # repr() of a float reads back to the same float: the answer loses no digit.
        lines = [",".join(names)] + [",".join(repr(columns[n][i].item()) if columns[n].dtype.kind == "f"
                                              else str(columns[n][i]) for n in names) for i in rows]
        return Reply(200, ("\n".join(lines) + "\n").encode(), {"Content-Type": "text/plain"})

    archive.route(LC_PATH, answer)


def per_request_client(archive, tmp_path) -> VirtualZTF:
    return VirtualZTF(ZtfParameters(base_url=archive.url, rate_limit_per_s=0.0, retries=0, format="csv"),
                      cache=RawCache(tmp_path / "cache"))


def hats_client(path, **values) -> VirtualZtfHats:
    return VirtualZtfHats(ZtfParameters(access="hats", hats_path=str(path), **values))


def by_oid_and_mjd(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((columns["mjd"], columns["oid"]))
    return {name: values[order] for name, values in columns.items()}


def assert_same_raw_and_lightcurves(hats_raw, irsa_raw, client) -> None:
    assert (hats_raw.ra, hats_raw.dec, hats_raw.num_epochs) == (irsa_raw.ra, irsa_raw.dec, irsa_raw.num_epochs)
    assert (hats_raw.meta["kept"], hats_raw.meta["rejected"]) == (irsa_raw.meta["kept"], irsa_raw.meta["rejected"])
    assert set(hats_raw.columns) == set(irsa_raw.columns) == set(RAW_COLUMNS)
    ours, theirs = by_oid_and_mjd(hats_raw.columns), by_oid_and_mjd(irsa_raw.columns)
    for name in RAW_COLUMNS:
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    parameters = ReductionParameters()
    mine, expected = client.reduce(hats_raw, parameters), client.reduce(irsa_raw, parameters)
    assert [(lc.filter, lc.season, lc.num_epochs) for lc in mine] == [
        (lc.filter, lc.season, lc.num_epochs) for lc in expected]
    for a, b in zip(mine, expected):
        assert set(a.columns) == set(b.columns)
        for name in a.columns:
            np.testing.assert_array_equal(a.columns[name], b.columns[name], err_msg=name)


# -- the real IRSA answer -----------------------------------------------------------------------------------------
def test_real_answer_rows_from_hats_equal_the_per_request_client(shared_data, fake_archive, tmp_path):
    columns = read_answer(shared_data / REAL)[1]
    collection = write_hats_collection(tmp_path / "ztf_hats", columns)
    cone_archive(fake_archive, columns)
    irsa = per_request_client(fake_archive, tmp_path)
    client = hats_client(collection)
    raw = client.download(SN2018HMX)
    assert raw.num_epochs == 32 and raw.meta["kept"] == ["784110400009312", "784210400008322"]
    # The two epochs of a bad image keep their catflags and become flag 32768 (bad), the rest 0.
    assert sorted(raw.columns["catflags"].tolist()).count(32768) == 2
    assert_same_raw_and_lightcurves(raw, irsa.download(SN2018HMX), client)
    lcs = client.reduce(raw, ReductionParameters())
    bad = (columns["catflags"] & 32768) != 0
    assert [(lc.filter, int((lc.flag != 0).sum())) for lc in lcs] == [
        (band, int(bad[columns["filtercode"] == band].sum())) for band in ("zg", "zr")]
    assert client.partition_reads == 1


def nested_layout(columns: dict[str, np.ndarray], list_of_structs: bool = False) -> dict:
    """The rows of an IRSA answer in the layout of IRSA's own HATS collection: one row per object, epochs nested.

    ``hmjd`` is the answer's own ``hjd`` - 2400000.5 (IRSA's heliocentric time), so the client's UTC MJDs can
    be checked against the answer's ``mjd``.
    """
    oids = np.unique(columns["oid"])
    rows = [np.flatnonzero(columns["oid"] == oid) for oid in oids]
    epochs = {"hmjd": [columns["hjd"][r] - 2400000.5 for r in rows], "mag": [columns["mag"][r] for r in rows],
              "magerr": [columns["magerr"][r] for r in rows],
              "catflags": [columns["catflags"][r].astype(np.int16) for r in rows]}
    # catflags as a signed 16-bit integer: bit 15 (bad image) then reads as -32768.
    types = {"hmjd": pa.float64(), "mag": pa.float32(), "magerr": pa.float32(), "catflags": pa.int16()}
    if list_of_structs:
        lightcurve = pa.array([[dict(zip(epochs, values)) for values in zip(*(epochs[k][i].tolist() for k in epochs))]
                               for i in range(len(rows))], type=pa.list_(pa.struct(list(types.items()))))
    else:
        lightcurve = pa.StructArray.from_arrays([pa.array([v.tolist() for v in epochs[k]], type=pa.list_(types[k]))
                                                 for k in epochs], names=list(epochs))
    first = [r[0] for r in rows]
    return {"objectid": oids, "filterid": np.array([{"zg": 1, "zr": 2, "zi": 3}[columns["filtercode"][i]]
                                                    for i in first], dtype=np.int8),
            "fieldid": columns["field"][first], "rcid": 4 * (columns["ccdid"][first] - 1) + columns["qid"][first] - 1,
            "objra": np.array([np.median(columns["ra"][r]) for r in rows]),
            "objdec": np.array([np.median(columns["dec"][r]) for r in rows]), "lightcurve": lightcurve}


@pytest.mark.parametrize("list_of_structs", [False, True], ids=["struct-of-lists", "list-of-structs"])
def test_irsa_nested_layout_gives_the_answer_epochs_with_utc_times(shared_data, tmp_path, list_of_structs):
    columns = read_answer(shared_data / REAL)[1]
    collection = write_hats_collection(tmp_path / "nested", nested_layout(columns, list_of_structs),
                                       ra_column="objra", dec_column="objdec")
    client = hats_client(collection)
    raw = client.download(SN2018HMX)
    assert raw.meta["kept"] == ["784110400009312", "784210400008322"] and raw.num_epochs == 32
    ours, theirs = by_oid_and_mjd(raw.columns), by_oid_and_mjd(columns)
    # IRSA's hjd back to IRSA's mjd: the heliocentric light time (85-118 s here) undone to within a millisecond.
    assert np.abs(ours["mjd"] - theirs["mjd"]).max() * 86400 < 1e-3
    for name in ("oid", "catflags", "filtercode", "field", "ccdid", "qid"):
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    for name in ("mag", "magerr"):  # stored as float32, as in IRSA's collection: 7 digits
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-7, atol=0, err_msg=name)
    # The nested layout has no chi, sharp, limitmag, exptime...: absent, not invented.
    assert ours["catflags"].dtype == np.int64 and not {"chi", "limitmag", "exptime"} & set(raw.columns)
    lcs = client.reduce(raw, ReductionParameters())
    expected = client.reduce(VirtualZTF().parse_file(shared_data / REAL), ReductionParameters())
    assert [(lc.filter, lc.num_epochs) for lc in lcs] == [(lc.filter, lc.num_epochs) for lc in expected]
    for a, b in zip(lcs, expected):
        np.testing.assert_array_equal(a.flag, b.flag)
        np.testing.assert_allclose(a.mag, b.mag, rtol=1e-7, atol=0)


def test_a_collection_at_a_url_is_read_over_http(shared_data, fake_archive, tmp_path):
    columns = read_answer(shared_data / REAL)[1]
    collection = write_hats_collection(tmp_path / "ztf_hats", columns)
    # A plain web server (no byte ranges): every file of the collection at its path under /hats/.
    for path in collection.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            fake_archive.route(f"/hats/{path.relative_to(collection).as_posix()}",
                               lambda request, body=body: Reply(200, body, {"Content-Type": "application/octet-stream"}))
    raw = hats_client(f"{fake_archive.url}/hats").download(SN2018HMX)
    assert raw.num_epochs == 32 and raw.meta["kept"] == ["784110400009312", "784210400008322"]
    np.testing.assert_array_equal(np.sort(raw.columns["mjd"]), np.sort(columns["mjd"]))
    asked = {r.path for r in fake_archive.requests}
    assert "/hats/ztf_lc/dataset/Norder=0/Dir=0/Npix=1.parquet" in asked


# -- many sources over many partitions, some on partition corners ------------------------------------------------
def synthetic_sky(seed: int = 3):
    """Sources around a corner of four order-3 pixels (so cones and epochs straddle partitions), two filters each.

    Returns the sources and the epoch rows in IRSA's 24 columns; one source in ten is a blend of two stars
    1.8 arcsec apart (in the cone, the neighbour's objects rejected by position), one in ten has no ZTF data.
    """
    rng = np.random.default_rng(seed)
    centre = healpix.lonlat_to_healpix(Longitude([150.0], u.deg), Latitude([2.0], u.deg), 3)
    lon, lat = healpix.vertices(centre, 3)
    corner_ra, corner_dec = float(lon.to_value(u.deg)[0, 0]), float(lat.to_value(u.deg)[0, 0])
    n = 80
    ra = corner_ra + rng.uniform(-0.4, 0.4, n)
    dec = corner_dec + rng.uniform(-0.4, 0.4, n)
    ra[:4] = corner_ra + np.array([0.0, 0.3, -0.2, 0.0]) / 3600  # on the corner, within arcsec of it
    dec[:4] = corner_dec + np.array([0.0, 0.0, 0.4, -0.5]) / 3600
    sources = [Source(f"S{i:04d}", float(r), float(d), mag=float(m))
               for i, (r, d, m) in enumerate(zip(ra, dec, rng.uniform(14.0, 19.0, n)))]
    rows = {name: [] for name in ZTF_DTYPES}
    oid = 633_000_000_000_000
    for i, source in enumerate(sources):
        if i % 10 == 9:
            continue
        stars = [(source.ra, source.dec, source.mag)]
        if i % 10 == 5:
            stars.append((source.ra + 1.8 / 3600 / np.cos(np.radians(source.dec)), source.dec, source.mag + 1.0))
        for s_ra, s_dec, s_mag in stars:
            for band, fid in (("zg", 1), ("zr", 2)):
                oid += 1
                epochs = int(rng.integers(5, 15))
                for k in range(epochs):
                    mjd = 58300.2 + 3.1 * k + 0.04 * fid + rng.uniform(0, 0.01)
                    bad = rng.uniform() < 0.1
                    values = {
                        "oid": oid, "expid": 60000000 + 7 * k, "hjd": mjd + 2400000.5, "mjd": mjd,
                        "mag": s_mag + rng.normal(0, 0.02), "magerr": 0.02, "catflags": 32768 if bad else 0,
                        "filtercode": band, "ra": s_ra + rng.normal(0, 0.1) / 3600,
                        "dec": s_dec + rng.normal(0, 0.1) / 3600, "chi": 1.0, "sharp": 0.0,
                        "filefracday": 20180701000000 + k, "field": 633, "ccdid": 3, "qid": 2,
                        "limitmag": 20.5, "magzp": 26.2, "magzprms": 0.03, "clrcoeff": -0.05, "clrcounc": 1e-5,
                        "exptime": 30.0, "airmass": 1.3, "programid": 1}
                    for name, value in values.items():
                        rows[name].append(value)
    columns = {name: np.array(values, dtype=str if ZTF_DTYPES[name] == "str" else ZTF_DTYPES[name])
               for name, values in rows.items()}
    return sources, columns


def test_sources_across_partitions_equal_the_per_request_client(fake_archive, tmp_path):
    sources, columns = synthetic_sky()
    collection = write_hats_collection(tmp_path / "ztf_hats", columns, min_order=3, max_rows=150)
    cone_archive(fake_archive, columns)
    irsa = per_request_client(fake_archive, tmp_path)
    client = hats_client(collection)
    raws = client.download_many(sources)
    assert len(raws) == len(sources)
    for source, raw in zip(sources, raws):
        assert raw.source_name == source.name
        assert_same_raw_and_lightcurves(raw, irsa.download(source), client)
    # The sources on the corner of four order-3 pixels: their epochs come from several partitions.
    assert all(len(raws[i].meta["partitions"]) >= 2 for i in range(4))
    assert all(raws[i].num_epochs > 0 for i in range(4))
    assert all(raws[i].num_epochs == 0 and raws[i].meta["kept"] == [] for i in range(9, len(sources), 10))
    blends = [raws[i] for i in range(5, len(sources), 10)]
    assert all(len(raw.meta["kept"]) == 2 and len(raw.meta["rejected"]) == 2 for raw in blends)


def test_every_partition_is_read_once_over_batches(tmp_path):
    sources, columns = synthetic_sky()
    collection = write_hats_collection(tmp_path / "ztf_hats", columns, min_order=3, max_rows=150)
    client = hats_client(collection)
    whole = client.download_many(sources)
    partitions = {name for raw in whole for name in raw.meta["partitions"]}
    assert client.partition_reads == len(partitions) > 4
    again = hats_client(collection)
    batches = [again.download_many(sources[start:start + 50]) for start in range(0, len(sources), 50)]
    assert again.partition_reads == len(partitions)
    assert [raw.meta["kept"] for batch in batches for raw in batch] == [raw.meta["kept"] for raw in whole]
    # A cache of one partition's size drops the others: batches in other places read theirs again.
    small = hats_client(collection, partition_cache_mb=1.0)
    small._partitions.max_bytes = 1
    for start in range(0, len(sources), 50):
        small.download_many(sources[start:start + 50])
    assert small.partition_reads > len(partitions)


# -- configuration and errors -------------------------------------------------------------------------------------
def test_the_container_builds_the_hats_client_for_access_hats(tmp_path):
    factories = _survey_factories(RawCache(tmp_path / "cache"))
    assert type(factories["ztf"](ZtfParameters(access="hats", hats_path=str(tmp_path)))) is VirtualZtfHats
    assert type(factories["ztf"](ZtfParameters())) is VirtualZTF


def test_access_hats_without_a_path_is_a_config_error():
    with pytest.raises(ConfigError, match="hats_path"):
        hats_client("")


def test_a_folder_that_is_not_hats_fails_each_source_with_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    outcomes = hats_client(tmp_path / "empty").download_many([SN2018HMX, Source("b", 1.0, 2.0)])
    assert all(isinstance(o, SurveyError) for o in outcomes)
    assert str(outcomes[0]) == f"{tmp_path / 'empty'}: not a HATS collection or catalog (no collection.properties " \
                               "or hats.properties)"
    with pytest.raises(SurveyError, match="not a HATS collection"):
        hats_client(tmp_path / "empty").download(SN2018HMX)


def test_a_hats_catalog_without_ztf_columns_is_refused(tmp_path):
    columns = {"ra": np.array([10.0, 10.1]), "dec": np.array([5.0, 5.1]), "flux": np.array([1.0, 2.0])}
    collection = write_hats_collection(tmp_path / "other", columns)
    with pytest.raises(SurveyError, match=r"no columns \['oid', 'mjd', 'mag', 'magerr', 'catflags', 'filtercode'\]"):
        hats_client(collection).download(Source("x", 10.0, 5.0))


def test_offline_mode_refuses_a_remote_collection():
    client = hats_client("https://irsa.example.org/ztf/dr23/lc/hats", offline=True)
    with pytest.raises(OfflineError, match="remote and offline mode makes no requests"):
        client.download(SN2018HMX)


def test_access_and_path_do_not_change_the_download_version(tmp_path):
    assert ZtfParameters(access="hats", hats_path=str(tmp_path)).version() == ZtfParameters().version()
