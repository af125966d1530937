"""The domain's named choices (event kinds, triage label rules, interval methods): plain tuples, cheap to import.

The command line offers them as choices when it builds its parser, which must not import the science
(numpy and the models) to print ``vo --help``; the modules that implement them re-export them.
"""

from __future__ import annotations

__all__ = ["EVENT_KINDS", "DIMMING_KINDS", "LABEL_RULES", "INTERVAL_METHODS"]

#: Every event model the Simulator can inject.
EVENT_KINDS = ("flare", "gaussian_bump", "gaussian_dip", "box_bump", "box_dip", "occultation", "microlensing")
#: Models that make the source fainter; all others brighten it.
DIMMING_KINDS = frozenset({"gaussian_dip", "box_dip", "occultation"})
#: Which triage labels count: every detection but those labelled artifact, only those labelled real, or all.
LABEL_RULES = ("not-artifact", "real", "all")
#: Intervals of the count: Feldman–Cousins over a known background, or Garwood's minus the background.
INTERVAL_METHODS = ("feldman-cousins", "garwood")
