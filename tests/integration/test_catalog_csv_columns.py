"""CSV catalogs are read a block of rows at a time into typed columns, with file line numbers kept."""

import numpy as np
import pytest

import virtualobserver.adapters.catalogs.csv_table as csv_table
from virtualobserver.adapters.catalogs.csv_table import read_csv_columns
from virtualobserver.adapters.catalogs.files import FileCatalogReader
from virtualobserver.domain.catalog import CatalogSpec
from virtualobserver.domain.errors import CatalogError


@pytest.fixture(params=[4096, 2], ids=["one block", "blocks of 2"])
def block_rows(request, monkeypatch):
    monkeypatch.setattr(csv_table, "BLOCK_ROWS", request.param)
    return request.param


def _write(tmp_path, text):
    path = tmp_path / "cat.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_take_the_narrowest_type_and_names_stay_text(tmp_path, block_rows):
    path = _write(tmp_path, "name,source_id,ra,flag,note\n"
                            "007, 4583627001381815936 ,1.5,1,x\n"
                            "\n"
                            "a b,5348723816842275584,,2,\n"
                            "ü,1,3e2,3,7\n")
    columns, lines = read_csv_columns(path, text={"name"})
    assert columns["name"].dtype == object and columns["name"].tolist() == ["007", "a b", "ü"]
    assert columns["source_id"].dtype == np.int64
    assert columns["source_id"].tolist() == [4583627001381815936, 5348723816842275584, 1]
    assert columns["ra"].dtype == np.float64 and columns["ra"][0] == 1.5 and np.isnan(columns["ra"][1])
    assert columns["flag"].dtype == np.int64 and columns["note"].tolist() == ["x", "", "7"]
    assert lines.tolist() == [2, 4, 5]  # file lines: the blank line is skipped, not renumbered


def test_integers_then_numbers_then_text_across_blocks(tmp_path, block_rows):
    path = _write(tmp_path, "name,a,b,c\n" + "".join(f"s{i},{i},{i},{i}\n" for i in range(5))
                  + "s5,0.5,99999999999999999999,later\n")
    columns, _ = read_csv_columns(path, text={"name"})
    assert columns["a"].dtype == np.float64 and columns["a"].tolist() == [0, 1, 2, 3, 4, 0.5]
    assert columns["b"].dtype == np.float64 and columns["b"][-1] == float("99999999999999999999")
    # Text after numbers: the column is read again as text, every cell as it was written.
    assert columns["c"].dtype == object and columns["c"].tolist() == ["0", "1", "2", "3", "4", "later"]


def test_a_short_row_is_named_by_its_line_in_any_block(tmp_path, block_rows):
    path = _write(tmp_path, "name,ra,dec\n" + "".join(f"s{i},1,2\n" for i in range(5)) + "bad,1\n")
    with pytest.raises(CatalogError, match=r"cat\.csv, row 7: expected 3 fields, found 2"):
        read_csv_columns(path)


def test_catalog_from_csv_selects_on_typed_file_columns_and_keeps_mapped_names(tmp_path, block_rows):
    path = _write(tmp_path, "source_id,ra,dec,parallax_over_error,cls\n"
                            "4583627001381815936,10,0,12.5,WD\n"
                            "0042,20,5,3,MS\n"
                            "5348723816842275584,30,-5,7,WD\n")
    catalog = FileCatalogReader().read(CatalogSpec(str(path), columns={"name": "source_id"}))
    assert catalog.columns["name"].tolist() == ["4583627001381815936", "0042", "5348723816842275584"]
    chosen = catalog.select('parallax_over_error > 5 and cls == "WD"')
    assert [s.name for s in chosen.sources()] == ["4583627001381815936", "5348723816842275584"]
    assert chosen.sources()[1].ra == 30.0 and isinstance(chosen.sources()[1].ra, float)


def test_bad_values_keep_their_line_numbers(tmp_path, block_rows):
    path = _write(tmp_path, "name,ra,dec\n" + "".join(f"s{i},1,2\n" for i in range(4)) + "\ns4,x,3\n")
    with pytest.raises(CatalogError, match=r"row 7, field 'ra': 'x' is not a number"):
        FileCatalogReader().read(CatalogSpec(str(path)))
    path = _write(tmp_path, "name,ra,dec\n" + "".join(f"s{i},1,2\n" for i in range(4)) + "s1,1,3\n")
    with pytest.raises(CatalogError, match=r"row 6, field 'name': duplicate name 's1' \(also row 3\)"):
        FileCatalogReader().read(CatalogSpec(str(path)))


def test_every_column_that_turns_to_text_late_is_found_in_one_more_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_table, "BLOCK_ROWS", 2)
    passes = []
    original = csv_table._read
    monkeypatch.setattr(csv_table, "_read", lambda path, text: passes.append(set(text)) or original(path, text))
    path = _write(tmp_path, "name,a,b,c\n" + "".join(f"s{i},{i},,{i}\n" for i in range(4)) + "s4,x,y,5\n")
    columns, _ = read_csv_columns(path, text={"name"})
    assert passes == [{"name"}, {"name", "a", "b"}]
    assert columns["a"].tolist() == ["0", "1", "2", "3", "x"] and columns["b"].tolist() == ["", "", "", "", "y"]
    assert columns["c"].dtype == np.int64
