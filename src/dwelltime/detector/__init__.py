"""Aircraft detector: oriented footprints, size in metres and type from model-GSD tiles.

Public API: :func:`load_detector`, :class:`Detector`, :class:`DetectorPlan` (one described
before it is loaded), :func:`detect_tiles`,
:class:`TileDetections`, :func:`build_detector` (an untrained network).
They are imported on first use, so the stages that only read the type rules
(:mod:`dwelltime.detector.types`: linking, flight logs) do not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DecodeConfig": "dwelltime.detector.decode",
    "TileDetections": "dwelltime.detector.decode",
    "build_detector": "dwelltime.detector.model",
    "Detector": "dwelltime.detector.predict",
    "DetectorPlan": "dwelltime.detector.predict",
    "default_classes": "dwelltime.detector.predict",
    "detect_tiles": "dwelltime.detector.predict",
    "load_detector": "dwelltime.detector.predict",
    "predict_scenes": "dwelltime.detector.predict",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dwelltime.detector' has no attribute {name!r}")
