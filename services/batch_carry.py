"""Products one step of a batch hands to the next in memory, so that they are not read back from disk."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BatchCarry", "in_canonical_order"]


@dataclass
class BatchCarry:
    """What the steps of one batch made, by survey, for the later steps of the same batch.

    A step that finds everything it needs here uses it instead of querying its records and loading
    their arrays: the objects are those just written and committed (ids, files and keys set), so the
    result is the same as reading them back. A step finding only part of it reads everything, as on a
    resumed run. The carry lives for one batch only, so memory stays bounded by the batch size.

    Attributes
    ----------
    raws : dict
        Survey name -> source name -> RawData (loaded) made by the download step.
    lightcurves : dict
        Survey name -> source id -> lightcurves (loaded) made by the reduce step.
    qualities : dict
        Survey name -> source id -> the QualityResult of each of those lightcurves, from the analyse step.
    results : dict
        Survey name -> source id -> the analysis of each of those lightcurves (scores and detections),
        which the simulate step takes as the un-injected reference instead of searching them again.
    parts : list
        ``(survey, version, name, key, histograms)`` of every histogram part the batch's steps wrote and
        recorded (committed once the batch's last step has).
    fresh : bool
        Every source of the batch was new when this attempt registered it, so none has a step done or
        failed on record but those this attempt's steps record (in ``done``).
    done : dict
        ``(stage, survey, version)`` -> ids of the sources this attempt's steps marked done.
    """

    raws: dict[str, dict] = field(default_factory=dict)
    lightcurves: dict[str, dict] = field(default_factory=dict)
    qualities: dict[str, dict] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    parts: list[tuple] = field(default_factory=list)
    fresh: bool = False
    done: dict[tuple[str, str, str], set[int]] = field(default_factory=dict)

    def lightcurves_for(self, survey: str, source_ids) -> dict[int, list] | None:
        """Return the carried lightcurves of every one of ``source_ids``, or None if any is missing.

        Parameters
        ----------
        survey : str
            Survey name.
        source_ids : iterable of int
            Sources the step needs.

        Returns
        -------
        dict of int to list of Lightcurve, or None
            By source id.
        """
        carried = self.lightcurves.get(survey, {})
        ids = list(source_ids)
        if not all(i in carried for i in ids):
            return None
        return {i: carried[i] for i in ids}


def in_canonical_order(lightcurves: list) -> list:
    """Return a source's lightcurves ordered by (filter, season), by code point whatever the server's collation.

    The simulator's choice of lightcurve depends on their order, so lightcurves read back from the
    database and lightcurves carried in memory must come in the same order.

    Parameters
    ----------
    lightcurves : list of Lightcurve
        One source's lightcurves.

    Returns
    -------
    list of Lightcurve
        Sorted copy.
    """
    return sorted(lightcurves, key=lambda lc: (str(lc.filter), int(lc.season)))
