"""Which pixel client serves the lazy evidence of each survey, made from the survey's download parameters."""

from __future__ import annotations

from virtualobserver.adapters.http.cache import RawCache
from virtualobserver.adapters.surveys.kepler import VirtualK2, VirtualKepler
from virtualobserver.adapters.surveys.pixels.evidence import TargetPixelEvidence, ZtfEvidence
from virtualobserver.adapters.surveys.pixels.mast_pixels import K2TargetPixels, KeplerTargetPixels, TessTargetPixels
from virtualobserver.adapters.surveys.pixels.ztf_cutouts import ZtfCutoutClient, ZtfCutoutParameters
from virtualobserver.adapters.surveys.tess import VirtualTESS
from virtualobserver.adapters.surveys.ztf import VirtualZTF
from virtualobserver.domain.parameters import Parameters
from virtualobserver.services.evidence_ports import EventPixelsSource

__all__ = ["EVIDENCE_SURVEYS", "evidence_source"]

#: Surveys whose detections can get pixel evidence after the search.
EVIDENCE_SURVEYS = (VirtualTESS.name, VirtualKepler.name, VirtualK2.name, VirtualZTF.name)
_TARGET_PIXELS = {VirtualTESS.name: TessTargetPixels, VirtualKepler.name: KeplerTargetPixels,
                  VirtualK2.name: K2TargetPixels}
# Download settings the cutout client takes over from the ZTF survey's (same archive, same limits).
_SHARED_HTTP = ("base_url", "offline", "retries", "backoff_s", "backoff_max_s", "rate_limit_per_s", "max_concurrency",
                "timeout_s")


def evidence_source(survey: str, download: Parameters, cache: RawCache) -> EventPixelsSource | None:
    """Return the event pixel source of a survey, or None for a survey without images.

    Parameters
    ----------
    survey : str
        Survey name (``tess``, ``kepler``, ``k2``, ``ztf``; others have no images).
    download : Parameters
        The survey's download parameters (archive URL, limits, offline mode, quality preset).
    cache : RawCache
        The shared raw-answer cache (pixel files sit beside the survey's lightcurve files).

    Returns
    -------
    EventPixelsSource or None
    """
    if survey in _TARGET_PIXELS:
        return TargetPixelEvidence(_TARGET_PIXELS[survey](download, cache=cache))
    if survey == VirtualZTF.name:
        shared = {key: getattr(download, key) for key in _SHARED_HTTP if key in type(download).SPECS}
        return ZtfEvidence(ZtfCutoutClient(ZtfCutoutParameters(**shared), cache=cache))
    return None
