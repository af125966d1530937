"""Reduction: the cases that mutation testing found unchecked (tests/mutation/science.md).

Seasons are counted by hand from the gaps between the epochs.
"""

from __future__ import annotations

import numpy as np

from virtualobserver.domain.reduction import split_seasons


def test_a_new_season_starts_after_each_gap_longer_than_the_limit():
    # Steps: 1, 100, 2, 90 (not longer than 90: same season), 91 -> seasons 0 0 1 1 1 2.
    mjd = np.array([0.0, 1.0, 101.0, 103.0, 193.0, 284.0])
    seasons = split_seasons(mjd, 90.0)
    assert seasons.tolist() == [0, 0, 1, 1, 1, 2]
    assert seasons.dtype.kind == "i"


def test_one_epoch_is_season_zero_and_no_epochs_give_no_seasons():
    assert split_seasons(np.array([5.0]), 1.0).tolist() == [0]
    empty = split_seasons(np.array([]), 1.0)
    assert empty.size == 0 and empty.dtype.kind == "i"


def test_epochs_out_of_order_by_one_step_are_sorted():
    # mjd 1, 2, 3, 0.5, 4: one step backwards. The lightcurve's epochs are in time order, each with its own
    # magnitude (the magnitude is 10 + the epoch's time).
    from virtualobserver.domain.reduction import ReductionParameters, reduce_photometry

    mjd = np.array([1.0, 2.0, 3.0, 0.5, 4.0])
    columns = {"mjd": mjd, "mag": 10.0 + mjd, "magerr": np.full(5, 0.01), "filter": np.array(["g"] * 5),
               "flag": np.zeros(5, int), "exptime": np.full(5, 30.0)}
    (lc,) = reduce_photometry(columns, ReductionParameters(min_epochs=1), survey="test")
    assert lc.mjds.tolist() == [0.5, 1.0, 2.0, 3.0, 4.0]
    assert lc.columns["mag"].tolist() == [10.5, 11.0, 12.0, 13.0, 14.0]


def _columns(mjd, filters, flag):
    mjd = np.asarray(mjd, dtype=float)
    return {"mjd": mjd, "mag": 10.0 + np.arange(mjd.size), "magerr": np.full(mjd.size, 0.01),
            "filter": np.asarray(filters), "flag": flag, "exptime": np.full(mjd.size, 30.0)}


def test_flags_of_object_type_are_read_as_integers():
    # A table whose flag column came as Python objects (0, 4, 0): the lightcurve's flags are the integers.
    from virtualobserver.domain.reduction import ReductionParameters, reduce_photometry

    columns = _columns([1.0, 2.0, 3.0], ["g"] * 3, np.array([0, 4, 0], dtype=object))
    (lc,) = reduce_photometry(columns, ReductionParameters(min_epochs=1), survey="test")
    assert lc.columns["flag"].tolist() == [0, 4, 0]


def test_a_filter_without_any_finite_time_is_skipped_and_the_next_filter_kept():
    # g: no finite time (no lightcurve); r: three epochs (one lightcurve).
    from virtualobserver.domain.reduction import ReductionParameters, reduce_photometry

    columns = _columns([np.nan, 1.0, np.nan, 2.0, 3.0], ["g", "r", "g", "r", "r"], np.zeros(5, int))
    lightcurves = reduce_photometry(columns, ReductionParameters(min_epochs=1), survey="test")
    assert [(lc.filter, lc.mjds.tolist()) for lc in lightcurves] == [("r", [1.0, 2.0, 3.0])]
