"""The file formats a catalog is written in (by ``vo catalog-gaia``), and astropy's writer for each.

A module of its own, without imports, so that the command line offers them as choices without importing
the TAP client.
"""

from __future__ import annotations

__all__ = ["OUTPUT_FORMATS"]

#: Output format -> astropy writer.
OUTPUT_FORMATS = {"ecsv": "ascii.ecsv", "votable": "votable", "fits": "fits", "csv": "ascii.csv"}
