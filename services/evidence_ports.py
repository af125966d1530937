"""Port of pixel evidence fetched after the search: the images around one detection, asked for lazily."""

from __future__ import annotations

import abc

from virtualobserver.domain.evidence import EventPixels
from virtualobserver.domain.source import Source

__all__ = ["EventPixelsSource"]


class EventPixelsSource(abc.ABC):
    """Where the images around an event come from when the lightcurve came without them.

    A survey's implementation fetches only what the event needs (the target pixel file of one
    sector, the ZTF exposures of a few weeks around it), through the survey's download layer (cache,
    retries, rate limits, offline mode), so a second call for the same event asks the archive nothing.
    """

    #: The survey whose detections this source serves (``tess``, ``kepler``, ``k2``, ``ztf``).
    survey: str = ""

    @abc.abstractmethod
    def event_pixels(self, source: Source, lightcurve_filter: str, season: int, start: float,
                     end: float) -> EventPixels | None:
        """Return the images around an event of ``source``, or None when the survey has none of it.

        Parameters
        ----------
        source : Source
            The target.
        lightcurve_filter : str
            Filter of the lightcurve the event was found in (picks the band or cadence of the images).
        season : int
            Season of that lightcurve (quarter, campaign, sector, or the ZTF season).
        start, end : float
            The event's first and last time (MJD on the lightcurve's time scale).

        Returns
        -------
        EventPixels or None

        Raises
        ------
        SurveyError, TransientSurveyError
            When the archive fails (the caller leaves the detection for a later attempt).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release sessions and temporary folders."""
