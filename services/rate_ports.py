"""Port of event rates: injections by kind, real detections with their labels, and the data that was searched."""

from __future__ import annotations

import abc

from virtualobserver.domain.rates import Candidate, Exposure, InjectionCounts

__all__ = ["RateRepository"]


class RateRepository(abc.ABC):
    """The counts an event rate is made of, read in a few aggregate queries (never one row per epoch)."""

    @abc.abstractmethod
    def injection_counts(self, project: str, version: str) -> dict[str, InjectionCounts]:
        """Return the injections of ``project`` at simulation ``version``, counted by event kind.

        Parameters
        ----------
        project : str
            Project name.
        version : str
            Simulation version.

        Returns
        -------
        dict
            Event kind -> :class:`~domain.rates.InjectionCounts` (kinds without injections are absent).
        """

    @abc.abstractmethod
    def candidates(self, project: str, version: str, kind: str) -> list[Candidate]:
        """Return the real (not simulated) detections of one kind at analysis ``version``, with their labels.

        Parameters
        ----------
        project : str
            Project name.
        version : str
            Analysis version.
        kind : str
            Detection kind: ``brightening`` or ``dimming``.

        Returns
        -------
        list of Candidate
            Source, lightcurve, extent (the peak where no extent is stored), label and the mean step
            between epochs of its lightcurve (its span over its epochs less one).
        """

    @abc.abstractmethod
    def exposure(self, project: str, survey: str, reduction_version: str, *, stage: str, version: str,
                 min_good_epochs: int) -> Exposure:
        """Return what was searched: the sources that finished ``stage`` at ``version`` and their lightcurves.

        Parameters
        ----------
        project, survey : str
            Project and survey.
        reduction_version : str
            Version of the lightcurves.
        stage, version : str
            The step that makes a source count as analysed, and its version.
        min_good_epochs : int
            Lightcurves with fewer good epochs are not searched (not counted as searched).

        Returns
        -------
        Exposure
            Sources (and those with a span: a lightcurve with two good epochs), the sum of the sources'
            spans (first to last epoch of those lightcurves), and the searched lightcurves' number,
            good epochs and summed spans.
        """
