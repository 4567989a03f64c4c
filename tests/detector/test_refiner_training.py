"""scripts/train_refiner.py end to end on a few chips: weights with a refiner that load."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dwelltime.detector import load_detector
from dwelltime.detector.weights import card_path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_refiner.py"


def _script():
    """The script as a module (registered, so its worker processes can find its functions)."""
    spec = importlib.util.spec_from_file_location("train_refiner", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_refiner"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """train() sets the process's torch threads; later tests compare float outputs."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_crops_are_nose_up_with_their_types_and_sizes(classes):
    crops = _script().render_crops((3, 0, 4, classes))
    n = len(crops["crops"])
    assert n > 0
    assert crops["crops"].shape == (n, 3, 128, 128) and crops["crops"].dtype == np.uint8
    assert set(crops["type_index"]) <= set(range(len(classes)))
    assert ((crops["size_m"] > 5) & (crops["size_m"] < 100)).all()
    assert ((crops["source_gsd_m"] >= 0.3) & (crops["source_gsd_m"] <= 3.0)).all()


def test_training_writes_weights_that_load_with_their_refiner(tmp_path, tiny_weights):
    script = _script()
    args = script.parse_args(
        ["--base", str(tiny_weights), "--chips", "6", "--val-chips", "3", "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--threads", "1",
         "--work-dir", str(tmp_path / "work"), "--models-dir", str(tmp_path / "out")]
    )  # fmt: skip
    script.train(args)
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    card = json.loads(card_path(weights).read_text())
    assert card["model"]["refiner"] is True
    assert card["refiner"]["base_weights"] == tiny_weights.name
    assert card["refiner"]["command"].startswith("python scripts/train_refiner.py --seed")
    assert len(card["refiner"]["history"]) == 1
    detector = load_detector(weights, device="cpu")
    assert detector.model.refiner is not None
    assert sorted((tmp_path / "work").glob("*.npz"))  # crops cached for the next run
