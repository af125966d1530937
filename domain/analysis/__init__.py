"""Analysis of lightcurves: scores, detections and per-source summaries."""
