"""Synthetic apron imagery with exact ground truth: training chips, georeferenced scene series,
and the bundled Sunan demo.

Public API: :func:`render_chip`, :class:`Chip`, :class:`AircraftLabel`, :func:`simulate_series`,
:class:`SeriesTruth`, :func:`make_sunan_demo`. The aircraft types it draws are
:mod:`dwelltime.catalog`'s.
The series and demo (which need rasterio and geopandas) are imported on first use, so chip
rendering in training workers stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from dwelltime.synth.chips import AircraftLabel, Chip, render_chip

_LAZY = {
    "simulate_series": "dwelltime.synth.series",
    "SeriesTruth": "dwelltime.synth.series",
    "make_sunan_demo": "dwelltime.synth.demo",
}

__all__ = [
    "AircraftLabel",
    "Chip",
    "SeriesTruth",
    "make_sunan_demo",
    "render_chip",
    "simulate_series",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dwelltime.synth' has no attribute {name!r}")
