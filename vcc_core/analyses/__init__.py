"""Analyses of metrics: the output-scale sweep and split-half ceilings."""
