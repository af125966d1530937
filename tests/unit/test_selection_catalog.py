"""Catalog validation and the safe selection language."""

import numpy as np
import pytest

from virtualobserver.domain.catalog import Catalog
from virtualobserver.domain.errors import CatalogError, SelectionError
from virtualobserver.domain.selection import evaluate_selection
from tests.factories import small_catalog

COLS = {"mag": np.array([17.0, 19.0, np.nan]), "dec": np.array([-40.0, 10.0, 0.0])}


@pytest.mark.parametrize("expression, expected", [
    ("mag < 18", [True, False, False]),
    ("mag < 20 and dec > -30", [False, True, False]),
    ("not (mag < 18) or dec < -35", [True, True, True]),
    ("abs(dec) < 20", [False, True, True]),
    ("17 <= mag <= 19", [True, True, False]),
    ("", [True, True, True]),
    ("mag - 2 * 0.5 > 17.5", [False, True, False]),
])
def test_selection(expression, expected):
    assert evaluate_selection(expression, COLS, 3).tolist() == expected


@pytest.mark.parametrize("expression, message", [
    ("__import__('os').system('true')", "only .* may be called"),
    ("mag.real > 1", "Attribute is not allowed"),
    ("colour > 1", "unknown column 'colour'"),
    ("mag <", "not a valid expression"),
    ("mag + 1", "does not evaluate to true/false"),
])
def test_bad_selection(expression, message):
    with pytest.raises(SelectionError, match=message):
        evaluate_selection(expression, COLS, 3)


def test_catalog_select_and_sources():
    cat = small_catalog(10)
    chosen = cat.select("mag < 16")
    assert len(chosen) == 4
    sources = chosen.sources(project="p")
    assert [s.name for s in sources] == ["S000", "S001", "S002", "S003"]
    assert all(s.project == "p" for s in sources)


@pytest.mark.parametrize("column, values, message", [
    ("ra", ["1", "400", "3"], "ra must be in"),
    ("dec", ["1", "2", "-91"], "dec must be in"),
    ("ra", ["1", "x", "3"], "'x' is not a number"),
    ("name", ["a", "", "c"], "empty name"),
    ("name", ["a", "b", "a"], "duplicate name 'a'"),
])
def test_bad_rows_name_row_and_field(column, values, message):
    columns = {"name": ["a", "b", "c"], "ra": ["1", "2", "3"], "dec": ["1", "2", "3"]}
    columns[column] = values
    with pytest.raises(CatalogError, match=rf"cat\.csv, row 1[012], field '{column}': .*{message}"):
        Catalog(columns, name="cat.csv", row_numbers=[10, 11, 12])


def test_bad_row_number_is_the_file_row():
    with pytest.raises(CatalogError, match=r"row 11, field 'ra'"):
        Catalog({"name": ["a", "b"], "ra": ["1", "bad"], "dec": ["0", "0"]}, name="c.csv", row_numbers=[10, 11])


def test_missing_required_column():
    with pytest.raises(CatalogError, match="field 'dec': missing required column"):
        Catalog({"name": ["a"], "ra": [1.0]}, name="c.csv")


def test_batches_are_made_lazily_in_catalog_order():
    cat = small_catalog(10)
    batches = cat.batches(4, project="p", limit=9)
    first = next(batches)
    assert [s.name for s in first] == ["S000", "S001", "S002", "S003"] and first[0].project == "p"
    rest = list(batches)
    assert [len(b) for b in rest] == [4, 1] and rest[-1][0].name == "S008"
    assert [len(b) for b in cat.batches(5)] == [5, 5]
    assert list(cat.select("mag > 100").batches(3)) == []
