"""The pure parts of the pixel downloads: IBE tables and URLs, time windows, bounded unpacking, file checks."""

from __future__ import annotations

import gzip
import struct
import zipfile

import numpy as np
import pytest
from astropy.io import fits

from virtualobserver.adapters.surveys.pixels.checks import check_cube, check_image, pixel_file_problem
from virtualobserver.adapters.surveys.pixels.unpack import gunzip_bounded, unzip_fits_members
from virtualobserver.adapters.surveys.pixels.ztf_ibe import ZtfExposure, parse_exposures, science_image_path, where_near
from virtualobserver.domain.errors import DataError
from tests.pixel_files import ibe_table, pixel_cube_bytes, zip_bytes

ROW = dict(field=784, ccdid=10, qid=4, filtercode="zr", obsjd=2458422.97, filefracday=20181031470000)


def test_science_image_url_follows_irsa_layout():
    # The documented pattern: YYYY/MMDD/FFFFFF/ztf_{filefracday}_{field:06d}_{filtercode}_c{ccdid:02d}_o_q{qid}_sciimg.fits
    exposure = ZtfExposure(784, 1, 4, "zg", 2458422.97, "20181031470000")
    assert science_image_path(exposure) == ("ibe/data/ztf/products/sci/2018/1031/470000/"
                                            "ztf_20181031470000_000784_zg_c01_o_q4_sciimg.fits")


def test_windows_around_times_merge_when_they_overlap():
    assert where_near([10.0], 1.0) == "(obsjd BETWEEN 9.000000 AND 11.000000)"
    assert where_near([12.0, 10.0, 11.5, 30.0], 1.0) == ("(obsjd BETWEEN 9.000000 AND 13.000000) OR "
                                                         "(obsjd BETWEEN 29.000000 AND 31.000000)")
    with pytest.raises(ValueError):
        where_near([float("nan")], 1.0)


def test_ibe_rows_become_exposures_sorted_by_time():
    later = {**ROW, "obsjd": 2458500.0, "filefracday": 20190118500000, "filtercode": "zg"}
    exposures = parse_exposures(ibe_table([later, ROW]))
    assert [(e.obsjd, e.filtercode, e.filefracday) for e in exposures] == [
        (2458422.97, "zr", "20181031470000"), (2458500.0, "zg", "20190118500000")]
    assert parse_exposures(ibe_table([])) == []


@pytest.mark.parametrize("bad, message", [
    ({"filefracday": 123}, "names no image"),             # not 14 digits: would build another URL
    ({"filtercode": "../x"}, "names no image"),
])
def test_rows_that_cannot_name_a_file_are_refused(bad, message):
    with pytest.raises(DataError, match=message):
        parse_exposures(ibe_table([{**ROW, **bad}]))


def test_an_answer_without_the_needed_columns_or_not_a_table_is_refused():
    text = ibe_table([ROW]).decode().replace("filefracday", "somethingelse")
    with pytest.raises(DataError, match=r"lacks the columns \['filefracday'\]"):
        parse_exposures(text.encode())
    with pytest.raises(DataError, match="not an IPAC table"):
        parse_exposures(b"<VOTABLE/>")


def test_a_zip_that_lies_about_its_member_size_is_refused_after_the_declared_size(tmp_path):
    bomb = bytearray(zip_bytes({"a.fits": bytes(5_000_000)}))
    # Declare 1000 bytes in the local header (offset 22) and the central directory entry (offset 24).
    struct.pack_into("<I", bomb, 22, 1000)
    central = bomb.index(b"PK\x01\x02")
    struct.pack_into("<I", bomb, central + 24, 1000)
    path = tmp_path / "bomb.zip"
    path.write_bytes(bytes(bomb))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="corrupt zip"):
        unzip_fits_members(path, out, max_bytes=10_000, max_members=4)
    assert sum(p.stat().st_size for p in out.iterdir()) <= 1000


def test_zip_limits_on_members_and_names(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({f"m{k}.fits": b"x" for k in range(3)}))
    with pytest.raises(DataError, match="3 members, more than 2"):
        unzip_fits_members(path, tmp_path, max_bytes=100, max_members=2)
    path.write_bytes(zip_bytes({".hidden.fits": b"x"}))
    with pytest.raises(DataError, match="plain"):
        unzip_fits_members(path, tmp_path, max_bytes=100, max_members=2)
    path.write_bytes(zip_bytes({}))
    with pytest.raises(DataError, match="holds no file"):
        unzip_fits_members(path, tmp_path, max_bytes=100, max_members=2)
    path.write_bytes(b"PK not a zip")
    with pytest.raises(DataError, match="corrupt zip"):
        unzip_fits_members(path, tmp_path, max_bytes=100, max_members=2)
    assert zipfile.is_zipfile(tmp_path / "a.zip") is False


def test_gunzip_stops_at_the_limit(tmp_path):
    packed = tmp_path / "x.fits.gz"
    packed.write_bytes(gzip.compress(bytes(3_000_000)))
    with pytest.raises(DataError, match="more than 1,000,000 bytes"):
        gunzip_bounded(packed, tmp_path / "x.fits", max_bytes=1_000_000)
    assert (tmp_path / "x.fits").stat().st_size <= 1_000_000
    assert gunzip_bounded(packed, tmp_path / "y.fits", max_bytes=3_000_000).stat().st_size == 3_000_000


def test_a_pixel_file_without_aperture_wcs_or_of_the_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "cube.fits"
    path.write_bytes(pixel_cube_bytes(mission="tesscut", n=5))
    assert check_cube(path).shape == (5, 5, 7)
    with fits.open(path) as hdul:
        for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2"):
            del hdul["APERTURE"].header[key]
        hdul.writeto(tmp_path / "nowcs.fits")
    with pytest.raises(DataError, match="no celestial WCS"):
        check_cube(tmp_path / "nowcs.fits", checksums=False)
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(tmp_path / "image.fits")
    with pytest.raises(DataError, match="not a pixel file"):
        check_cube(tmp_path / "image.fits")
    with pytest.raises(DataError, match="no celestial WCS"):
        check_image(tmp_path / "image.fits")  # an image without WCS is no cutout either
    with pytest.raises(DataError, match="unreadable image"):
        check_image(tmp_path / "missing.fits")


def test_a_cut_pixel_file_is_refused(tmp_path):
    body = pixel_cube_bytes(mission="k2", n=40)
    path = tmp_path / "cut.fits"
    path.write_bytes(body[: len(body) - 2880])  # the last block (the APERTURE data) missing
    with pytest.raises(DataError, match="truncated"):
        check_cube(path, checksums=False)  # astropy alone only warns
    with pytest.raises(DataError, match="truncated"):
        check_cube(path)


def test_a_cut_image_cutout_is_refused(tmp_path):
    path = tmp_path / "cutout.fits"
    fits.PrimaryHDU(np.ones((60, 60), np.float32), header=_tan_header()).writeto(path)
    body = path.read_bytes()
    path.write_bytes(body[: len(body) - 2880])
    with pytest.raises(DataError, match="truncated"):
        check_image(path)


def _tan_header():
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, 20.0]
    wcs.wcs.cdelt = [-1.01 / 3600, 1.01 / 3600]
    return wcs.to_header()


def test_a_doctor_learns_what_is_wrong_with_a_stored_pixel_file(tmp_path):
    path = tmp_path / "tpf.fits"
    body = bytearray(pixel_cube_bytes(mission="k2", n=10))
    path.write_bytes(bytes(body))
    assert pixel_file_problem(path, "tpf") is None
    body[2880 * 3 + 10] ^= 0x01
    path.write_bytes(bytes(body))
    assert "checksum of HDU 1 (TARGETTABLES) fails" in pixel_file_problem(path, "tpf")
    assert pixel_file_problem(tmp_path / "gone.fits", "ztf_cutout") == "missing"
