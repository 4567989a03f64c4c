"""Tiles of a plain image with no georeference: resampled to the model GSD, pixel frame.

The tiles' transform maps tile pixels to (column, row) of the *original* image (rows going
down), so detections come back in the original image's pixels while lengths stay in metres.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from affine import Affine
from PIL import Image

from dwelltime.tiling import Tile, TileSpec, tile_windows


def resample_to_gsd(image: np.ndarray, gsd_m: float, model_gsd_m: float) -> np.ndarray:
    """(H, W, 3) uint8 image at ``gsd_m`` metres/pixel resampled to ``model_gsd_m``
    (antialiased when shrinking)."""
    factor = gsd_m / model_gsd_m
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def pixel_tiles(
    image: np.ndarray, *, gsd_m: float, spec: TileSpec, scene_id: str, airport: str = ""
) -> Iterator[Tile]:
    """Square tiles of an (H, W, 3) uint8 image whose pixels are ``gsd_m`` metres, resampled
    to ``spec.gsd_m``; parts of a tile beyond the image are zero and not ``valid``.
    ``acquired`` is NaT and ``crs`` empty."""
    model = resample_to_gsd(image, gsd_m, spec.gsd_m)
    h, w = model.shape[:2]
    sx, sy = image.shape[1] / w, image.shape[0] / h  # original pixels per model pixel
    size = spec.size_px
    windows = tile_windows((0.0, 0.0, w * spec.gsd_m, h * spec.gsd_m), spec)
    for index, (x0, y0, _, _) in enumerate(windows):
        col0, row0 = round(x0 / spec.gsd_m), round(y0 / spec.gsd_m)
        tile = np.zeros((size, size, 3), np.uint8)
        valid = np.zeros((size, size), bool)
        src = model[max(row0, 0) : row0 + size, max(col0, 0) : col0 + size]
        r, c = max(-row0, 0), max(-col0, 0)
        tile[r : r + src.shape[0], c : c + src.shape[1]] = src
        valid[r : r + src.shape[0], c : c + src.shape[1]] = True
        yield Tile(
            scene_id=scene_id,
            airport=airport,
            acquired=pd.NaT,
            index=index,
            crs="",
            transform=Affine(sx, 0.0, col0 * sx, 0.0, sy, row0 * sy),
            image=np.ascontiguousarray(tile.transpose(2, 0, 1)),
            valid=valid,
        )
