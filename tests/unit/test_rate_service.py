"""The rate use case over fakes: what it counts, what it refuses, and the Project facade after a real (fake) run."""

import math

import numpy as np
import pytest

from virtualobserver.domain.config import build_config
from virtualobserver.domain.detection import BRIGHTENING, DIMMING, Detection
from virtualobserver.domain.errors import ConfigError, DataError
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rates import DAYS_PER_YEAR, false_alarms
from virtualobserver.domain.source import Source
from virtualobserver.services.rates import event_rate
from tests.fakes import FakeState, FakeSurveyClient, FakeUnitOfWork
from tests.tui.fake_project import make_project


def _config(**simulation):
    document = {"project": {"name": "p", "surveys": ["fake"]},
                "catalog": {"path": "cat.csv"},
                "observatories": {"analysis": {"threshold": 5.0, "widths_days": [2.0]},
                                  "simulation": {"kinds": ["flare", "gaussian_dip"], **simulation}}}
    return build_config(document, survey_parameters={"fake": FakeSurveyClient.parameters_class}).surveys[0]


def _lightcurve(source, band, season, start, n, *, flagged=0, version):
    columns = dict(mjd=start + np.arange(n, dtype=float), flux=np.full(n, 100.0), fluxerr=np.ones(n),
                   mag=np.full(n, 20.0), magerr=np.full(n, 0.01), flag=np.r_[np.ones(flagged), np.zeros(n - flagged)],
                   exptime=np.full(n, 30.0))
    lc = Lightcurve("fake", band, season, columns, source_name=source.name, version=version)
    lc.source_id, lc.file, lc.key = source.id, "f.h5", f"{source.name}/{band}/{season}"
    return lc


def _detection(lc, kind, start, end, version, *, simulated=False):
    det = Detection(kind, start, start, end, 7.0 if kind == BRIGHTENING else -7.0, 130.0, -0.3, 3, 100.0,
                    is_simulated=simulated)
    det.source_id, det.lightcurve_id, det.version = lc.source_id, lc.id, version
    return det


def _injection(lc, kind, sequence, recovered, covered, version):
    inj = Injection(kind, 59050.0, 59049.0, 59051.0, 0.1, 8.0, 1.0, recovered=recovered, sequence=sequence,
                    covered=covered, found_in=int(recovered))
    inj.source_id, inj.lightcurve_id, inj.version = lc.source_id, lc.id, version
    return inj


@pytest.fixture
def filled():
    """Sources a and b analysed (c not), a flare of a in g and r, an artifact, a dip of b; 10 flare injections."""
    survey, state = _config(), FakeState()
    with FakeUnitOfWork(state) as uow:
        uow.sources.add_many("p", [Source(name, 10.0, 5.0) for name in "abc"])
        a, b, c = (uow.sources.get_many("p", list("abc"))[n] for n in "abc")
        version = survey.reduction_version
        lcs = [_lightcurve(a, "g", 0, 59000.0, 100, version=version), _lightcurve(a, "r", 0, 59000.5, 100, version=version),
               _lightcurve(a, "g", 1, 59400.0, 50, version=version),
               _lightcurve(b, "g", 0, 59000.0, 10, flagged=5, version=version),  # 5 good: not searched, has a span
               _lightcurve(c, "g", 0, 59000.0, 100, version=version),
               _lightcurve(a, "g", 0, 59000.0, 100, version="other-reduction")]
        uow.lightcurves.add_many(lcs)
        analysis = survey.analysis_version
        dets = [_detection(lcs[0], BRIGHTENING, 59050.0, 59052.0, analysis),
                _detection(lcs[1], BRIGHTENING, 59050.5, 59051.5, analysis),
                _detection(lcs[2], BRIGHTENING, 59420.0, 59421.0, analysis),
                _detection(lcs[3], DIMMING, 59005.0, 59005.0, analysis),
                _detection(lcs[0], BRIGHTENING, 59070.0, 59071.0, survey.simulation_version, simulated=True),
                _detection(lcs[0], BRIGHTENING, 59080.0, 59081.0, "other-analysis")]
        uow.detections.add_many(dets)
        uow.triage.set_labels({dets[2].id: "artifact"})
        uow.steps.mark_done("analyse", "fake", analysis, {a.id: 3, b.id: 1})
        uow.steps.mark_done("simulate", "fake", survey.simulation_version, {a.id: 15})
        simulation = survey.simulation_version
        uow.injections.add_many([_injection(lcs[0], "flare", i, i < 4, 0 if i in (8, 9) else 1, simulation)
                                 for i in range(10)] +
                                [_injection(lcs[1], "gaussian_dip", 10 + i, i < 1, 1, simulation) for i in range(5)])
        uow.commit()
    return survey, state, dets


def test_rate_counts_events_not_detections_and_reads_every_input(filled):
    survey, state, dets = filled
    with FakeUnitOfWork(state) as uow:
        r = event_rate(uow, "p", survey, "flare")
    # a: first to last epoch 59000 .. 59449; b: 59000 .. 59009 (its lightcurve has 5 good epochs).
    assert (r.exposure.sources, r.exposure.observed_sources, r.exposure.source_days) == (2, 2, 449.0 + 9.0)
    assert (r.exposure.lightcurves, r.exposure.good_epochs, r.exposure.lightcurve_days) == (3, 250, 99 + 99 + 49)
    assert r.false_alarms == pytest.approx(false_alarms(r.exposure, 5.0, [2.0]))
    assert (r.observed, r.detections, r.direction) == (1, 2, BRIGHTENING)  # g and r of one flare; artifact out
    assert (r.injections.injected, r.injections.recovered, r.injections.in_gaps) == (10, 4, 2)
    assert r.rate == pytest.approx((1 - r.false_alarms) / (0.4 * 458.0 / DAYS_PER_YEAR))
    assert not r.upper_limit and r.lower > 0.0  # one event over ~3e-4 false alarms is a detection
    assert r.sources_simulated == 1 and any("measured on 1 of the 2" in note for note in r.notes)
    assert any("2 of 10 injections fell where no exposure saw them" in item for item in r.includes)
    assert any("peak amplitudes 3-20 (log-uniform)" in item for item in r.includes)
    assert (r.survey, r.analysis_version, r.simulation_version) == ("fake", survey.analysis_version,
                                                                     survey.simulation_version)


def test_labels_choose_what_counts(filled):
    survey, state, dets = filled
    with FakeUnitOfWork(state) as uow:
        assert event_rate(uow, "p", survey, "flare", labels="all").observed == 2
        assert event_rate(uow, "p", survey, "flare", labels="real").observed == 0
        uow.triage.set_labels({dets[1].id: "real"})
        real = event_rate(uow, "p", survey, "flare", labels="real")
        assert (real.observed, real.detections) == (1, 1) and any("labelled real" in n for n in real.notes)
        dips = event_rate(uow, "p", survey, "gaussian_dip", confidence=0.68)
        assert (dips.observed, dips.direction, dips.confidence) == (1, DIMMING, 0.68)


def test_the_every_filter_rule_counts_an_event_seen_in_every_filter_that_covers_it(filled):
    _, state, dets = filled
    survey = _config(recovery_filters=0)  # same analysis version: the same detections
    with FakeUnitOfWork(state) as uow:
        # At the new simulation version there are no injections yet: a clear error, before any counting.
        with pytest.raises(DataError, match="no injections of kind 'flare'.*vo simulate"):
            event_rate(uow, "p", survey, "flare")
        g = next(lc for lc in uow.lightcurves.for_sources([dets[0].source_id], "fake", survey.reduction_version)
                 [dets[0].source_id] if lc.id == dets[0].lightcurve_id)
        uow.injections.add_many([_injection(g, "flare", i, i < 5, 2, survey.simulation_version) for i in range(10)])
        only_g = _detection(g, BRIGHTENING, 59060.0, 59061.0, survey.analysis_version)  # r covers it too
        uow.detections.add_many([only_g])
        # Rule 0: the g+r flare counts (both filters), so does the season-1 event (only g covers it); the
        # g-only event does not. Rule 1 counts all three.
        assert event_rate(uow, "p", survey, "flare", labels="all").observed == 2
        assert event_rate(uow, "p", _config(), "flare", labels="all").observed == 3
        assert any("single lightcurves" in n for n in event_rate(uow, "p", survey, "flare").notes)


def test_an_efficiency_without_the_duty_cycle_is_said(filled):
    _, state, dets = filled
    survey = _config(peak_time="epochs")
    with FakeUnitOfWork(state) as uow:
        g_id = dets[0].lightcurve_id
        g = next(lc for lc in uow.lightcurves.for_sources([dets[0].source_id], "fake", survey.reduction_version)
                 [dets[0].source_id] if lc.id == g_id)
        uow.injections.add_many([_injection(g, "flare", i, i < 5, 1, survey.simulation_version) for i in range(10)])
        r = event_rate(uow, "p", survey, "flare")
    assert r.includes[0].startswith("no duty cycle") and any("peak_time is 'epochs'" in n for n in r.notes)


def test_clear_errors(filled):
    survey, state, _ = filled
    with FakeUnitOfWork(state) as uow:
        with pytest.raises(DataError, match=r"no injections of kind 'flare'.*injections there: none"):
            event_rate(uow, "other-project", survey, "flare")
        with pytest.raises(ConfigError, match="unknown event kind 'nova'"):
            event_rate(uow, "p", survey, "nova")
        with pytest.raises(ConfigError, match="unknown label rule"):
            event_rate(uow, "p", survey, "flare", labels="good")
        with pytest.raises(ConfigError, match="confidence must be between 0 and 1"):
            event_rate(uow, "other-project", survey, "flare", confidence=90)  # before the missing injections
    state.steps.clear()  # nothing analysed (the injections stay)
    with FakeUnitOfWork(state) as uow, pytest.raises(DataError, match="no analysed sources .* run `vo run` first"):
        event_rate(uow, "p", survey, "flare")


def test_project_rate_after_a_simulated_run_over_fakes():
    project, state = make_project(n=12, simulate=True, overrides={
        "observatories.simulation.kinds": ["flare", "box_dip"], "observatories.simulation.injections_per_source": 6})
    project.run()
    r = project.rate("flare")
    flares = [i for i in state.injections.values() if i.kind == "flare"]
    assert r.injections.injected == len(flares) > 0
    assert r.injections.recovered == sum(i.recovered for i in flares)
    real = [d for d in state.detections if not d.is_simulated and d.kind == BRIGHTENING]
    assert 0 < r.observed <= r.detections == len(real)  # the flare survey flares every third source
    assert r.exposure.sources == 12 and r.years > 0 and math.isfinite(r.upper)
    assert r.lower <= r.rate <= r.upper
    assert project.rate("flare", labels="real").observed == 0  # nothing judged yet
