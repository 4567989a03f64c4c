"""Fixtures of the detector tests: a tiny untrained network and its saved weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dwelltime.detector.model import build_detector
from dwelltime.detector.weights import save_weights

CLASSES = ["IL62", "T204", "unknown"]
DIMS = {"IL62": (53.12, 43.2), "T204": (46.14, 41.8)}


@pytest.fixture
def classes() -> list[str]:
    """Type classes of the tiny test network."""
    return list(CLASSES)


@pytest.fixture
def dims() -> dict[str, tuple[float, float]]:
    """(length_m, wingspan_m) of the test classes."""
    return dict(DIMS)


def _tiny(**kwargs) -> torch.nn.Module:
    """The tiny untrained network, initialised from seed 0 whatever the tests before it drew
    (torch's global generator is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build_detector(num_classes=len(CLASSES), width_mult=0.25, fpn_channels=8, **kwargs)


@pytest.fixture
def tiny_model():
    """An untrained network small enough for fast tests."""
    return _tiny()


@pytest.fixture
def tiny_refiner_model():
    """The tiny untrained network with a type refiner."""
    return _tiny(refiner=True)


@pytest.fixture
def tiny_weights(tmp_path: Path, tiny_model) -> Path:
    """The tiny network saved as safetensors with its model card."""
    card = {
        "created": "2026-01-01T00:00:00+00:00",
        "classes": CLASSES,
        "gsd_m": 0.5,
        "dimensions": {k: list(v) for k, v in DIMS.items()},
    }
    return save_weights(tiny_model, tmp_path / "models", arch="tiny", data="test", card=card)


@pytest.fixture
def refiner_weights(tmp_path: Path, tiny_refiner_model) -> Path:
    """Tiny weights with a refiner and the training records a real card has."""
    model = tiny_refiner_model
    card = {
        "created": "2026-01-01T00:00:00+00:00",
        "classes": CLASSES,
        "gsd_m": 0.5,
        "dimensions": {k: list(v) for k, v in DIMS.items()},
        "training": {"command": "python scripts/train_detector.py --seed 1", "hardware": "X",
                     "wall_time_s": 60.0},
        "refiner": {"command": "python scripts/train_refiner.py --seed 7", "hardware": "X",
                    "wall_time_s": 60.0},
    }  # fmt: skip
    return save_weights(model, tmp_path / "models", arch="tiny", data="synth", card=card)


def assert_same_detections(got, want) -> None:
    """Two lists of TileDetections agree: counts, and scores, centres and type probabilities
    within rounding."""
    import numpy as np

    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.score, w.score, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g.cx, w.cx, atol=1e-3)
        np.testing.assert_allclose(g.type_probs, w.type_probs, rtol=1e-4, atol=1e-5)


@pytest.fixture
def same_detections():
    """:func:`assert_same_detections`, for the test modules."""
    return assert_same_detections
