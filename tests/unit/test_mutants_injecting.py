"""Injection: the cases that mutation testing found unchecked (tests/mutation/science.md).

Expected fluxes are worked out by hand on a constant lightcurve with instantaneous exposures,
where a box changes the flux by exactly its amplitude inside and not at all outside.
"""

from __future__ import annotations

import numpy as np

from virtualobserver.domain.events import InjectedEvent
from virtualobserver.domain.injecting import inject
from virtualobserver.domain.lightcurve import Lightcurve


def _constant(flux=100.0, n=10):
    # Daily epochs at 0..n-1, every flux equal (baseline = flux), exposure 0: factors at the instant.
    return Lightcurve("test", "g", 0, {
        "mjd": np.arange(n, dtype=float), "flux": np.full(n, flux), "fluxerr": np.ones(n),
        "mag": np.full(n, 25.0 - 2.5 * np.log10(flux)), "magerr": np.full(n, 0.01),
        "flag": np.zeros(n, int), "exptime": np.zeros(n)}, source_name="constant")


def test_several_events_multiply_the_flux_where_they_overlap():
    lc = _constant()
    bump = InjectedEvent.create("box_bump", 3.5, 4.0, 0.5)   # epochs 2, 3, 4, 5: x 1.5
    dip = InjectedEvent.create("box_dip", 5.5, 4.0, -0.2)    # epochs 4, 5, 6, 7: x 0.8
    out = inject(lc, [bump, dip])
    expected = [100.0, 100.0, 150.0, 150.0, 120.0, 120.0, 80.0, 80.0, 100.0, 100.0]
    np.testing.assert_allclose(out.flux, expected, rtol=1e-14)
    np.testing.assert_allclose(inject(lc, (dip, bump)).flux, expected, rtol=1e-14)
    # One event given alone or as a one-element list is the same injection.
    np.testing.assert_array_equal(inject(lc, [bump]).flux, inject(lc, bump).flux)
    np.testing.assert_allclose(inject(lc, bump).flux, [100, 100, 150, 150, 150, 150, 100, 100, 100, 100],
                               rtol=1e-14)
