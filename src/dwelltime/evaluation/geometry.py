"""Intersection over union of oriented rectangles given as (N, 4, 2) corner arrays (built and
read by :mod:`dwelltime.footprints`)."""

from __future__ import annotations

import numpy as np
import shapely


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
