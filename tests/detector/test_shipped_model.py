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


def test_a_plan_describes_the_detector_it_loads_without_building_it(shipped):
    """A run started again compares its stamps with DetectorPlan.describe(), not the loaded
    detector's, so the two must agree: weights, sha256, device, the precision auto chose."""
    from dwelltime.detector import DetectorPlan

    assert DetectorPlan(device="cpu").describe() == shipped.describe()


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


@pytest.mark.parametrize(
    ("precision", "centre_px", "median_score", "length_rtol"),
    [
        # bf16 autocast (the default on CPUs with native bf16) moves centres by well under a
        # pixel; scores typically a thousandth apart, a weak candidate's second look can move
        # more (66 detections of 20 such chips: median 0.001, largest 0.056)
        ("bf16", 1.0, 0.01, 0.03),
        # int8 (the default on other x86 CPUs; oneDNN's kernels): on 20 such chips (69
        # detections) centres median 0.2 px apart, at most 4.5 (about one output cell of 4 px),
        # scores median 0.007, at most 0.05, lengths median 1 %, at most 4 %; one detection
        # cut by the tile's edge (fp32 score 0.36) fell under the threshold of 0.3
        ("int8", 5.0, 0.05, 0.08),
    ],
)
def test_other_precisions_find_the_same_aircraft_as_fp32(
    precision, centre_px, median_score, length_rtol
):
    """The same detections as fp32 but for ones within 0.1 of the score threshold, which
    rounding may tip either way; matched ones close in place, score and length."""
    from dwelltime.synth import render_chip

    chip = render_chip(np.random.default_rng(7), size_px=512, source_gsd_m=0.5, n_aircraft=(4, 4))
    image = chip.image.transpose(2, 0, 1)[None]
    reference = load_detector(device="cpu", precision="fp32")
    threshold = reference.decode_config.score_threshold
    (fp32,) = reference.predict(image)
    (other,) = load_detector(device="cpu", precision=precision).predict(image)
    distance = np.hypot(fp32.cx[:, None] - other.cx, fp32.cy[:, None] - other.cy)
    matched = distance.min(axis=1) <= centre_px
    order = distance.argmin(axis=1)[matched]
    assert matched.sum() >= 3 and len(set(order)) == len(order)
    unmatched = np.concatenate([fp32.score[~matched], np.delete(other.score, order)])
    assert np.all(unmatched < threshold + 0.1)
    score_diff = np.abs(other.score[order] - fp32.score[matched])
    assert np.median(score_diff) < median_score and score_diff.max() < 0.1
    np.testing.assert_allclose(other.length_px[order], fp32.length_px[matched], rtol=length_rtol)
