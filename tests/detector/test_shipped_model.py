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


def test_bf16_finds_the_same_aircraft_as_fp32():
    """bf16 autocast (the default on CPUs with native bf16) moves centres by well under a
    pixel and scores by a few hundredths at most, so it changes no detection of a clear chip."""
    from dwelltime.synth import render_chip

    chip = render_chip(np.random.default_rng(7), size_px=512, source_gsd_m=0.5, n_aircraft=(4, 4))
    image = chip.image.transpose(2, 0, 1)[None]
    (fp32,) = load_detector(device="cpu", precision="fp32").predict(image)
    (bf16,) = load_detector(device="cpu", precision="bf16").predict(image)
    assert len(fp32) == len(bf16) >= 3
    order = [
        np.argmin(np.hypot(bf16.cx - x, bf16.cy - y))
        for x, y in zip(*(fp32.cx, fp32.cy), strict=True)
    ]
    np.testing.assert_allclose(bf16.cx[order], fp32.cx, atol=1.0)
    np.testing.assert_allclose(bf16.cy[order], fp32.cy, atol=1.0)
    # scores: typically a thousandth apart; a weak candidate's second look can move more
    # (66 detections of 20 such chips: median 0.001, largest 0.056)
    score_diff = np.abs(bf16.score[order] - fp32.score)
    assert np.median(score_diff) < 0.01 and score_diff.max() < 0.1
    np.testing.assert_allclose(bf16.length_px[order], fp32.length_px, rtol=0.03)
