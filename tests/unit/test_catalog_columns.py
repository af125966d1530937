"""Catalog keeps lean columns: typed input is used as it is, and selecting every row copies nothing."""

import numpy as np
import pytest

from virtualobserver.domain.catalog import MAX_NAME_LENGTH, Catalog
from virtualobserver.domain.errors import CatalogError


def test_numeric_columns_are_converted_without_a_loop_and_keep_their_values():
    catalog = Catalog({"name": np.array(["a", "b"], dtype=object), "ra": np.array([1, 359], dtype=np.int64),
                       "dec": np.array([0.5, -0.5]), "mag": np.array([True, False])})
    assert catalog.columns["ra"].dtype == np.float64 and catalog.columns["ra"].tolist() == [1.0, 359.0]
    assert catalog.columns["mag"].tolist() == [1.0, 0.0]


def test_selecting_every_row_shares_the_columns():
    catalog = Catalog({"name": ["a", "b", "c"], "ra": [1.0, 2.0, 3.0], "dec": [0.0, 0.0, 0.0]})
    everything = catalog.select("")
    assert all(np.shares_memory(everything.columns[k], catalog.columns[k]) for k in ("ra", "dec"))
    some = catalog.select("ra > 1")
    assert some.columns["name"].tolist() == ["b", "c"] and some.row_numbers.tolist() == [2, 3]
    assert not np.shares_memory(some.columns["ra"], catalog.columns["ra"])


@pytest.mark.parametrize("name, message", [
    ("tab\there", "control character"),
    ("nul\x00", "control character"),
    ("del\x7f", "control character"),
    ("x" * (MAX_NAME_LENGTH + 1), "longer than"),
])
def test_bad_names_are_still_refused(name, message):
    with pytest.raises(CatalogError, match=rf"row 2, field 'name': .*{message}"):
        Catalog({"name": np.array(["ok", name], dtype=object), "ra": [1.0, 2.0], "dec": [0.0, 0.0]})


def test_the_first_repeated_name_in_file_order_is_reported():
    with pytest.raises(CatalogError, match=r"row 4, field 'name': duplicate name 'b' \(also row 2\)"):
        Catalog({"name": ["b", "z", "a", "b", "a"], "ra": [1.0] * 5, "dec": [0.0] * 5}, row_numbers=[2, 3, 4, 4, 5])


def test_a_run_keeps_only_the_standard_columns_sharing_their_arrays():
    from virtualobserver.domain.catalog import STANDARD_COLUMNS

    wide = Catalog({"name": ["a", "b"], "ra": [1.0, 2.0], "dec": [3.0, 4.0], "mag": [15.0, 16.0],
                    **{f"extra{i}": np.arange(2.0) for i in range(40)}}, name="gaia.ecsv", epoch=2016.0)
    kept = wide.with_columns(STANDARD_COLUMNS)
    assert sorted(kept.columns) == ["dec", "mag", "name", "ra"] and len(wide.columns) == 44
    assert np.shares_memory(kept.columns["ra"], wide.columns["ra"]) and kept.epoch == 2016.0
    assert [s.name for s in kept.sources("p")] == ["a", "b"] and kept.sources("p")[1].mag == 16.0
