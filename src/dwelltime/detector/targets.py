"""Training targets: the dense maps the network should output, made from per-image labels.

Two kinds of label meet here: synthetic aircraft, whose centre, length, span, heading and type
are known, and real aircraft annotated only with an axis-aligned box (``box_w``, ``box_h``):
those supervise the centre and the box enclosing the predicted footprint, nothing else.
All coordinates are continuous tile pixels (0, 0 = top-left corner of the top-left pixel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: Most objects one training image may hold; extra ones are dropped (never reached in practice).
MAX_OBJECTS = 128


@dataclass(frozen=True)
class ImageLabels:
    """The aircraft in one training image, in tile pixels.

    Oriented labels give ``length_px``, ``span_px``, ``heading_deg`` (clockwise from image up)
    and ``type_index`` (-1: no type supervision); box labels give ``box_w``, ``box_h`` and NaN
    for the oriented fields. ``ignore_xyxy`` (Q, 4): regions where the heatmap is not
    supervised (truncated or hidden aircraft).
    """

    cx: np.ndarray
    cy: np.ndarray
    length_px: np.ndarray
    span_px: np.ndarray
    heading_deg: np.ndarray
    type_index: np.ndarray
    box_w: np.ndarray
    box_h: np.ndarray
    ignore_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    @classmethod
    def oriented(
        cls,
        cx: np.ndarray,
        cy: np.ndarray,
        length_px: np.ndarray,
        span_px: np.ndarray,
        heading_deg: np.ndarray,
        type_index: np.ndarray,
        ignore_xyxy: np.ndarray | None = None,
    ) -> ImageLabels:
        """Fully known aircraft (synthetic)."""
        n = len(cx)
        nan = np.full(n, np.nan)
        return cls(
            *(np.asarray(a, dtype=np.float64) for a in (cx, cy, length_px, span_px, heading_deg)),
            np.asarray(type_index, dtype=np.int64),
            nan,
            nan,
            _boxes(ignore_xyxy),
        )

    @classmethod
    def boxes(cls, xyxy: np.ndarray, ignore_xyxy: np.ndarray | None = None) -> ImageLabels:
        """Aircraft known only by their axis-aligned box (x0, y0, x1, y1) in pixels (real)."""
        xyxy = _boxes(xyxy)
        n = len(xyxy)
        nan = np.full(n, np.nan)
        return cls(
            (xyxy[:, 0] + xyxy[:, 2]) / 2,
            (xyxy[:, 1] + xyxy[:, 3]) / 2,
            nan,
            nan,
            nan,
            np.full(n, -1, dtype=np.int64),
            xyxy[:, 2] - xyxy[:, 0],
            xyxy[:, 3] - xyxy[:, 1],
            _boxes(ignore_xyxy),
        )


def _boxes(a: np.ndarray | None) -> np.ndarray:
    return np.zeros((0, 4)) if a is None else np.asarray(a, dtype=np.float64).reshape(-1, 4)


def heatmap_sigma(extent_px: np.ndarray, stride: int) -> np.ndarray:
    """Gaussian sigma (cells) of an aircraft's heatmap peak from its size (pixels)."""
    return np.maximum(0.8, 0.1 * extent_px / stride)


def encode_targets(labels: ImageLabels, *, size_px: tuple[int, int], stride: int) -> dict:
    """Dense targets for one image of ``size_px`` (H, W) at output ``stride``.

    Returns tensors: ``heatmap`` (h, w) in [0, 1], ``heatmap_weight`` (h, w) (0 in ignore
    regions), and per object (MAX_OBJECTS rows, ``mask`` marks the used ones): ``index`` (flat
    cell), ``offset`` (dx, dy in cells), ``log_size`` (log length, log span px), ``sincos`` and
    ``sincos2`` (of the heading and of twice the heading),
    ``type_index`` (-1 none), ``oriented`` (bool), ``box_wh`` (px, for box labels).
    """
    h, w = size_px[0] // stride, size_px[1] // stride
    heatmap = np.zeros((h, w), dtype=np.float32)
    weight = np.ones((h, w), dtype=np.float32)
    for x0, y0, x1, y1 in labels.ignore_xyxy:
        c0, r0 = int(max(0, np.floor(x0 / stride))), int(max(0, np.floor(y0 / stride)))
        c1, r1 = int(min(w, np.ceil(x1 / stride))), int(min(h, np.ceil(y1 / stride)))
        weight[r0:r1, c0:c1] = 0.0

    m = MAX_OBJECTS
    out = {
        "index": np.zeros(m, dtype=np.int64),
        "mask": np.zeros(m, dtype=bool),
        "offset": np.zeros((m, 2), dtype=np.float32),
        "log_size": np.zeros((m, 2), dtype=np.float32),
        "sincos": np.zeros((m, 2), dtype=np.float32),
        "sincos2": np.zeros((m, 2), dtype=np.float32),
        "type_index": np.full(m, -1, dtype=np.int64),
        "oriented": np.zeros(m, dtype=bool),
        "box_wh": np.ones((m, 2), dtype=np.float32),
    }
    oriented = np.isfinite(labels.length_px)
    extent = np.where(
        oriented,
        np.sqrt(np.nan_to_num(labels.length_px * labels.span_px)),
        np.sqrt(np.nan_to_num(labels.box_w * labels.box_h)),
    )
    sigmas = heatmap_sigma(extent, stride)
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    k = 0
    for i in range(len(labels.cx)):
        gx, gy = labels.cx[i] / stride, labels.cy[i] / stride
        col, row = int(np.floor(gx)), int(np.floor(gy))
        if not (0 <= col < w and 0 <= row < h) or k >= m:
            continue
        g = np.exp(-((cols - col) ** 2 + (rows - row) ** 2) / (2 * sigmas[i] ** 2))
        np.maximum(heatmap, g.astype(np.float32), out=heatmap)
        weight[row, col] = 1.0  # a labelled centre is always supervised
        out["index"][k] = row * w + col
        out["mask"][k] = True
        out["offset"][k] = (gx - col, gy - row)
        out["type_index"][k] = labels.type_index[i]
        if oriented[i]:
            out["oriented"][k] = True
            out["log_size"][k] = np.log((labels.length_px[i], labels.span_px[i]))
            rad = np.deg2rad(labels.heading_deg[i])
            out["sincos"][k] = (np.sin(rad), np.cos(rad))
            out["sincos2"][k] = (np.sin(2 * rad), np.cos(2 * rad))
        else:
            out["box_wh"][k] = (max(labels.box_w[i], 1.0), max(labels.box_h[i], 1.0))
        k += 1
    out["heatmap"] = heatmap
    out["heatmap_weight"] = weight
    return {name: torch.from_numpy(a) for name, a in out.items()}
