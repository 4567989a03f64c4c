"""Oriented rectangles as (N, 4, 2) corner arrays, and their intersection over union.

Corners go front-left, front-right, rear-right, rear-left of the aircraft (clockwise on screen
for pixel coordinates, where rows grow downwards), so the edge from corner 0 to corner 1 is the
nose side: the DOTA convention that the first point starts the object's head. Units are those of
the caller (pixels or metres); headings are degrees clockwise from up (image up or grid north).
"""

from __future__ import annotations

import numpy as np
import shapely


def footprint_corners(
    cx: np.ndarray,
    cy: np.ndarray,
    length: np.ndarray,
    span: np.ndarray,
    heading_deg: np.ndarray,
    *,
    y_down: bool = True,
) -> np.ndarray:
    """Corners (N, 4, 2) of rectangles `length` along the heading and `span` across it.

    ``y_down=True`` for pixel coordinates (col, row), ``False`` for map coordinates (x, y north).
    """
    h = np.radians(np.asarray(heading_deg, dtype=float))
    sin, cos = np.sin(h), np.cos(h)
    fwd = np.stack([sin, -cos if y_down else cos], axis=-1)
    right = np.stack([cos, sin if y_down else -sin], axis=-1)
    centre = np.stack([np.asarray(cx, float), np.asarray(cy, float)], axis=-1)
    half_l = np.asarray(length, float)[:, None] / 2
    half_s = np.asarray(span, float)[:, None] / 2
    return np.stack(
        [
            centre + fwd * half_l - right * half_s,
            centre + fwd * half_l + right * half_s,
            centre - fwd * half_l + right * half_s,
            centre - fwd * half_l - right * half_s,
        ],
        axis=1,
    )


def corner_attributes(
    corners: np.ndarray, *, y_down: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`footprint_corners`: ``(cx, cy, length, span, heading_deg)``.

    Length is the mean of the side edges (1→2, 3→0), span the mean of the front and rear edges;
    the heading points from the centre to the middle of the front edge (0→1), in [0, 360).
    """
    c = np.asarray(corners, dtype=float).reshape(-1, 4, 2)
    centre = c.mean(axis=1)
    side = (
        np.linalg.norm(c[:, 2] - c[:, 1], axis=1) + np.linalg.norm(c[:, 0] - c[:, 3], axis=1)
    ) / 2
    front = (
        np.linalg.norm(c[:, 1] - c[:, 0], axis=1) + np.linalg.norm(c[:, 3] - c[:, 2], axis=1)
    ) / 2
    nose = (c[:, 0] + c[:, 1]) / 2 - centre
    dy = -nose[:, 1] if y_down else nose[:, 1]
    heading = np.degrees(np.arctan2(nose[:, 0], dy)) % 360.0
    return centre[:, 0], centre[:, 1], side, front, heading


def axis_aligned(corners: np.ndarray) -> np.ndarray:
    """The axis-aligned box (N, 4, 2) that encloses each polygon, same corner count."""
    c = np.asarray(corners, dtype=float).reshape(-1, 4, 2)
    lo, hi = c.min(axis=1), c.max(axis=1)
    return np.stack(
        [lo, np.stack([hi[:, 0], lo[:, 1]], -1), hi, np.stack([lo[:, 0], hi[:, 1]], -1)], axis=1
    )


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union (N, M) of polygons ``a`` (N, K, 2) and ``b`` (M, K, 2).

    Only pairs whose bounding boxes overlap go to shapely; degenerate polygons give 0.
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4, 2)
    b = np.asarray(b, dtype=float).reshape(-1, 4, 2)
    out = np.zeros((len(a), len(b)))
    if len(a) == 0 or len(b) == 0:
        return out
    lo_a, hi_a, lo_b, hi_b = a.min(1), a.max(1), b.min(1), b.max(1)
    overlap = np.all(
        (lo_a[:, None, :] < hi_b[None, :, :]) & (lo_b[None, :, :] < hi_a[:, None, :]), axis=-1
    )
    i, j = np.nonzero(overlap)
    if len(i) == 0:
        return out
    pa, pb = shapely.make_valid(shapely.polygons(a)), shapely.make_valid(shapely.polygons(b))
    inter = shapely.area(shapely.intersection(pa[i], pb[j]))
    union = shapely.area(pa)[i] + shapely.area(pb)[j] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out[i, j] = np.where(union > 0, inter / union, 0.0)
    return out
