"""Pixels of a detection fetched after the search: target pixel files (Kepler, K2, TESS) and ZTF cutouts.

Both implement :class:`~services.evidence_ports.EventPixelsSource` over the pixel download clients, so
the files land in the raw-answer cache beside the lightcurve files and are never fetched twice.
"""

from __future__ import annotations

from collections import OrderedDict

from virtualobserver.adapters.surveys.pixel_format import read_pixel_file
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient
from virtualobserver.adapters.surveys.pixels.ztf_event_cube import ztf_event_cube
from virtualobserver.domain.errors import DataError, SurveyError
from virtualobserver.domain.evidence import EventPixels
from virtualobserver.domain.source import Source
from virtualobserver.services.evidence_ports import EventPixelsSource

__all__ = ["TargetPixelEvidence", "ZtfEvidence"]

# Target pixel files kept open (memory maps) for the next detections of the same source and season.
_OPEN_FILES = 4


class TargetPixelEvidence(EventPixelsSource):
    """Images of an event from the mission's target pixel file of its season.

    Parameters
    ----------
    client : TessTargetPixels, KeplerTargetPixels or K2TargetPixels
        The mission's pixel client (its parameters pick the quality preset).
    """

    def __init__(self, client):
        self.client = client
        self.survey = client.name
        self._files: OrderedDict = OrderedDict()

    def event_pixels(self, source: Source, lightcurve_filter: str, season: int, start: float,
                     end: float) -> EventPixels | None:
        """Return the frames of the target pixel file of ``season`` (the lightcurve's cadence when there are two).

        See :meth:`EventPixelsSource.event_pixels`.
        """
        files = self._read(source, int(season))
        if not files:
            return None
        same_band = [f for f in files if self.client.band(f.cadence_s) == lightcurve_filter]
        chosen = (same_band or files)[0]
        mission = self.client.mission
        return EventPixels(chosen.pixels, mission.quality_mask(self.client.parameters.quality_bitmask),
                           files=(chosen.path.name,))

    def _read(self, source: Source, season: int) -> list:
        key = (source.name, season)
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        read = []
        for record in self.client.download_pixels(source, seasons={season}):
            try:
                read.append(read_pixel_file(record.path, self.client.mission))
            except DataError as exc:
                raise SurveyError(f"{self.survey}: {source.name}: {exc}") from None
        self._files[key] = read
        while len(self._files) > _OPEN_FILES:
            self._files.popitem(last=False)
        return read

    def close(self) -> None:
        """Close the pixel client."""
        self._files.clear()
        self.client.close()


class ZtfEvidence(EventPixelsSource):
    """Images of a ZTF event: cutouts of its filter's exposures around it, on one grid, in µJy.

    Parameters
    ----------
    client : ZtfCutoutClient
        Asks IRSA (or the cache) for exposures and cutouts.
    """

    survey = "ztf"

    def __init__(self, client: ZtfCutoutClient):
        self.client = client

    def event_pixels(self, source: Source, lightcurve_filter: str, season: int, start: float,
                     end: float) -> EventPixels | None:
        """Return the cutouts of the event's filter (``zg``, ``zr``, ``zi``) within weeks of it.

        See :meth:`EventPixelsSource.event_pixels`.
        """
        event = ztf_event_cube(self.client, source, start, end, lightcurve_filter)
        if event is None:
            return None
        return EventPixels(event.cube, event.bad_bits, min_baseline_days=event.baseline_days,
                           target_error_arcsec=event.target_error_arcsec,
                           files=tuple(f.path.name for f in event.files))

    def close(self) -> None:
        """Close the cutout client."""
        self.client.close()
