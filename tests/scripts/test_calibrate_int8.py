"""scripts/calibrate_int8.py: the calibration goes in the card and the detector runs int8."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dwelltime.detector import int8, load_detector
from dwelltime.detector.model import build_detector
from dwelltime.detector.weights import card_path, save_weights, sha256_file

pytestmark = pytest.mark.skipif(int8.unavailable() is not None, reason=str(int8.unavailable()))


def test_calibration_is_stored_in_the_card_and_loaded_as_int8(tmp_path, script):
    model = build_detector(num_classes=3, width_mult=0.25, fpn_channels=8)
    card = {"created": "2026-01-01T00:00:00+00:00", "classes": ["IL62", "T204", "unknown"],
            "gsd_m": 0.5}  # fmt: skip
    weights = save_weights(model, tmp_path, arch="tiny", data="synth", card=card)
    sha = sha256_file(weights)
    args = ["--weights", str(weights), "--chips", "2", "--synthetic-only", "--threads", "1"]
    script("calibrate_int8").main(args)
    stored = json.loads(card_path(weights).read_text())["int8"]
    assert stored["command"].endswith("calibrate_int8.py --chips 2 --seed 0 --synthetic-only")
    assert stored["engine"] == int8.ENGINE and stored["activations"]
    assert "dwelltime.synth chips" in stored["data"]
    assert "int8 (CPU): calibrated by" in weights.with_suffix(".md").read_text()
    assert sha256_file(weights) == sha  # the weights file is not touched
    detector = load_detector(weights, device="cpu", precision="int8")
    (det,) = detector.predict(np.zeros((1, 3, 64, 64), np.uint8))
    assert detector.describe()["precision"] == "int8" and det.type_probs.shape[1] == 3
