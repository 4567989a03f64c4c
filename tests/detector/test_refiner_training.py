"""scripts/train_refiner.py end to end on a few chips: weights with a refiner that load."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dwelltime.detector import load_detector
from dwelltime.detector.model import build_detector
from dwelltime.detector.weights import card_path, save_weights

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


def _weights_with_refiner(folder: Path, classes: list[str]) -> Path:
    model = build_detector(num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True)
    card = {
        "created": "2026-01-01T00:00:00+00:00",
        "classes": classes,
        "gsd_m": 0.5,
        "refiner": {"command": "python scripts/train_refiner.py --seed 7", "hardware": "X",
                    "wall_time_s": 60.0},
    }  # fmt: skip
    return save_weights(model, folder, arch="tiny", data="synth", card=card)


def _train(script, base: Path, tmp_path: Path, *extra: str) -> None:
    args = script.parse_args(
        ["--base", str(base), "--chips", "6", "--val-chips", "3", "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--threads", "1",
         "--work-dir", str(tmp_path / "work"), "--models-dir", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    script.train(args)


def test_continue_fine_tunes_the_refiner_the_base_carries(tmp_path, classes):
    base = _weights_with_refiner(tmp_path / "models", classes)
    _train(_script(), base, tmp_path, "--continue")
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    before, after = load_file(str(base)), load_file(str(weights))
    refiner = [k for k in before if k.startswith("refiner.") and before[k].is_floating_point()]
    assert any(not torch.equal(before[k], after[k]) for k in refiner)  # trained on
    card = json.loads(card_path(weights).read_text())
    assert card["refiner"]["command"].endswith("--continue")
    assert card["refiner"]["continues"]["command"] == "python scripts/train_refiner.py --seed 7"


def test_continue_needs_a_refiner_in_the_base(tmp_path, tiny_weights):
    with pytest.raises(SystemExit, match="carries no refiner"):
        _train(_script(), tiny_weights, tmp_path, "--continue")
