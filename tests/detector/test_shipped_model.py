"""The shipped weights in models/: card, hash, and a tiny end-to-end detection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dwelltime.detector import default_classes, load_detector
from dwelltime.detector.weights import card_path, default_weights


@pytest.fixture(scope="module")
def shipped():
    """The shipped detector on CPU (sha256 checked while loading)."""
    return load_detector(device="cpu")


def test_card_describes_the_shipped_weights():
    weights = default_weights()
    card = json.loads(card_path(weights).read_text())
    assert weights.name.endswith(f"-{card['sha256'][:8]}.safetensors")
    assert card["classes"] == default_classes()
    assert card["gsd_m"] == 0.5 and card["bands"] == ["red", "green", "blue"]
    if "airbus" in card["training"]["data"].lower():
        assert "CC BY-NC-SA 4.0" in card["licence"]
    assert weights.stat().st_size < 50e6


def test_shipped_model_finds_the_aircraft_of_a_rendered_chip(shipped):
    from dwelltime.synth import render_chip

    rng = np.random.default_rng(2026)
    found = total = 0
    for _ in range(3):
        chip = render_chip(
            rng, size_px=512, source_gsd_m=0.4, n_aircraft=(3, 3), cloud_probability=0.0
        )
        (det,) = shipped.predict(chip.image.transpose(2, 0, 1)[None])
        for lab in chip.labels:
            total += 1
            dist = np.hypot(det.cx - lab.cx_px, det.cy - lab.cy_px)
            found += bool(len(dist) and dist.min() < 0.25 * lab.length_m / chip.gsd_m)
    assert total == 9
    assert found >= 6
