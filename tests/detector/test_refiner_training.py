"""scripts/train_refiner.py end to end on a few chips: weights with a refiner that load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dwelltime.detector import load_detector
from dwelltime.detector.weights import card_path


def test_crops_are_nose_up_with_their_types_and_sizes(classes, script):
    crops = script("train_refiner").render_crops((3, 0, 4, classes))
    n = len(crops["crops"])
    assert n > 0
    assert crops["crops"].shape == (n, 3, 128, 128) and crops["crops"].dtype == np.uint8
    assert set(crops["type_index"]) <= set(range(len(classes)))
    assert ((crops["size_m"] > 5) & (crops["size_m"] < 100)).all()
    assert ((crops["source_gsd_m"] >= 0.3) & (crops["source_gsd_m"] <= 3.0)).all()


def test_training_writes_weights_that_load_with_their_refiner(tmp_path, tiny_weights, script):
    _train(script("train_refiner"), tiny_weights, tmp_path)
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    card = json.loads(card_path(weights).read_text())
    assert card["model"]["refiner"] is True
    assert card["refiner"]["base_weights"] == tiny_weights.name
    assert card["refiner"]["command"].startswith("python scripts/train_refiner.py --seed")
    assert len(card["refiner"]["history"]) == 1
    detector = load_detector(weights, device="cpu")
    assert detector.model.refiner is not None
    assert sorted((tmp_path / "work").glob("*.npz"))  # crops cached for the next run


def _train(script, base: Path, tmp_path: Path, *extra: str) -> None:
    args = script.parse_args(
        ["--base", str(base), "--chips", "6", "--val-chips", "3", "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--threads", "1",
         "--work-dir", str(tmp_path / "work"), "--models-dir", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    script.train(args)


def test_continue_fine_tunes_the_refiner_the_base_carries(tmp_path, refiner_weights, script):
    _train(script("train_refiner"), refiner_weights, tmp_path, "--continue")
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    before, after = load_file(str(refiner_weights)), load_file(str(weights))
    refiner = [k for k in before if k.startswith("refiner.") and before[k].is_floating_point()]
    assert any(not torch.equal(before[k], after[k]) for k in refiner)  # trained on
    card = json.loads(card_path(weights).read_text())
    assert card["refiner"]["command"].endswith("--continue")
    assert card["refiner"]["continues"]["command"] == "python scripts/train_refiner.py --seed 7"


def test_continue_needs_a_refiner_in_the_base(tmp_path, tiny_weights, script):
    with pytest.raises(SystemExit, match="carries no refiner"):
        _train(script("train_refiner"), tiny_weights, tmp_path, "--continue")
