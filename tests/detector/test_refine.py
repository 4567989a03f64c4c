"""The refiner: nose-up crops, its type replacing the dense head's, weights with a refiner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import dwelltime.detector.predict as predict_module
from dwelltime.detector import DecodeConfig, Detector
from dwelltime.detector.model import build_detector
from dwelltime.detector.refine import (
    RefinerConfig,
    TypeRefiner,
    fuse_scores,
    log_size_target,
    nose_up_crops,
    size_from_log,
)
from dwelltime.detector.weights import default_weights, load_model, save_weights


def _marker_image(col: int, row: int) -> torch.Tensor:
    """(3, 200, 300) black image with a 10-pixel bright square centred on (col, row)."""
    image = torch.zeros(3, 200, 300)
    image[:, row - 5 : row + 5, col - 5 : col + 5] = 1.0
    return image


def _marker_in_crop(image: torch.Tensor, heading_deg: float) -> tuple[float, float]:
    """(row, col) of the marker in a 96 m crop at 1 m/px around pixel (150, 100), 0.5 m/px."""
    crop = nose_up_crops(
        image,
        torch.tensor([150.0]),
        torch.tensor([100.0]),
        torch.tensor([heading_deg]),
        gsd_m=0.5,
        crop_m=96.0,
        crop_px=96,
    )
    assert crop.shape == (1, 3, 96, 96)
    rows, cols = crop[0, 0].nonzero(as_tuple=True)
    return float(rows.float().mean()), float(cols.float().mean())


@pytest.mark.parametrize(
    ("heading", "marker"),
    [(0.0, (150, 60)), (90.0, (190, 100)), (180.0, (150, 140)), (270.0, (110, 100))],
)
def test_the_nose_points_up_in_the_crop(heading, marker):
    # the marker sits 40 px = 20 m ahead of the centre along the heading
    row, col = _marker_in_crop(_marker_image(*marker), heading)
    assert row == pytest.approx(48 - 20, abs=1.0)
    assert col == pytest.approx(48, abs=1.0)


def test_the_right_wing_is_on_the_right_of_the_crop():
    # heading 0 (nose up): the right wing points east (+col)
    row, col = _marker_in_crop(_marker_image(190, 100), 0.0)
    assert (row, col) == (pytest.approx(48, abs=1.0), pytest.approx(48 + 20, abs=1.0))


def test_outside_the_image_is_zero():
    crop = nose_up_crops(
        torch.ones(3, 50, 50), torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]),
        gsd_m=0.5, crop_m=40.0, crop_px=40,
    )  # fmt: skip
    assert crop[0, :, :15, :].abs().max() == 0  # above and left of the image corner
    assert crop[0, :, 25:, 25:].min() == 1


def test_a_batch_gives_the_crops_of_each_image_in_detection_order():
    images = torch.rand(3, 3, 60, 80)
    tile = torch.tensor([2, 0, 2, 2])  # image 1 has none
    cx, cy = torch.tensor([10.0, 40.0, 70.0, 30.0]), torch.tensor([20.0, 30.0, 40.0, 50.0])
    heading = torch.tensor([0.0, 45.0, 200.0, 315.0])
    crops = nose_up_crops(images, cx, cy, heading, tile=tile, gsd_m=0.5, crop_m=20.0, crop_px=24)
    assert crops.shape == (4, 3, 24, 24)
    for k in range(4):
        one = nose_up_crops(
            images[tile[k]], cx[k : k + 1], cy[k : k + 1], heading[k : k + 1],
            gsd_m=0.5, crop_m=20.0, crop_px=24,
        )  # fmt: skip
        torch.testing.assert_close(crops[k], one[0])
    none = nose_up_crops(images, cx[:0], cy[:0], heading[:0], tile=tile[:0], gsd_m=0.5)
    assert none.shape == (0, 3, 128, 128)


def test_size_encoding_round_trips():
    length, span = torch.tensor([53.12, 20.0]), torch.tensor([43.2, 25.5])
    torch.testing.assert_close(
        size_from_log(log_size_target(length, span)), torch.stack([length, span], -1)
    )


def test_refiner_outputs_one_row_per_crop():
    refiner = TypeRefiner(RefinerConfig(num_classes=3, crop_px=64)).eval()
    logits, log_size, aircraft = refiner(torch.rand(5, 3, 64, 64))
    assert logits.shape == (5, 3) and log_size.shape == (5, 2) and aircraft.shape == (5,)


def test_fused_score_is_a_weighted_geometric_mean():
    score, p = np.array([0.2, 0.9, 0.5]), np.array([0.8, 0.1, 0.5])
    np.testing.assert_allclose(fuse_scores(score, p, 0.0), score)
    np.testing.assert_allclose(fuse_scores(score, p, 1.0), p)
    np.testing.assert_allclose(fuse_scores(score, p, 0.5), np.sqrt(score * p))


def test_peaks_are_decoded_down_to_the_candidate_floor_only_when_verifying():
    assert DecodeConfig(score_threshold=0.3, candidate_threshold=0.1).peak_threshold == 0.3
    verifying = DecodeConfig(score_threshold=0.3, verify_weight=0.5, candidate_threshold=0.1)
    assert verifying.peak_threshold == 0.1
    assert dataclasses.replace(verifying, score_threshold=0.05).peak_threshold == 0.05


def _detector(model, classes, dims, **decode) -> Detector:
    return Detector(
        model,
        classes=classes,
        dimensions=dims,
        device="cpu",
        decode_config=DecodeConfig(**{"score_threshold": 0.0, "max_detections": 4, **decode}),
    )


def _refining_model(classes, *, type_index: int = 1, aircraft_logit: float = 0.0):
    """A tiny network whose refiner answers ``type_index``, 60 m and ``aircraft_logit`` for
    any crop."""
    torch.manual_seed(0)
    model = build_detector(
        num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True
    ).eval()
    last, k = model.refiner.net.classifier[-1], len(classes)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[type_index] = 20.0
        last.bias[k : k + 2] = float(np.log(60.0 / 40.0))
        last.bias[k + 2] = aircraft_logit
    return model


TILES = np.random.default_rng(0).integers(0, 255, (2, 3, 64, 64), dtype=np.uint8)


def test_detector_takes_the_type_from_the_refiner_and_the_size_from_the_dense_head(classes, dims):
    model = _refining_model(classes, type_index=1)
    refined = _detector(model, classes, dims).predict(TILES)
    model.refiner = None
    dense = _detector(model, classes, dims).predict(TILES)
    assert all(len(d) for d in refined)
    for r, d in zip(refined, dense, strict=True):
        assert (r.type_probs.argmax(1) == 1).all()
        np.testing.assert_allclose(r.type_probs.sum(1), 1.0, rtol=1e-5)
        assert not np.allclose(d.type_probs, r.type_probs)
        for field in ("cx", "cy", "length_px", "span_px", "heading_deg", "score"):
            np.testing.assert_allclose(getattr(r, field), getattr(d, field), rtol=1e-5)


@pytest.mark.parametrize("aircraft_logit", [-2.0, 0.0, 3.0])
def test_a_verifying_detector_weighs_the_aircraft_probability_into_the_score(
    classes, dims, aircraft_logit
):
    model = _refining_model(classes, aircraft_logit=aircraft_logit)
    p = 1 / (1 + np.exp(-aircraft_logit))
    dense = _detector(model, classes, dims).predict(TILES)
    fused = _detector(model, classes, dims, verify_weight=0.5).predict(TILES)
    for f, d in zip(fused, dense, strict=True):
        assert len(f) == len(d) > 0
        np.testing.assert_allclose(f.score, np.sqrt(d.score * p), rtol=1e-5)


def test_a_verifying_detector_drops_candidates_the_refiner_rejects(classes, dims):
    model = _refining_model(classes, aircraft_logit=-20.0)  # p ≈ 2e-9: nothing is an aircraft
    assert sum(map(len, _detector(model, classes, dims, score_threshold=0.01).predict(TILES)))
    verifying = _detector(
        model, classes, dims, score_threshold=0.01, verify_weight=0.5, candidate_threshold=0.0
    )
    assert not sum(map(len, verifying.predict(TILES)))


def test_the_refiner_looks_in_chunks_with_the_same_result(classes, dims, monkeypatch):
    torch.manual_seed(0)
    model = build_detector(
        num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True
    ).eval()
    whole = _detector(model, classes, dims, verify_weight=0.5).predict(TILES)
    assert sum(map(len, whole)) > 3
    monkeypatch.setattr(predict_module, "REFINER_CHUNK", 3)
    chunked = _detector(model, classes, dims, verify_weight=0.5).predict(TILES)
    for c, w in zip(chunked, whole, strict=True):
        for field in ("cx", "cy", "heading_deg", "type_probs", "score"):
            np.testing.assert_allclose(getattr(c, field), getattr(w, field), rtol=1e-4, atol=1e-6)


def test_verifying_needs_a_refiner(classes, dims):
    model = build_detector(num_classes=len(classes), width_mult=0.25, fpn_channels=8)
    with pytest.raises(ValueError, match="refiner"):
        _detector(model, classes, dims, verify_weight=0.5)


def test_weights_with_a_refiner_round_trip(tmp_path, classes):
    model = build_detector(num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True)
    card = {"created": "2026-01-01T00:00:00+00:00", "classes": classes, "gsd_m": 0.5}
    path = save_weights(model, tmp_path, arch="tiny", data="test", card=card)
    loaded, card = load_model(path)
    assert card["model"]["refiner"] is True and loaded.refiner is not None
    for name, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)


def test_the_look_reads_types_from_the_crop_and_its_mirror_image():
    torch.manual_seed(0)
    refiner = load_model(default_weights())[0].refiner.eval()
    crops = torch.rand(3, 3, 128, 128)
    crops[:, :, :, :40] = 0.0  # left-right asymmetric
    with torch.inference_mode():
        types, aircraft = refiner.look(crops)
        types_of_mirror, _ = refiner.look(crops.flip(-1))
        plain_types, _, plain_aircraft = refiner(crops)
    torch.testing.assert_close(types, types_of_mirror, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(aircraft, plain_aircraft, rtol=1e-4, atol=1e-5)
    assert (types - plain_types).abs().max() > 0.1  # the mirror image counted
