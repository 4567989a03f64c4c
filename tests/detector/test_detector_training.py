"""scripts/train_detector.py --init: a run continues earlier weights and keeps their refiner."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dwelltime.detector.model import build_detector
from dwelltime.detector.weights import card_path, save_weights

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_detector.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_detector", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_detector"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """train() sets the process's torch threads; later tests compare float outputs."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def earlier_weights(tmp_path: Path, classes, dims) -> Path:
    """Tiny weights with a refiner and the training record a real card has."""
    model = build_detector(num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True)
    card = {
        "created": "2026-01-01T00:00:00+00:00",
        "classes": classes,
        "gsd_m": 0.5,
        "dimensions": {k: list(v) for k, v in dims.items()},
        "training": {"command": "python scripts/train_detector.py --seed 1", "hardware": "X",
                     "wall_time_s": 60.0},
        "refiner": {"command": "python scripts/train_refiner.py --seed 7"},
    }  # fmt: skip
    return save_weights(model, tmp_path / "models", arch="tiny", data="synth", card=card)


def _run(script, tmp_path: Path, *extra: str) -> None:
    args = script.parse_args(
        ["--synthetic-only", "--steps", "2", "--batch-size", "2", "--size", "128",
         "--workers", "0", "--threads", "1", "--warmup", "1", "--work-dir",
         str(tmp_path / "work"), "--models-dir", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    script.train(args)


def test_init_trains_the_dense_network_and_keeps_the_refiner(tmp_path, earlier_weights):
    _run(_script(), tmp_path, "--init", str(earlier_weights))
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    card = json.loads(card_path(weights).read_text())
    before, after = load_file(str(earlier_weights)), load_file(str(weights))
    assert before.keys() == after.keys()
    refiner = [k for k in before if k.startswith("refiner.")]
    assert refiner and all(torch.equal(before[k], after[k]) for k in refiner)
    dense = [k for k in before if k not in refiner]
    assert any(not torch.equal(before[k], after[k]) for k in dense)
    assert card["model"]["refiner"] is True
    assert card["refiner"] == {"command": "python scripts/train_refiner.py --seed 7"}
    assert card["continues"]["weights"] == earlier_weights.name
    assert card["training"]["command"].endswith(f"--init {earlier_weights.name}")
    assert card["training"]["total_wall_time_s"] > 60.0


def test_synthetic_only_refuses_weights_trained_on_airbus(tmp_path, earlier_weights):
    airbus = earlier_weights.with_name(earlier_weights.name.replace("_synth-", "_synth-airbus-"))
    earlier_weights.rename(airbus)
    card_path(earlier_weights).rename(card_path(airbus))
    with pytest.raises(SystemExit, match="trained on Airbus data"):
        _run(_script(), tmp_path, "--init", str(airbus))
