"""Target encoding and decoding: a perfect network output decodes back to the labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dwelltime.detector.decode import DecodeConfig, decode
from dwelltime.detector.targets import MAX_OBJECTS, ImageLabels, encode_targets

SIZE = (128, 160)  # H, W pixels


def perfect_outputs(targets: dict, stride: int, num_classes: int) -> tuple:
    """The geometry and type maps a perfect network would output for these targets."""
    h, w = SIZE[0] // stride, SIZE[1] // stride
    heat = targets["heatmap"].clamp(1e-6, 1 - 1e-6)
    geometry = torch.zeros(1, 9, h, w)
    geometry[0, 0] = torch.log(heat / (1 - heat))
    types = torch.zeros(1, num_classes, h, w)
    for k in np.flatnonzero(targets["mask"].numpy()):
        r, c = divmod(int(targets["index"][k]), w)
        geometry[0, 1:3, r, c] = targets["offset"][k]
        geometry[0, 3:5, r, c] = targets["log_size"][k]
        geometry[0, 5:7, r, c] = targets["sincos"][k]
        geometry[0, 7:9, r, c] = targets["sincos2"][k]
        types[0, targets["type_index"][k], r, c] = 10.0
    return geometry, types


@pytest.mark.parametrize("stride", [4, 8])
def test_round_trip_recovers_centre_size_heading_type(stride):
    labels = ImageLabels.oriented(
        cx=[30.3, 110.9],
        cy=[40.6, 90.1],
        length_px=[60.0, 100.0],
        span_px=[50.0, 86.0],
        heading_deg=[10.0, 250.0],
        type_index=[2, 0],
    )
    targets = encode_targets(labels, size_px=SIZE, stride=stride)
    assert targets["heatmap"].shape == (SIZE[0] // stride, SIZE[1] // stride)
    assert int(targets["mask"].sum()) == 2
    geometry, types = perfect_outputs(targets, stride, num_classes=3)

    (det,) = decode(geometry, types, stride=stride)

    assert len(det) == 2
    order = np.argsort(det.cx)
    np.testing.assert_allclose(det.cx[order], [30.3, 110.9], atol=1e-3)
    np.testing.assert_allclose(det.cy[order], [40.6, 90.1], atol=1e-3)
    np.testing.assert_allclose(det.length_px[order], [60.0, 100.0], rtol=1e-4)
    np.testing.assert_allclose(det.span_px[order], [50.0, 86.0], rtol=1e-4)
    np.testing.assert_allclose(det.heading_deg[order], [10.0, 250.0], atol=1e-3)
    assert list(det.type_probs[order].argmax(1)) == [2, 0]
    assert np.all(det.score > 0.99)


def test_empty_labels_give_empty_targets_and_no_detections():
    targets = encode_targets(ImageLabels.boxes(np.zeros((0, 4))), size_px=SIZE, stride=4)
    assert not targets["mask"].any()
    assert float(targets["heatmap"].max()) == 0.0
    geometry, types = perfect_outputs(targets, 4, num_classes=3)
    assert len(decode(geometry, types, stride=4)[0]) == 0


def test_box_labels_supervise_centre_and_box_only():
    targets = encode_targets(
        ImageLabels.boxes([[10, 20, 70, 60]], ignore_xyxy=[[100, 0, 160, 40]]),
        size_px=SIZE,
        stride=4,
    )
    k = 0
    assert targets["mask"][k] and not targets["oriented"][k]
    assert int(targets["type_index"][k]) == -1
    np.testing.assert_allclose(targets["box_wh"][k], [60, 40])
    assert int(targets["index"][k]) == (40 // 4) * (SIZE[1] // 4) + 40 // 4
    assert float(targets["heatmap_weight"][0:10, 25:40].max()) == 0.0  # ignore region
    assert float(targets["heatmap_weight"][20:, :20].min()) == 1.0
    assert targets["index"].shape == (MAX_OBJECTS,)


def test_centres_outside_the_image_are_not_encoded():
    labels = ImageLabels.oriented([-5.0, 170.0], [10.0, 10.0], [40, 40], [40, 40], [0, 0], [0, 0])
    assert not encode_targets(labels, size_px=SIZE, stride=4)["mask"].any()


def test_decode_threshold_and_nms_keep_one_peak_per_aircraft():
    geometry = torch.full((2, 9, 16, 16), -10.0)
    geometry[:, 1:3] = 0.0  # centred in the cell
    geometry[:, 3:5] = np.log(40.0)
    geometry[:, 6] = 1.0  # heading 0
    geometry[:, 8] = 1.0
    geometry[0, 0, 5, 5] = 3.0  # one strong peak
    geometry[0, 0, 5, 7] = 2.0  # a second peak 8 px away: same aircraft for NMS
    geometry[1, 0, 10, 10] = -0.5  # below threshold (score 0.38 < 0.5)
    types = torch.zeros(2, 3, 16, 16)
    dets = decode(geometry, types, stride=4, config=DecodeConfig(score_threshold=0.5))
    assert [len(d) for d in dets] == [1, 0]
    assert dets[0].cx[0] == pytest.approx(20.0)
    np.testing.assert_allclose(dets[0].type_probs.sum(1), 1.0, rtol=1e-6)
