"""Anti-aliased polygon rasterisation into small windows of a larger canvas.

Coordinates are continuous pixel coordinates (col, row) with pixel ``(i, j)`` covering
``[i, i+1) × [j, j+1)``, so a point at ``(0.5, 0.5)`` is the centre of the first pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw


def coverage(
    polygons: Sequence[np.ndarray],
    shape: tuple[int, int],
    *,
    supersample: int = 4,
    pad: int = 1,
    holes: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """Fractional pixel coverage of the union of ``polygons`` (each (N, 2) col/row pixels)
    minus the ``holes`` (rings cut out after all polygons are filled).

    Returns ``(alpha, (rows, cols))``: ``alpha`` float32 in [0, 1] for the window of the canvas
    of ``shape`` (height, width) given by the two slices, or ``None`` when nothing falls inside.
    """
    pts = np.concatenate(polygons)
    c0 = max(int(np.floor(pts[:, 0].min())) - pad, 0)
    r0 = max(int(np.floor(pts[:, 1].min())) - pad, 0)
    c1 = min(int(np.ceil(pts[:, 0].max())) + pad, shape[1])
    r1 = min(int(np.ceil(pts[:, 1].max())) + pad, shape[0])
    if c1 <= c0 or r1 <= r0:
        return None
    ss = supersample
    img = Image.new("L", ((c1 - c0) * ss, (r1 - r0) * ss), 0)
    draw = ImageDraw.Draw(img)
    offset = np.array([c0, r0], dtype=np.float64)
    for poly in polygons:
        local = (poly - offset) * ss - 0.5
        draw.polygon([tuple(p) for p in local.tolist()], fill=255)
    for ring in holes:
        local = (ring - offset) * ss - 0.5
        draw.polygon([tuple(p) for p in local.tolist()], fill=0)
    if ss > 1:
        img = img.reduce(ss)
    alpha = np.asarray(img, dtype=np.float32) * np.float32(1 / 255)
    return alpha, (slice(r0, r1), slice(c0, c1))


def blend(
    rgb: np.ndarray, alpha: np.ndarray, window: tuple[slice, slice], colour: np.ndarray
) -> None:
    """Paint ``colour`` (3,) or (h, w, 3) over ``rgb`` (H, W, 3) with ``alpha`` in ``window``."""
    view = rgb[window]
    a = alpha[..., None]
    view *= 1.0 - a
    view += a * colour
