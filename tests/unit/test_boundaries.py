"""Boundaries where an off-by-one or a missing factor hides: the matched filter's closed window, the
``min_good_epochs`` limit, and the position-offset cut's cos(dec)."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from virtualobserver.domain.analysis.finder import AnalysisParameters, find_events
from virtualobserver.domain.analysis.quality import QualityChecker, QualityParameters
from virtualobserver.domain.analysis.scoring import window_bounds_closed
from tests.factories import flat_lightcurve, writable_columns
from tests.reference_scores import reference_scores


def test_closed_window_bounds_on_epochs_exactly_half_a_width_away():
    mjd = np.arange(10.0)  # one epoch a day: width 2 reaches exactly the neighbours
    lo, hi = window_bounds_closed(mjd, 2.0)
    # [t - 1, t + 1] holds t - 1, t, t + 1 (both ends included), clipped at the ends: by hand.
    assert lo.tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert hi.tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    lo, hi = window_bounds_closed(mjd, 1.0)  # [t - 0.5, t + 0.5]: the epoch alone
    assert lo.tolist() == list(range(10)) and hi.tolist() == list(range(1, 11))


@pytest.mark.parametrize("detrend", ["none", "biweight"])
def test_matched_filter_on_a_regular_cadence_equals_the_definition(detrend):
    # Epochs one day apart and widths of 2 and 4 days: every window edge falls exactly on an epoch,
    # where an open bound or a box sum shifted by one epoch changes the window. The reference
    # (tests/reference_scores.py) builds each window as |t_j - t_c| <= w / 2 with a plain loop.
    lc = flat_lightcurve(n=80, seed=5)
    columns = writable_columns(lc)
    columns["flux"][30:33] += [4.0, 6.0, 4.0]  # an event of three epochs, so the windows differ a lot
    lc.columns = columns
    parameters = AnalysisParameters(widths_days=[2.0, 4.0], detrend=detrend, detrend_window_days=15.0)
    scores, _ = find_events(lc, parameters)
    snr, filtered, _ = reference_scores(lc, parameters)
    assert np.allclose(scores.snr, snr, rtol=1e-9, atol=1e-9, equal_nan=True)
    for width in (2.0, 4.0):
        assert np.allclose(scores.filtered[width], filtered[width], rtol=1e-9, atol=1e-9, equal_nan=True), width
    # The 2-day window around the event's centre holds its three epochs: 14 flux units over 3 epochs
    # of unit error, 14 / sqrt(3) = 8.1 sigma before the baseline's error and noise (hand estimate).
    assert 6.0 < scores.filtered[2.0][31] < 9.0


@pytest.mark.parametrize("minimum", [10, 12])
def test_exactly_min_good_epochs_are_searched_and_one_fewer_are_not(minimum):
    parameters = AnalysisParameters(min_good_epochs=minimum)

    def found(good_epochs: int) -> int:
        lc = flat_lightcurve(n=minimum + 3, seed=2)
        columns = writable_columns(lc)
        columns["flux"][4] += 60.0  # a 60-sigma spike: found whenever the lightcurve is searched
        columns["flag"][good_epochs:] = 1  # the rest flagged bad
        lc.columns = columns
        assert int(lc.good.sum()) == good_epochs
        return len(find_events(lc, parameters)[1])

    assert found(minimum) == 1
    assert found(minimum - 1) == 0
    assert found(minimum + 1) == 1


def test_offset_cut_measures_ra_offsets_on_the_sky_at_dec_60():
    # At dec = 60 deg one arcsec of right ascension is cos(60) = 0.5 arcsec on the sky. Positions are
    # identical except for two epochs shifted in RA only, so the robust scatter is 0 and the floor
    # (1 arcsec) is the unit: an epoch's offset in sigmas is its separation in arcsec (astropy).
    n, ra0, dec0 = 40, 150.0, 60.0
    lc = flat_lightcurve(n=n, seed=4)
    ra, dec = np.full(n, ra0), np.full(n, dec0)
    ra[10] += 6.0 / 3600.0   # 6" of RA: 3" on the sky -> kept at max_offset_sigma = 4
    ra[20] += 10.0 / 3600.0  # 10" of RA: 5" on the sky -> cut
    lc.columns = {**lc.columns, "ra": ra, "dec": dec}
    centre = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    separation = centre.separation(SkyCoord(ra * u.deg, dec * u.deg)).arcsec
    assert separation[10] == pytest.approx(3.0, rel=1e-3) and separation[20] == pytest.approx(5.0, rel=1e-3)
    result = QualityChecker(QualityParameters(max_offset_sigma=4.0, min_offset_scatter_arcsec=1.0)).check(lc)
    assert result.values["offset"] == pytest.approx(separation, rel=1e-3, abs=1e-9)
    assert np.flatnonzero(~result.good).tolist() == [20]
