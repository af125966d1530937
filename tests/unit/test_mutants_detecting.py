"""Focused cases for how ``domain/analysis/detecting._events`` forms events from seeds and excursions.

Written against the mutants of ``_events`` that survived ``make test-mutation`` (tests/mutation/sample.md).
Each lightcurve is built by hand on a one-day cadence: ``snr`` the single-epoch S/N, ``best`` each epoch's
best score, ``widths`` the width (days) of the filter that gave it (0: a single epoch). The expected events
(first, last, strongest seed) follow from the rules in ``detecting``'s module docstring, worked out by hand.
"""

from types import SimpleNamespace

import numpy as np

from virtualobserver.domain.analysis.detecting import _events

# Seeds at S/N 5; an event extends over epochs at 2; runs at most 2 epochs apart are one event.
PARAMETERS = SimpleNamespace(threshold=5.0, extent_threshold=2.0, merge_epochs=2)


def _scores(size: int):
    mjd = np.arange(size, dtype=float)
    return mjd, np.zeros(size), np.zeros(size), np.zeros(size)


def test_a_run_starting_at_the_first_epoch_keeps_its_strongest_seed():
    mjd, snr, best, widths = _scores(20)
    snr[0:3] = best[0:3] = [8.0, 6.0, 3.0]  # epochs 0 and 1 seed (>= 5), the run is epochs 0-2 (>= 2)
    # The seed decides the detection's S/N and filter width: the strongest, epoch 0, not the later epoch 1.
    assert _events(mjd, snr, best, widths, PARAMETERS) == [(0, 2, 0)]


def test_a_faint_matched_filter_seed_near_an_event_joins_it_and_one_far_from_it_is_an_event_of_its_own():
    mjd, snr, best, widths = _scores(60)
    snr[10] = best[10] = 8.0  # a single-epoch event at epoch 10
    # Matched-filter seeds (a 6-day window, epochs seed-3 to seed+3) whose epochs are each below the extent
    # threshold: no single-epoch event in their window.
    best[20], widths[20] = 6.0, 6.0  # window 17-23: within its 7 epochs of the event (11 to 17), so joins it
    best[45], widths[45] = 6.0, 6.0  # window 42-48: 31 epochs from the event, alone: an event of its own
    snr[17:24] = 1.0
    snr[42:49] = 1.0
    # The joining seed neither stretches the event nor replaces its stronger seed (8 > 6); the lone one's
    # event is its window, trimmed to the epochs of positive S/N at its ends (all of them here).
    assert _events(mjd, snr, best, widths, PARAMETERS) == [(10, 10, 10), (42, 48, 45)]


def test_a_stronger_matched_filter_seed_near_an_event_becomes_its_seed():
    mjd, snr, best, widths = _scores(40)
    snr[10] = best[10] = 5.5
    best[20], widths[20] = 9.0, 6.0  # window 17-23, near the event as above, and stronger than its seed
    assert _events(mjd, snr, best, widths, PARAMETERS) == [(10, 10, 20)]
