"""Reduction: the cases that mutation testing found unchecked (tests/mutation/science.md).

Seasons are counted by hand from the gaps between the epochs.
"""

from __future__ import annotations

import numpy as np

from domain.reduction import split_seasons


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
