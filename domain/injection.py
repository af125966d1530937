"""An event injected into a lightcurve by the Simulator, with its truth and whether it was recovered."""

from __future__ import annotations

__all__ = ["Injection"]


class Injection:
    """The truth of one injected event and its outcome.

    Parameters
    ----------
    kind : str
        Event model (``"flare"``, ``"gaussian_dip"``, ``"microlensing"``, ...).
    peak_mjd, start_mjd, end_mjd : float
        Injected peak time and the span where the model differs from 1.
    amplitude : float
        Fractional flux change at the peak.
    snr_amplitude : float
        Peak amplitude in units of the lightcurve's noise.
    width : float
        Width or timescale in days (tE for microlensing).
    u0 : float, optional
        Impact parameter (microlensing only).
    params : dict, optional
        Every parameter of the model, for the record.
    recovered : bool
        Whether the event was found, by the recovery rule (in at least ``recovery_filters`` of the
        lightcurves it covers, by a detection absent from the un-injected data).
    sequence : int
        Index of the injection among those of its source (its identity with the version).
    covered : int
        Lightcurves (filters and seasons) with good epochs in the event's span; 0 for an event in a gap.
    found_in : int
        Covered lightcurves where a detection the injection caused matched it.
    overlaps_real : bool
        Whether a detection of the un-injected data overlapped the event (a real event, or a false alarm).
    """

    def __init__(self, kind: str, peak_mjd: float, start_mjd: float, end_mjd: float, amplitude: float,
                 snr_amplitude: float, width: float, u0: float | None = None, params: dict | None = None,
                 recovered: bool = False, sequence: int = 0, covered: int = 1, found_in: int = 0,
                 overlaps_real: bool = False):
        # One update of __dict__ rather than an assignment per attribute: once the ORM maps the class,
        # every assignment is an attribute event, and a new injection has no session to track them (the
        # repository inserts rows itself). ``detection``: the simulated detection that recovered it
        # (persisted with ``is_simulated=True``), if any.
        self.__dict__.update(
            id=None, source_id=None, lightcurve_id=None, version=None, kind=kind, peak_mjd=float(peak_mjd),
            start_mjd=float(start_mjd), end_mjd=float(end_mjd), amplitude=float(amplitude),
            snr_amplitude=float(snr_amplitude), width=float(width), u0=None if u0 is None else float(u0),
            params=dict(params or {}), recovered=bool(recovered), sequence=int(sequence), covered=int(covered),
            found_in=int(found_in), overlaps_real=bool(overlaps_real), detection=None)

    def __repr__(self) -> str:
        return (f"Injection({self.kind}, peak={self.peak_mjd:.3f}, A={self.snr_amplitude:.1f} sigma, "
                f"width={self.width:.3g} d, recovered={self.recovered}, found in {self.found_in}/{self.covered})")
