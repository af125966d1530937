"""Recovery's time window (one cadence around the event's span) and the efficiency map's binning by kind and |A|."""

import pytest

from virtualobserver.domain.config import build_config
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.events import DIMMING_KINDS, EVENT_KINDS, InjectedEvent
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.recovery import new_detection, overlapping
from virtualobserver.services.simulate import efficiency_histograms, fill_efficiency
from tests.fakes import FakeSurveyClient

CADENCE = 1.0  # days


def _event() -> InjectedEvent:
    # A box of 2 days centred on t = 100: span [99, 101], so recovery accepts peaks in [98, 102].
    return InjectedEvent(kind="box_bump", peak_mjd=100.0, amplitude=0.5, width=2.0, start_mjd=99.0,
                         end_mjd=101.0, cadence=CADENCE)


def _detection(peak: float, kind=BRIGHTENING, snr=10.0) -> Detection:
    return Detection(kind, peak, peak - 0.1, peak + 0.1, snr, 150.0, -0.4, 1, 100.0)


@pytest.mark.parametrize("peak, recovered", [
    (101.0, True), (101.99, True), (102.0, True),   # inside the span, and up to one cadence after it
    (102.01, False), (103.0, False), (105.0, False),  # just past one cadence, and well within ten
    (98.0, True), (97.99, False), (95.0, False),      # the same before the span
])
def test_a_detection_recovers_an_event_only_within_one_cadence_of_its_span(peak, recovered):
    found = new_detection(_event(), [_detection(peak)], [], CADENCE, margin=2.0)
    assert (found is not None) is recovered


def test_a_detection_of_the_other_sign_or_explained_by_the_reference_does_not_recover():
    event = _event()
    assert new_detection(event, [_detection(100.0, DIMMING)], [], CADENCE, 2.0) is None
    before = [_detection(100.2, snr=9.0)]  # a real event there already, weaker by only 1 < margin 2
    assert new_detection(event, [_detection(100.0, snr=10.0)], before, CADENCE, 2.0) is None
    assert new_detection(event, [_detection(100.0, snr=11.5)], before, CADENCE, 2.0) is not None


def test_overlapping_widens_the_span_by_one_cadence():
    event = _event()
    near, far = Detection(BRIGHTENING, 102.5, 102.0, 103.0, 8.0, 1.0, -0.1, 1, 1.0), \
        Detection(BRIGHTENING, 102.6, 102.1, 103.0, 8.0, 1.0, -0.1, 1, 1.0)
    assert overlapping(event, [near, far], CADENCE) == [near]


def test_efficiency_map_bins_every_kind_by_the_size_of_its_amplitude():
    # Every default kind once, with amplitudes of both signs (dips negative, as the simulator draws
    # them): each lands in its own kind at bin floor(|A|) of the 1-wide amplitude axis.
    config = build_config({"project": {"name": "p", "surveys": ["fake"]},
                           "catalog": {"path": "c.csv", "selection": "mag < 30"}},
                          survey_parameters={"fake": FakeSurveyClient.parameters_class})
    survey = config.surveys[0]
    assert tuple(survey.simulation.kinds) == EVENT_KINDS and len(EVENT_KINDS) == 7
    sizes = {kind: 3.5 + i for i, kind in enumerate(EVENT_KINDS)}  # 3.5, 4.5, ..., 9.5
    injections = []
    for kind, size in sizes.items():
        sign = -1.0 if kind in DIMMING_KINDS else 1.0
        injections.append(Injection(kind, 100.0, 99.0, 101.0, sign * 0.1, sign * size, 0.5,
                                    recovered=kind in ("gaussian_dip", "flare")))
    efficiency = efficiency_histograms(survey)
    fill_efficiency(efficiency, injections)
    injected = efficiency.project("injected", "kind", "snr_amplitude")
    recovered = efficiency.project("recovered", "kind", "snr_amplitude")
    assert int(injected.sum()) == 7
    for kind, size in sizes.items():
        # Bin [floor(size), floor(size) + 1) has its centre at size (x.5): one injection there, none elsewhere.
        assert int(injected.sel(kind=kind, snr_amplitude=size)) == 1, kind
        assert int(injected.sel(kind=kind).sum()) == 1, kind
    assert int(recovered.sel(kind="gaussian_dip", snr_amplitude=sizes["gaussian_dip"])) == 1
    assert int(recovered.sel(kind="flare", snr_amplitude=sizes["flare"])) == 1
    assert int(recovered.sum()) == 2
