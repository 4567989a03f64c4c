"""Synthetic apron imagery with exact ground truth: training chips, georeferenced scene series,
and the bundled Sunan demo.

Public API: :func:`load_catalog`, :class:`AircraftType`, :func:`render_chip`, :class:`Chip`,
:class:`AircraftLabel`, :func:`simulate_series`, :class:`SeriesTruth`, :func:`make_sunan_demo`.
"""

from dwelltime.synth.catalog import AircraftType, load_catalog
from dwelltime.synth.chips import AircraftLabel, Chip, render_chip
from dwelltime.synth.demo import make_sunan_demo
from dwelltime.synth.series import SeriesTruth, simulate_series

__all__ = [
    "AircraftLabel",
    "AircraftType",
    "Chip",
    "SeriesTruth",
    "load_catalog",
    "make_sunan_demo",
    "render_chip",
    "simulate_series",
]
