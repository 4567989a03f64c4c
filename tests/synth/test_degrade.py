"""Sensor effects on small hand-made images."""

from __future__ import annotations

import numpy as np

from dwelltime.synth.degrade import coarsen


def test_coarsen_resamples_to_the_coarse_grid():
    image = np.zeros((60, 100, 3), np.uint8)
    image[:, 50:] = 255
    out = coarsen(image, 0.5, 3.0, 0.6)
    assert out.shape == (10, 17, 3)
    assert out[:, 0].max() < 30 and out[:, -1].min() > 225  # far from the edge: unchanged
    assert 30 < out[5, 8, 0] < 225  # at the edge: blurred
