"""Histograms: the cases that mutation testing found unchecked (tests/mutation/science.md).

Expected values are counted by hand from the few values filled.
"""

from __future__ import annotations

import numpy as np
import pytest

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histograms import Axis, Histograms


def _injected_recovered(injected, recovered):
    # One numeric axis with edges 0, 1, 2, 3: a value at each bin's centre, repeated as asked.
    h = Histograms({"amp": Axis.from_edges([0.0, 1.0, 2.0, 3.0])}, ("injected", "recovered"))
    h.fill("injected", amp=np.repeat([0.5, 1.5, 2.5], injected))
    h.fill("recovered", amp=np.repeat([0.5, 1.5, 2.5], recovered))
    return h


def test_efficiency_of_a_single_injection_is_zero_or_one():
    # One injected, one recovered: 1/1; one injected, none recovered: 0/1. Neither is "nothing injected".
    eff = _injected_recovered([1, 1, 2], [1, 0, 1]).efficiency("amp")
    assert eff.sel(amp=0.5).item() == 1.0
    assert eff.sel(amp=1.5).item() == 0.0
    assert eff.sel(amp=2.5).item() == 0.5


def test_efficiency_is_nan_where_nothing_was_injected_even_if_something_was_recovered():
    # Counts of another run or variable can put a recovery where no injection was counted:
    # the fraction is undefined there (NaN), not 1/0 = inf.
    eff = _injected_recovered([0, 2, 0], [1, 1, 0]).efficiency("amp")
    assert np.isnan(eff.sel(amp=0.5).item())
    assert eff.sel(amp=1.5).item() == 0.5
    assert np.isnan(eff.sel(amp=2.5).item())


def test_arrays_are_read_only_views_with_the_layout_description():
    h = _injected_recovered([1, 2, 3], [0, 1, 2])
    arrays = h.to_arrays()
    dims, counts = arrays.variables["injected"]
    assert dims == ("amp",)
    # Bins: underflow, [0, 1), [1, 2), [2, 3), overflow, NaN.
    assert counts.tolist() == [0, 1, 2, 3, 0, 0]
    with pytest.raises(ValueError, match="read-only"):
        counts[1] = 5
    assert h.total("injected") == 6
    assert list(arrays.attrs) == ["description"]
    assert "underflow" in arrays.attrs["description"] and "'other'" in arrays.attrs["description"]
    ds = h.to_dataset()
    assert ds.attrs == arrays.attrs
    # The dataset's counts are copies: writable, and writing them leaves the histograms alone.
    ds["injected"].values[1] = 7
    assert h.total("injected") == 6


def test_a_numeric_axis_without_its_upper_edges_is_refused():
    ds = _injected_recovered([1, 0, 0], [0, 0, 0]).to_dataset().drop_vars("amp_upper")
    with pytest.raises(DataError, match="axis 'amp'"):
        Histograms.from_dataset(ds)


def test_repr_names_the_axes_the_shape_with_flow_bins_and_each_total():
    # Three bins plus underflow, overflow and NaN: shape 6; totals 1 + 2 + 3 and 0 + 1 + 2.
    h = _injected_recovered([1, 2, 3], [0, 1, 2])
    assert repr(h) == "Histograms(axes=['amp'], shape=(6,), injected=6, recovered=3)"


def test_only_the_integer_zero_starts_a_sum_of_histograms():
    a, b = _injected_recovered([1, 0, 0], [0, 0, 0]), _injected_recovered([0, 2, 0], [0, 1, 0])
    total = sum([a, b])
    assert total == a + b and total.total("injected") == 3 and total.total("recovered") == 1
    for start in (1, 0.0, None):
        with pytest.raises(TypeError):
            start + a


def test_projections_are_named_after_their_variable():
    # The name labels a projection once it leaves the histograms (merged into a Dataset, plotted).
    h = _injected_recovered([1, 2, 0], [1, 0, 0])
    assert h.project("recovered", "amp").name == "recovered"
    assert h["injected"].name == "injected"
    assert h.project("injected").name == "injected" and int(h.project("injected")) == 3
