"""Detection on a plain image with no georeference (``dwelltime detect --gsd``, and
``dwelltime evaluate`` on any image): resampled to the model GSD, tiled, pixel frame.

The tiles' transform maps tile pixels to (column, row) of the *original* image (rows going
down), so detections come back in the original image's pixels while lengths stay in metres.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from affine import Affine
from PIL import Image

from dwelltime.detector.predict import Detector, detect_tiles
from dwelltime.tiling import Tile, TileSpec, tile_windows

if TYPE_CHECKING:
    import geopandas as gpd


def model_shape(shape: tuple[int, ...], gsd_m: float, model_gsd_m: float) -> tuple[int, int]:
    """(H, W) pixels of an image of ``shape`` (H, W, ...) at ``gsd_m`` metres/pixel once
    resampled to ``model_gsd_m``."""
    factor = gsd_m / model_gsd_m
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))


def resample_to_gsd(image: np.ndarray, gsd_m: float, model_gsd_m: float) -> np.ndarray:
    """(H, W, 3) uint8 image at ``gsd_m`` metres/pixel resampled to ``model_gsd_m``
    (bicubic, antialiased when shrinking)."""
    h, w = model_shape(image.shape, gsd_m, model_gsd_m)
    if (h, w) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))


def _windows(h: int, w: int, spec: TileSpec) -> list[tuple[float, float, float, float]]:
    """Tile windows over an (h, w) image at ``spec.gsd_m``, in metres from its corner."""
    return tile_windows((0.0, 0.0, w * spec.gsd_m, h * spec.gsd_m), spec)


def pixel_tile_count(shape: tuple[int, ...], *, gsd_m: float, spec: TileSpec) -> int:
    """How many tiles :func:`pixel_tiles` cuts from an image of ``shape`` (H, W, ...)."""
    return len(_windows(*model_shape(shape, gsd_m, spec.gsd_m), spec))


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
    for index, (x0, y0, _, _) in enumerate(_windows(h, w, spec)):
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


def detect_pixels(
    image: np.ndarray,
    detector: Detector,
    *,
    gsd_m: float | None,
    spec: TileSpec,
    scene_id: str,
    airport: str = "",
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
) -> gpd.GeoDataFrame:
    """Aircraft in an (H, W, 3) uint8 image of ``gsd_m`` metres/pixel: resampled to the
    detector's GSD, tiled by :func:`pixel_tiles`, detected and merged across tile overlaps
    (intersection-over-smaller, :func:`~dwelltime.detector.merge.merge_overlaps`).

    Returns :func:`~dwelltime.detector.predict.detect_tiles` rows with no CRS: ``x``, ``y``
    and footprints in (column, row) pixels of ``image``, sizes in metres. ``gsd_m=None``
    takes the image to be at the detector's GSD and leaves the source GSD unknown for typing.
    ``progress`` is called with the number of tiles finished after each batch.
    """
    tiles = pixel_tiles(
        image,
        gsd_m=detector.gsd_m if gsd_m is None else gsd_m,
        spec=spec,
        scene_id=scene_id,
        airport=airport,
    )
    return detect_tiles(
        tiles, detector, batch_size=batch_size, progress=progress, source_gsd_m=gsd_m
    )
