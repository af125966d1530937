"""InjectedEvent: the cases that mutation testing found unchecked (tests/mutation/science.md)."""

from __future__ import annotations

import math

import pytest

from virtualobserver.domain.detection import BRIGHTENING, Detection
from virtualobserver.domain.events import InjectedEvent


def test_the_injection_record_holds_the_event_its_outcome_and_its_sequence():
    event = InjectedEvent.create("box_bump", 59040.0, 4.0, 0.3, snr_amplitude=6.0, cadence=1.0)
    detection = Detection(BRIGHTENING, 59040.0, 59039.0, 59041.0, 9.0, 130.0, -0.3, 3, 100.0)
    found = event.to_injection(7, detection)
    # Box: span peak -+ width / 2, by hand.
    assert (found.kind, found.peak_mjd, found.start_mjd, found.end_mjd) == ("box_bump", 59040.0, 59038.0, 59042.0)
    assert (found.amplitude, found.snr_amplitude, found.width, found.u0) == (0.3, 6.0, 4.0, None)
    assert found.recovered is True and found.sequence == 7 and found.detection is detection
    assert found.params == {"kind": "box_bump", "peak_mjd": 59040.0, "amplitude": 0.3, "width": 4.0,
                            "start_mjd": 59038.0, "end_mjd": 59042.0, "snr_amplitude": 6.0, "u0": None,
                            "cadence": 1.0}
    missed = InjectedEvent.create("box_dip", 59040.0, 4.0, -0.3).to_injection(0)
    assert missed.recovered is False and missed.detection is None and missed.sequence == 0
    assert math.isnan(missed.snr_amplitude)  # no S/N recorded: NaN, not None


def test_a_microlensing_event_without_a_positive_u0_is_refused():
    for u0 in (None, 0.0, -0.1):
        with pytest.raises(ValueError, match="positive u0"):
            InjectedEvent(kind="microlensing", peak_mjd=100.0, start_mjd=99.0, end_mjd=101.0, amplitude=1.0,
                          width=1.0, u0=u0)


def test_an_event_created_without_a_cadence_has_none_as_one_built_directly():
    # The cadence is unknown (0) unless given, whether the event is built or created.
    built = InjectedEvent(kind="box_bump", peak_mjd=100.0, start_mjd=99.0, end_mjd=101.0, amplitude=0.5, width=2.0)
    assert InjectedEvent.create("box_bump", 100.0, 2.0, 0.5).cadence == built.cadence == 0.0
