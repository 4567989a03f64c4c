"""scripts/train_refiner.py: candidates labelled against the truth, AP counted as ``dwelltime
evaluate`` counts it, older refiners widened, training end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from dwelltime.catalog import load_catalog
from dwelltime.detector import Detector, load_detector
from dwelltime.detector.model import build_detector
from dwelltime.detector.weights import (
    CARD_FORMAT,
    card_path,
    default_weights,
    save_weights,
    sha256_file,
)
from dwelltime.evaluation.metrics import Outcomes, average_precision, match
from dwelltime.evaluation.objects import make_objects
from dwelltime.footprints import footprint_corners
from dwelltime.synth import render_chip


@pytest.fixture
def trainer(script):
    return script("train_refiner")


def _perfect_detector(trainer, monkeypatch, polygons, heading) -> None:
    """Make the script's detector report exactly ``polygons`` (its own pixels) with ``heading``."""
    found = make_objects(polygons, heading_deg=heading, score=np.linspace(0.9, 0.5, len(heading)))
    monkeypatch.setattr(trainer, "predict_image", lambda *a, **k: found)


def _detector(tiny_model, classes) -> Detector:
    return Detector(tiny_model, classes=classes, device="cpu")


def test_candidates_are_aircraft_background_or_left_out_by_their_overlap(
    trainer, monkeypatch, tiny_model, classes
):
    image = np.zeros((3, 200, 200), np.uint8)
    image[:, 80:120, 82:118] = 255  # the aircraft: 40 × 36 px
    truth = footprint_corners(100, 100, 40, 36, 0.0)
    # on it; 70 px away (IoU 0); 20 px along it (IoU 1/3)
    cx, cy = np.array([100.0, 170.0, 100.0]), np.array([100.0, 100.0, 80.0])
    _perfect_detector(
        trainer, monkeypatch, footprint_corners(cx, cy, 40, 36, np.zeros(3)), np.zeros(3)
    )
    found, index = trainer.candidates(_detector(tiny_model, classes), image, 0.5, truth)
    assert found["aircraft"].tolist() == [1, 0, -1]
    assert index.tolist() == found["truth_id"].tolist() == [0, -1, -1]
    assert found["crops"].shape == (3, 3, 128, 128) and found["crops"].dtype == np.uint8
    centre = found["crops"][:, :, 64, 64].mean(1)
    assert centre[0] == 255 and centre[1] == 0  # crops cut at each candidate's centre


@pytest.mark.parametrize("gsd", [0.5, 2.0])
def test_chip_candidates_carry_the_types_and_sizes_of_their_aircraft(
    trainer, monkeypatch, tiny_model, classes, gsd
):
    rng = np.random.default_rng(3)
    chip = render_chip(
        rng, size_px=240, gsd_m=gsd, source_gsd_m=gsd, types=["IL62", "T204"], n_aircraft=(3, 3)
    )  # drawn at their source GSD, as the script draws chips
    labels = chip.labels
    polygons = np.array([lab.polygon_px for lab in labels])
    _perfect_detector(trainer, monkeypatch, polygons, np.array([lab.heading_deg for lab in labels]))
    found = trainer.chip_candidates(_detector(tiny_model, classes), chip, classes)
    difficult = np.array([lab.difficult for lab in labels])
    assert found["difficult"].tolist() == difficult.tolist()
    assert found["aircraft"].tolist() == np.where(difficult, -1, 1).tolist()
    expected = [
        classes.index(lab.type) if gsd <= 1.5 else classes.index("unknown") for lab in labels
    ]
    assert found["type_index"].tolist() == expected
    np.testing.assert_allclose(found["size_m"], [(lab.length_m, lab.wingspan_m) for lab in labels])


def test_truth_crops_carry_types_and_sizes_and_stay_out_of_the_aircraft_loss(trainer):
    catalog = load_catalog()
    classes = [*catalog, "unknown"]
    data = trainer.render_truth_crops((5, 0, 6, classes, 0.5))
    n = len(data["score"])
    assert n > 0 and data["crops"].shape == (n, 3, 128, 128) and data["crops"].any()
    assert (data["aircraft"] == -1).all() and (data["truth_id"] == -1).all()
    coarse = data["source_gsd_m"] > 1.5
    assert coarse.any() and not coarse.all()
    typed = data["type_index"]
    assert (typed[coarse] == classes.index("unknown")).all()
    for i, size in zip(typed[~coarse], data["size_m"][~coarse], strict=True):
        t = catalog[classes[i]]  # each crop's size is its type's
        np.testing.assert_allclose(size, (t.length_m, t.wingspan_m), rtol=0.01)
    again = trainer.render_truth_crops((5, 0, 6, classes, 0.5))
    assert np.array_equal(again["crops"], data["crops"])  # reproducible from the seed


def test_crops_left_out_of_the_aircraft_loss_do_not_move_it(trainer, classes):
    from dwelltime.detector.refine import RefinerConfig, TypeRefiner

    refiner = TypeRefiner(RefinerConfig(len(classes))).eval()
    args = trainer.parse_args(["--distill", "0", "--synthetic-only"])
    x, types = torch.rand(4, 3, 128, 128), torch.tensor([0, 1, -1, -1])
    size = torch.full((4, 2), float("nan"))
    judged = torch.tensor([1.0, 0.0, -1.0, -1.0])
    terms = trainer.loss_terms(refiner, x, types, size, judged, args)
    first_two = trainer.loss_terms(refiner, x[:2], types[:2], size[:2], judged[:2], args)
    torch.testing.assert_close(terms[3], first_two[3])  # the BCE of the judged crops only
    none = trainer.loss_terms(refiner, x[2:], types[2:], size[2:], judged[2:], args)
    assert float(none[3].detach()) == 0.0


def test_ap50_counts_candidates_as_evaluate_matches_detections(trainer):
    # truths 0-2 count, truth 3 is difficult; candidate 1 is a duplicate of truth 0
    truth_id = np.array([0, 0, 1, -1, 3, 2])
    score = np.array([0.9, 0.8, 0.3, 0.7, 0.6, 0.2])
    data = {
        "truth_id": truth_id,
        "difficult": truth_id == 3,
        "source_gsd_m": np.full(6, 0.5),
        "truth_gsd_m": np.full(3, 0.5),
    }
    iou = np.zeros((6, 4))
    iou[truth_id >= 0, truth_id[truth_id >= 0]] = 0.9
    matching = match(iou, score, difficult=np.array([False, False, False, True]))
    expected = average_precision(Outcomes.pool([(score, matching, 3)]))
    assert trainer.ap50(data, score) == pytest.approx(expected)
    assert trainer.ap50(data, score, (1.0, 3.0)) != trainer.ap50(data, score)  # no truth there


def test_a_refiner_without_the_aircraft_output_is_widened(trainer, tmp_path, classes):
    model = build_detector(num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True)
    card = {"created": "2026-01-01T00:00:00+00:00", "classes": classes, "gsd_m": 0.5}
    path = save_weights(model, tmp_path, arch="tiny", data="test", card=card)
    state, k = load_file(str(path)), len(classes)
    for name in ("refiner.net.classifier.3.weight", "refiner.net.classifier.3.bias"):
        state[name] = state[name][: k + 2].contiguous()  # as weights of 2026-11-26 were
    save_file(state, str(path), metadata={"format": CARD_FORMAT})
    full = json.loads(card_path(path).read_text())
    card_path(path).write_text(json.dumps({**full, "sha256": sha256_file(path)}))
    widened, _ = trainer.load_base(path)
    crops = torch.rand(4, 3, 128, 128)
    before, after = model.refiner.eval(), widened.refiner.eval()
    with torch.no_grad():
        head = before.net.classifier[-1]
        head.weight[k + 2], head.bias[k + 2] = 0.0, 0.0
        for a, b in zip(before(crops), after(crops), strict=True):
            torch.testing.assert_close(a, b)
    assert torch.equal(after(crops)[2], torch.zeros(4))  # p = 0.5 until trained


def _train(trainer, base: Path, tmp_path: Path, *extra: str) -> dict:
    args = trainer.parse_args(
        ["--base", str(base), "--chips", "4", "--val-chips", "3", "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--threads", "1", "--synthetic-only",
         "--work-dir", str(tmp_path / "work"), "--models-dir", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    trainer.train(args)
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    return weights, json.loads(card_path(weights).read_text())


@pytest.fixture
def synthetic_base(tmp_path) -> Path:
    """The shipped weights under a synthetic-only name (so ``--synthetic-only`` accepts them)."""
    source = default_weights()
    folder = tmp_path / "base"
    folder.mkdir()
    path = folder / source.name.replace("synth-airbus", "synth")
    path.write_bytes(source.read_bytes())
    card_path(path).write_text(card_path(source).read_text())
    return path


@pytest.mark.parametrize("extra", [(), ("--continue",)])
def test_training_writes_weights_that_verify_and_load(trainer, tmp_path, synthetic_base, extra):
    weights, card = _train(trainer, synthetic_base, tmp_path, *extra)
    assert card["model"]["refiner"] is True
    assert card["refiner"]["base_weights"] == synthetic_base.name
    assert card["refiner"]["command"].startswith("python scripts/train_refiner.py --seed")
    assert ("continues" in card["refiner"]) == bool(extra)
    assert len(card["refiner"]["history"]) == 1
    assert card["decode"]["verify_weight"] in trainer.VERIFY_WEIGHTS
    assert card["decode"]["candidate_threshold"] == trainer.CANDIDATE_FLOOR
    detector = load_detector(weights, device="cpu")
    assert detector.decode_config.verify_weight == card["decode"]["verify_weight"]
    before, after = load_file(str(synthetic_base)), load_file(str(weights))
    norms = [k for k in before if k.startswith("refiner.") and k.endswith("running_mean")]
    kept = [torch.equal(before[k], after[k]) for k in norms]
    assert norms and all(kept) == bool(extra)  # a fine-tune keeps the base's statistics
    assert len(sorted((tmp_path / "work").glob("candidates_*.npz"))) == 2  # cached for next time


def test_type_chips_train_on_cached_truth_crops_and_say_so(trainer, tmp_path, synthetic_base):
    _, card = _train(
        trainer, synthetic_base, tmp_path, "--continue", "--type-chips", "2", "--type-seeds", "5"
    )
    assert (tmp_path / "work" / "crops_seed5_chips2.npz").exists()
    assert "--type-chips 2 --type-seeds 5" in card["refiner"]["command"]
    assert "crops of every aircraft of 2 chips per seed 5" in card["refiner"]["data"]


def test_continue_needs_a_refiner_in_the_base(trainer, tmp_path, tiny_weights):
    with pytest.raises(SystemExit, match="carries no refiner"):
        _train(trainer, tiny_weights, tmp_path, "--continue")


def test_synthetic_only_refuses_a_base_trained_on_real_images(trainer, tmp_path):
    with pytest.raises(SystemExit, match="Airbus"):
        _train(trainer, default_weights(), tmp_path)


def test_airbus_candidates_on_a_coarse_copy_scale_the_boxes(trainer, monkeypatch, tmp_path):
    from PIL import Image

    from dwelltime.detector.datasets import BoxImage

    Image.fromarray(np.full((200, 160, 3), 90, np.uint8)).save(tmp_path / "a.png")
    item = BoxImage(tmp_path / "a.png", "S01", np.array([[40.0, 80, 120, 120]]), np.zeros((0, 4)))
    seen = []
    monkeypatch.setattr(
        trainer,
        "candidates",
        lambda det, rgb, gsd, truth, **kw: seen.append((rgb, gsd, truth)) or ({}, None),
    )
    trainer.airbus_candidates(None, item)
    trainer.airbus_candidates(None, item, coarse_gsd_m=2.0)
    (sharp, g0, t0), (coarse, g1, t1) = seen
    assert sharp.shape == (3, 200, 160) and g0 == 0.5
    assert coarse.shape == (3, 50, 40) and g1 == 2.0
    np.testing.assert_allclose(t1, t0 / 4)
