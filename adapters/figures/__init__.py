"""Figures for papers (matplotlib, Agg canvas): a source's lightcurves with detections, efficiency maps."""
