"""scripts/train_detector.py --init: a run continues earlier weights and keeps their refiner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dwelltime.detector.weights import card_path


def _run(script, tmp_path: Path, *extra: str) -> None:
    args = script.parse_args(
        ["--synthetic-only", "--steps", "2", "--batch-size", "2", "--size", "128",
         "--workers", "0", "--threads", "1", "--warmup", "1", "--work-dir",
         str(tmp_path / "work"), "--models-dir", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    script.train(args)


def test_init_trains_the_dense_network_and_keeps_the_refiner(tmp_path, refiner_weights, script):
    _run(script("train_detector"), tmp_path, "--init", str(refiner_weights))
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    card = json.loads(card_path(weights).read_text())
    before, after = load_file(str(refiner_weights)), load_file(str(weights))
    assert before.keys() == after.keys()
    refiner = [k for k in before if k.startswith("refiner.")]
    assert refiner and all(torch.equal(before[k], after[k]) for k in refiner)
    dense = [k for k in before if k not in refiner]
    assert any(not torch.equal(before[k], after[k]) for k in dense)
    assert card["model"]["refiner"] is True
    assert card["refiner"] == json.loads(card_path(refiner_weights).read_text())["refiner"]
    assert card["continues"]["weights"] == refiner_weights.name
    assert card["training"]["command"].endswith(f"--init {refiner_weights.name}")
    assert card["training"]["total_wall_time_s"] > 60.0


def test_synthetic_only_refuses_weights_trained_on_airbus(tmp_path, refiner_weights, script):
    airbus = refiner_weights.with_name(refiner_weights.name.replace("_synth-", "_synth-airbus-"))
    refiner_weights.rename(airbus)
    card_path(refiner_weights).rename(card_path(airbus))
    with pytest.raises(SystemExit, match="trained on Airbus data"):
        _run(script("train_detector"), tmp_path, "--init", str(airbus))
