"""Aircraft detector: oriented footprints, size in metres and type from model-GSD tiles.

Public API: :func:`load_detector`, :class:`Detector`, :func:`detect_tiles`,
:class:`TileDetections`, :func:`build_detector` (an untrained network).
"""

from dwelltime.detector.decode import DecodeConfig, TileDetections
from dwelltime.detector.model import build_detector
from dwelltime.detector.predict import (
    Detector,
    default_classes,
    detect_tiles,
    load_detector,
    predict_scenes,
)

__all__ = [
    "DecodeConfig",
    "Detector",
    "TileDetections",
    "build_detector",
    "default_classes",
    "detect_tiles",
    "load_detector",
    "predict_scenes",
]
