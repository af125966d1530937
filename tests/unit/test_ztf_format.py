"""Readers of IRSA ZTF answers: format detection, IPAC/CSV/VOTable parsing, empty and broken answers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from virtualobserver.adapters.surveys.ztf_format import ZTF_DTYPES, detect_format, empty_columns, parse_answer, read_answer
from virtualobserver.domain.errors import DataError

SMALL = Path(__file__).resolve().parents[1] / "data" / "ztf_small_ipac.tbl"
REAL = "ztf_dr1_lightcurve_SN2018hmx_ipac.tbl"


def _as(columns: dict[str, np.ndarray], fmt: str) -> bytes:
    """Write columns with astropy (an independent writer) as CSV or VOTable."""
    if fmt == "csv":
        text = io.StringIO()
        Table(columns).write(text, format="csv")
        return text.getvalue().encode()
    buffer = io.BytesIO()
    Table(columns).write(buffer, format="votable")
    return buffer.getvalue()


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        if a[name].dtype.kind == "f":
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # NaN == NaN here
        else:
            assert a[name].tolist() == b[name].tolist(), name


@pytest.mark.parametrize("head, expected", [
    (b"\\fixlen = T\n|oid|\n", "ipac_table"),
    (b"|oid|mjd|\n|long|double|\n", "ipac_table"),
    (b"\xef\xbb\xbfoid,mjd,mag\n", "csv"),
    (b'<?xml version="1.0"?>\n<VOTABLE version="1.4">', "votable"),
])
def test_format_is_recognised_from_the_content(head, expected):
    assert detect_format(head) == expected


@pytest.mark.parametrize("body, match", [
    (b"", "empty answer"),
    (b"  \n", "empty answer"),
    (b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head></html>",
     r"HTML page.*503 Service Unavailable"),
    (b"<html><body>Internal error</body></html>", "HTML page"),
    (b"<?xml version='1.0'?><error>no</error>", "XML that is not a VOTable"),
    (b"ERROR: RADIUS must be at most 0.1667 deg\n", "not an IPAC table, CSV or VOTable.*RADIUS"),
    (b"\x00\x01\x02garbage", "not an IPAC table, CSV or VOTable"),
])
def test_unusable_answers_are_data_errors_naming_the_origin(body, match):
    with pytest.raises(DataError, match=match) as info:
        parse_answer(body, origin="https://irsa.example/q?POS=x")
    assert str(info.value).startswith("https://irsa.example/q?POS=x: ")


def test_small_ipac_file_in_irsa_layout():
    fmt, c = read_answer(SMALL)
    assert fmt == "ipac_table"
    assert list(c) == list(ZTF_DTYPES)
    assert {name: str(a.dtype) for name, a in c.items()} == {
        name: ("<U2" if kind == "str" else kind) for name, kind in ZTF_DTYPES.items()}
    assert c["oid"].tolist() == [633110300012345] * 5 + [633210300023456] * 5
    assert c["filtercode"].tolist() == ["zg"] * 5 + ["zr"] * 5
    assert c["catflags"].tolist() == [0, 0, 32768, 0, 0] * 2
    assert c["mjd"][0] == 59000.2 and c["mag"][0] == pytest.approx(16.1866411)
    # The one "null" of the file becomes NaN; every other value is finite.
    assert np.isnan(c["clrcounc"][9]) and np.isfinite(c["clrcounc"][:9]).all()


def test_real_ipac_answer_matches_astropy(shared_data):
    fmt, c = read_answer(shared_data / REAL)
    reference = Table.read(shared_data / REAL, format="ipac")
    assert fmt == "ipac_table" and len(c) == 24 and c["mjd"].size == 32
    for name in reference.colnames:
        expected = np.asarray(reference[name])
        if expected.dtype.kind == "f":
            np.testing.assert_array_equal(c[name], expected, err_msg=name)
        else:
            assert c[name].tolist() == expected.tolist(), name
    assert sorted(set(c["catflags"].tolist())) == [0, 32768] and (c["catflags"] == 32768).sum() == 2


@pytest.mark.parametrize("fmt", ["csv", "votable"])
def test_csv_and_votable_give_the_same_columns_as_ipac(fmt):
    _, ipac = read_answer(SMALL)
    detected, other = parse_answer(_as(ipac, fmt), origin="x")
    assert detected == fmt
    _assert_same(other, ipac)


@pytest.mark.parametrize("fmt", ["csv", "votable"])
def test_real_answer_as_csv_and_votable(shared_data, fmt):
    _, ipac = read_answer(shared_data / REAL)
    _, other = parse_answer(_as(ipac, fmt))
    _assert_same(other, ipac)


def test_header_only_answers_have_zero_rows():
    text = SMALL.read_text().splitlines()
    header = [line.replace("RowsRetrieved= 10", "RowsRetrieved= 0") for line in text
              if line.startswith(("\\", "|"))]
    _, ipac = parse_answer(("\n".join(header) + "\n").encode())
    assert list(ipac) == list(ZTF_DTYPES) and all(a.size == 0 for a in ipac.values())
    assert ipac["oid"].dtype == np.int64 and ipac["mjd"].dtype == np.float64
    _, csv = parse_answer((",".join(ZTF_DTYPES) + "\n").encode())
    _assert_same(csv, empty_columns())
    _, votable = parse_answer(_as(empty_columns(), "votable"))
    assert list(votable) == list(ZTF_DTYPES) and all(a.size == 0 for a in votable.values())


def test_ipac_cut_inside_a_row_is_an_error():
    body = SMALL.read_bytes()
    cut = body[: body.rindex(b"zr") - 5]  # the last row ends before its filter code
    with pytest.raises(DataError, match=r"^small\.tbl: line 17: column 'filtercode' is blank \(truncated row\?\)"):
        parse_answer(cut, origin="small.tbl")


def test_ipac_missing_rows_contradict_rows_retrieved():
    lines = SMALL.read_bytes().splitlines(keepends=True)
    with pytest.raises(DataError, match=r"9 rows, but the header says RowsRetrieved=10"):
        parse_answer(b"".join(lines[:-1]), origin="x")


def test_csv_cut_inside_a_row_is_an_error():
    body = _as(read_answer(SMALL)[1], "csv")
    with pytest.raises(DataError, match=r"answer.csv: line 11: \d+ fields, expected 24"):
        parse_answer(body[:-40], origin="answer.csv")


def test_votable_cut_short_is_an_error():
    body = _as(read_answer(SMALL)[1], "votable")
    with pytest.raises(DataError, match=r"^v.xml: malformed VOTable"):
        parse_answer(body[: len(body) // 2], origin="v.xml")


def test_votable_error_status_is_quoted():
    body = (b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
            b'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">Invalid POS value</INFO>'
            b"</RESOURCE></VOTABLE>")
    with pytest.raises(DataError, match="service reported an error: Invalid POS value"):
        parse_answer(body, origin="q")


def test_non_number_names_row_and_column():
    body = b"oid,mjd,mag\n1,59000.1,16.2\n1,59001.1,bright\n"
    with pytest.raises(DataError, match=r"data row 2: column 'mag' value 'bright' is not a number"):
        parse_answer(body)


def test_unknown_columns_get_inferred_types_and_integer_nulls_become_nan():
    _, c = parse_answer(b"oid,catflags,note,extra\n1,0,a,2\n2,,b,3.5\n")
    assert c["oid"].dtype == np.int64
    assert c["catflags"].dtype == np.float64 and np.isnan(c["catflags"][1]) and c["catflags"][0] == 0
    assert c["note"].tolist() == ["a", "b"] and c["extra"].tolist() == [2.0, 3.5]


def test_unreadable_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'missing.tbl'}: cannot read"):
        read_answer(tmp_path / "missing.tbl")
