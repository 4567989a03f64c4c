"""Fixtures of the evaluation tests: a fake detector that finds marked pixels."""

from dataclasses import dataclass

import numpy as np
import pytest

from dwelltime.detector import TileDetections


@dataclass(frozen=True)
class FakeDecode:
    score_threshold: float = 0.3


class MarkerDetector:
    """Finds pixels at 255 in band 1: a 20 × 16 px aircraft heading 90° at each."""

    gsd_m = 0.5
    classes = ("IL62", "unknown")

    def __init__(self):
        self.decode_config = FakeDecode()
        self.batches = []

    def predict(self, images):
        self.batches.append(images.shape)
        out = []
        for tile in images:
            rows, cols = np.nonzero(tile[0] == 255)
            n = len(rows)
            out.append(
                TileDetections(
                    cols + 0.5,
                    rows + 0.5,
                    np.full(n, 20.0),
                    np.full(n, 16.0),
                    np.full(n, 90.0),
                    np.tile([0.8, 0.2], (n, 1)),
                    np.full(n, 0.9),
                )
            )
        return out

    def describe(self):
        return {"weights": "marker", "precision": "fp32", "device": "cpu"}

    def post_processor(self):
        """Itself: it has the post-processor's ``gsd_m`` and ``assign_types``."""
        return self

    def assign_types(self, det, length_m, span_m, source_gsd_m=None):
        best = det.type_probs.argmax(axis=1)
        return np.asarray(self.classes, dtype=object)[best], det.type_probs.max(axis=1)


@pytest.fixture
def marker_detector():
    """A factory of :class:`MarkerDetector` (fresh state per call)."""
    return MarkerDetector
