"""Training samples: real crops with boxes, rotations, synthetic chip labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dwelltime.detector.datasets import (
    BoxCrops,
    crop_boxes,
    flip_rotate,
    read_airbus,
    synthetic_labels,
)


def test_crop_keeps_mostly_inside_boxes_and_ignores_cut_ones():
    boxes = np.array([[10, 10, 30, 30], [90, 10, 130, 30], [200, 200, 220, 220]], float)
    keep, ignore = crop_boxes(boxes, 0, 0, 100)
    np.testing.assert_allclose(keep, [[10, 10, 30, 30]])
    np.testing.assert_allclose(ignore, [[90, 10, 100, 30]])  # 25 % inside: ignored


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_boxes_follow_the_pixels_when_rotated_and_flipped(k, flip):
    image = np.zeros((64, 64, 3), np.uint8)
    image[5:15, 40:60] = 255  # a bright box x 40..60, y 5..15
    out, (box,) = flip_rotate(image, [np.array([[40.0, 5.0, 60.0, 15.0]])], k, flip)
    rows, cols = np.nonzero(out[..., 0])
    np.testing.assert_allclose(box[0], [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])


def test_synthetic_labels_from_a_chip(classes):
    from dwelltime.synth import render_chip

    def chip(seed: int, clouds: float):
        return render_chip(
            np.random.default_rng(seed),
            size_px=128,
            source_gsd_m=0.5,
            types=["IL62"],
            n_aircraft=(1, 1),
            cloud_probability=clouds,
        )

    labels = synthetic_labels(chip(1, 0.0), classes)
    assert list(labels.type_index) == [0]
    assert labels.length_px[0] == pytest.approx(53.12 / 0.5)
    hidden = chip(1, 1.0)
    assert hidden.labels[0].hidden  # under cloud: not a target, an ignore region
    labels = synthetic_labels(hidden, classes)
    assert len(labels.cx) == 0 and len(labels.ignore_xyxy) == 1


def test_real_crops_from_a_tiny_airbus_folder(tmp_path):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "sites.csv").write_text("image,site_id\na.jpg,S01\n")
    (tmp_path / "annotations.csv").write_text(
        'id,image_id,geometry,class\n1,a.jpg,"[(20, 20), (60, 20), (60, 50), (20, 50), (20, 20)]"'
        ",Airplane\n"
    )
    (item,) = read_airbus(tmp_path)
    assert item.site == "S01" and item.boxes.tolist() == [[20, 20, 60, 50]]
    image, targets = BoxCrops([item], seed=0, size_px=64, stride=4).sample(np.random.default_rng(0))
    assert image.shape == (3, 64, 64)
    assert int(targets["mask"].sum()) + float((targets["heatmap_weight"] == 0).sum()) > 0


def test_coarse_crops_blur_the_pixels_and_keep_the_labels(tmp_path):
    (tmp_path / "images").mkdir()
    checker = (np.indices((96, 96)).sum(0) % 2 * 255).astype(np.uint8)  # 1-pixel detail
    Image.fromarray(np.repeat(checker[..., None], 3, 2)).save(tmp_path / "images" / "a.png")
    (tmp_path / "sites.csv").write_text("image,site_id\na.png,S01\n")
    (tmp_path / "annotations.csv").write_text(
        'id,image_id,geometry,class\n1,a.png,"[(20, 20), (60, 20), (60, 50), (20, 50), (20, 20)]"'
        ",Airplane\n"
    )
    (item,) = read_airbus(tmp_path)

    def sample(share: float):
        crops = BoxCrops([item], seed=0, size_px=64, stride=4, coarse_share=share)
        return crops.sample(np.random.default_rng(0))

    sharp, coarse = sample(0.0), sample(1.0)
    assert sharp[0].float().std() > 100  # the checkerboard as is
    assert coarse[0].float().std() < 20  # 1-3 m: the 0.5 m detail is gone
    for name, target in sharp[1].items():
        assert torch.equal(target, coarse[1][name]), name
    default = BoxCrops([item], seed=0, size_px=64, stride=4).sample(np.random.default_rng(0))
    assert torch.equal(default[0], sharp[0])  # share 0 draws nothing: old streams unchanged


def test_zoomed_out_crops_shrink_the_aircraft_with_their_boxes(tmp_path):
    (tmp_path / "images").mkdir()
    pixels = np.full((256, 256, 3), 90, np.uint8)
    pixels[100:130, 100:140] = 250  # a bright 40 x 30 px "aircraft"
    Image.fromarray(pixels).save(tmp_path / "images" / "a.png")
    (tmp_path / "sites.csv").write_text("image,site_id\na.png,S01\n")
    (tmp_path / "annotations.csv").write_text(
        'id,image_id,geometry,class\n1,a.png,"[(100, 100), (140, 100), (140, 130), (100, 130), '
        '(100, 100)]",Airplane\n'
    )
    (item,) = read_airbus(tmp_path)
    crops = BoxCrops([item], seed=0, size_px=64, stride=4, zoom_out_share=1.0)
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(20):
        image, targets = crops.sample(rng)
        assert image.shape == (3, 64, 64)
        inside = (image[0] > 170).nonzero()  # the shrunk aircraft's pixels, (row, col)
        for w, h in targets["box_wh"][targets["mask"]].tolist():
            if inside[:, 1].min() > 0 and inside[:, 1].max() < 63 and inside[:, 0].min() > 0:
                if inside[:, 0].max() < 63:  # wholly in the crop: the box fits its pixels
                    extent = (inside.max(0).values - inside.min(0).values + 1).tolist()
                    assert abs(extent[1] - w) <= 2 and abs(extent[0] - h) <= 2
                    sizes.append(sorted((w, h)))
    assert sizes, "no crop held the whole aircraft"
    for short, long in sizes:  # 30 x 40 px shrunk 1.4-2.5 times
        assert 30 / 2.5 - 1 <= short <= 30 / 1.4 + 1 and 40 / 2.5 - 1 <= long <= 40 / 1.4 + 1
