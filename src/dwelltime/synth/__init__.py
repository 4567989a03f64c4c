"""Synthetic apron imagery with exact ground truth: training chips, georeferenced scene series,
and the bundled Sunan demo.

Public API: :func:`load_catalog`, :class:`AircraftType`, :func:`render_chip`, :class:`Chip`,
:class:`AircraftLabel`.
"""

from dwelltime.synth.catalog import AircraftType, load_catalog
from dwelltime.synth.chips import AircraftLabel, Chip, render_chip

__all__ = ["AircraftLabel", "AircraftType", "Chip", "load_catalog", "render_chip"]
