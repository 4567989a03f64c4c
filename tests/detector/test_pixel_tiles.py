"""Tiles of plain images: resampling to the model GSD and the pixel-frame transform."""

from __future__ import annotations

import numpy as np
import pytest

from dwelltime.detector.pixels import pixel_tile_count, pixel_tiles, resample_to_gsd
from dwelltime.tiling import TileSpec


def test_resample_to_model_gsd():
    image = np.zeros((200, 300, 3), np.uint8)
    assert resample_to_gsd(image, 0.25, 0.5).shape == (100, 150, 3)
    assert resample_to_gsd(image, 0.5, 0.5) is image


def test_tiles_cover_the_image_and_map_back_to_original_pixels():
    image = np.zeros((200, 300, 3), np.uint8)
    image[100:104, 200:204] = 255  # a marker at original pixel (200, 100)
    spec = TileSpec(gsd_m=0.5, size_px=64, overlap_px=16)
    tiles = list(pixel_tiles(image, gsd_m=0.25, spec=spec, scene_id="a"))
    assert {t.image.shape for t in tiles} == {(3, 64, 64)}
    assert pixel_tile_count(image.shape, gsd_m=0.25, spec=spec) == len(tiles) > 1
    assert [t.index for t in tiles] == list(range(len(tiles)))
    covered = np.zeros((100, 150), bool)
    marked = 0  # tiles that hold the marker
    for t in tiles:
        assert t.transform.a == pytest.approx(2.0)  # one model pixel = 2 original pixels
        c0, r0 = round(t.transform.c / 2), round(t.transform.f / 2)
        covered[max(r0, 0) : r0 + 64, max(c0, 0) : c0 + 64] |= True
        bright = np.argwhere(t.image[0] > 100)
        if len(bright):
            col, row = t.transform @ (bright[:, 1].mean() + 0.5, bright[:, 0].mean() + 0.5)
            assert (col, row) == pytest.approx((202.0, 102.0), abs=1.0)
            marked += 1
    assert covered.all() and marked >= 1


def test_an_image_smaller_than_a_tile_is_padded_and_masked():
    (tile,) = pixel_tiles(
        np.full((40, 30, 3), 9, np.uint8),
        gsd_m=0.5,
        spec=TileSpec(size_px=64, overlap_px=0),
        scene_id="small",
    )
    assert tile.valid.sum() == 40 * 30
    assert tile.image[0][tile.valid].min() == 9 and tile.image[0][~tile.valid].max() == 0
