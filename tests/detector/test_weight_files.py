"""Weights I/O: safetensors + model card, sha256 checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dwelltime.detector import load_detector
from dwelltime.detector.weights import (
    card_path,
    data_tag,
    default_weights,
    default_weights_note,
    load_model,
    models_dir,
    read_card,
    save_weights,
    sha256_file,
    write_card_markdown,
)
from dwelltime.errors import WeightsError


def test_saved_name_card_and_round_trip(tiny_weights, tiny_model):
    card = json.loads(card_path(tiny_weights).read_text())
    assert tiny_weights.name == f"tiny_test-{card['sha256'][:8]}.safetensors"
    assert card["sha256"] == sha256_file(tiny_weights)
    assert card["model"]["num_classes"] == 3
    model, _ = load_model(tiny_weights)
    for name, value in tiny_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)


def test_a_detector_shows_its_weights_device_and_precision(tiny_weights):
    """What a notebook shows for it, not "<... Detector object at 0x...>"."""
    detector = load_detector(tiny_weights, device="cpu", precision="fp32")
    assert repr(detector) == f"<Detector {tiny_weights.name} on cpu, fp32, 0.5 m/px, 3 classes>"


def test_load_detector_from_a_path(tiny_weights):
    detector = load_detector(tiny_weights, device="cpu")
    assert detector.classes == ["IL62", "T204", "unknown"]
    assert detector.gsd_m == 0.5
    assert detector.dimensions["IL62"] == (53.12, 43.2)


def test_missing_file_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_detector(tmp_path / "nothing.safetensors")


def test_missing_card_is_a_weights_error(tiny_weights):
    card_path(tiny_weights).unlink()
    with pytest.raises(WeightsError, match="model card"):
        load_detector(tiny_weights)


def test_corrupt_file_fails_the_sha256_check(tiny_weights):
    data = bytearray(tiny_weights.read_bytes())
    data[-1] ^= 0xFF
    tiny_weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_detector(tiny_weights)


def test_a_broken_file_its_card_vouches_for_is_a_weights_error(tiny_weights):
    tiny_weights.write_bytes(tiny_weights.read_bytes()[:100])  # cut short, card made after
    card = json.loads(card_path(tiny_weights).read_text())
    card["sha256"] = sha256_file(tiny_weights)
    card_path(tiny_weights).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=r"not a readable \.safetensors file"):
        load_detector(tiny_weights, device="cpu")


def test_weights_that_do_not_fit_the_network(tiny_weights):
    card = json.loads(card_path(tiny_weights).read_text())
    card["model"]["fpn_channels"] = 16
    card_path(tiny_weights).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="do not fit"):
        load_detector(tiny_weights)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda card: card["classes"].pop(), "ValueError: 2 class names for a network with 3"),
        (lambda card: card.pop("gsd_m"), "KeyError: 'gsd_m'"),
        (lambda card: card.update(decode={"threshold": 0.5}), "TypeError: .*'threshold'"),
    ],
)
def test_a_card_that_does_not_describe_its_weights_is_a_weights_error(tiny_weights, edit, says):
    card = json.loads(card_path(tiny_weights).read_text())
    edit(card)
    card_path(tiny_weights).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=f"card {card_path(tiny_weights).name} .*{says}"):
        load_detector(tiny_weights, device="cpu")


def test_no_shipped_weights_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setattr("dwelltime.detector.weights.models_dir", lambda: tmp_path / "models")
    with pytest.raises(WeightsError, match=str(tmp_path / "models")):
        default_weights()


def test_weights_a_training_script_writes_into_models_dir_are_said_to_be_the_default(
    monkeypatch, tmp_path
):
    folder = tmp_path / "models"
    folder.mkdir()
    for name, created in (("old", "2026-01-01T00:00:00+00:00"), ("new", "2026-02-01T00:00:00")):
        (folder / f"{name}.json").write_text(json.dumps({"created": created}))
    monkeypatch.setattr("dwelltime.detector.weights.models_dir", lambda: folder)
    note = default_weights_note(folder / "new.safetensors")
    assert note.startswith("new.safetensors is now the detector dwelltime runs by default")
    assert default_weights_note(folder / "old.safetensors") is None
    assert default_weights_note(tmp_path / "elsewhere" / "new.safetensors") is None


def test_models_dir_is_the_repository_folder():
    assert (models_dir().parent / "src" / "dwelltime").is_dir()


def test_data_tag_reads_the_file_name_save_weights_writes(tiny_weights):
    assert data_tag(tiny_weights) == "test"
    assert data_tag(Path("ocnet-mnv3l_synth-airbus-aefdcb04.safetensors")) == "synth-airbus"


def test_markdown_card_shows_recipe_refiner_and_targets(tmp_path, tiny_model):
    card = {
        "created": "2026-01-01T00:00:00+00:00",
        "classes": ["IL62", "unknown"],
        "gsd_m": 0.5,
        "parameters": 1234,
        "training": {"command": "python scripts/train_detector.py --seed 2", "hardware": "H200",
                     "wall_time_s": 360.0, "data": "synthetic chips"},
        "refiner": {"command": "python scripts/train_refiner.py --seed 7", "hardware": "CPU",
                    "wall_time_s": 1398.0, "data": "nose-up crops"},
        "decode": {"score_threshold": 0.3, "verify_weight": 0.5, "candidate_threshold": 0.1},
        "metrics": {"synthetic_val": {"recall": 1.0}},
        "evaluation": [{"what": "real AP50", "measured": "0.936", "target": ">= 0.97"}],
        "licence": "CC BY-NC-SA 4.0",
        "limitations": "small model",
    }  # fmt: skip
    weights = save_weights(tiny_model, tmp_path, arch="tiny", data="synth", card=card)
    text = write_card_markdown(weights).read_text()
    assert text.startswith(f"# {weights.name}\n")
    assert "`python scripts/train_detector.py --seed 2` on H200 in 6.0 min" in text
    assert "Refiner: `python scripts/train_refiner.py --seed 7` on CPU in 23.3 min" in text
    assert "verify candidates (score = peak^0.5 × p(aircraft)^0.5, peaks from 0.1)" in text
    assert "| real AP50 | 0.936 | >= 0.97 |" in text
    assert f"sha256: `{read_card(weights)['sha256']}`" in text
