"""Detector evaluation against labelled imagery: labels in, metric tables out.

Modules: :mod:`~dwelltime.evaluation.geometry` (IoU of oriented rectangles),
:mod:`~dwelltime.evaluation.objects` (the per-image truth/prediction arrays),
:mod:`~dwelltime.evaluation.metrics` (matching, AP, precision/recall/F1, attribute errors),
:mod:`~dwelltime.evaluation.labels` (DOTA txt, GeoJSON, Airbus CSV; label discovery),
:mod:`~dwelltime.evaluation.predict` (detector over a whole image),
:mod:`~dwelltime.evaluation.summary` (tables overall, by GSD and by type).
"""
