"""From dense network outputs to a list of aircraft per tile (batched, fp32)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms

from dwelltime.detector.geometry import enclosing_boxes, heading_from_axis


@dataclass
class TileDetections:
    """The aircraft found in one tile, in that tile's pixel coordinates (column, row).

    ``cx``, ``cy``, ``length_px``, ``span_px``, ``heading_deg`` (clockwise from image up,
    [0, 360)), ``score`` (heatmap peak, fused with the refiner's aircraft probability when the
    detector verifies, see :class:`DecodeConfig`; [0, 1]): (N,). ``type_probs`` (N, K): CNN
    type probabilities over ``Detector.classes`` (last ``unknown``), before any size prior;
    (N, 0) straight out of :func:`decode` without type logits, until the refiner fills them.
    """

    cx: np.ndarray
    cy: np.ndarray
    length_px: np.ndarray
    span_px: np.ndarray
    heading_deg: np.ndarray
    type_probs: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    @classmethod
    def empty(cls, num_classes: int) -> TileDetections:
        """No aircraft."""
        z = np.zeros(0, dtype=np.float32)
        return cls(z, z, z, z, z, np.zeros((0, num_classes), dtype=np.float32), z)


@dataclass(frozen=True)
class DecodeConfig:
    """Peak picking: ``score_threshold`` in [0, 1] on the final score; at most
    ``max_detections`` per tile; ``nms_iou``: IoU above which two enclosing boxes are one
    aircraft. ``verify_weight``: weight of the refiner's aircraft probability in the final
    score (:func:`~dwelltime.detector.refine.fuse_scores`; 0: the heatmap peak alone). When it
    is above 0, peaks down to ``candidate_threshold`` are decoded and kept where their fused
    score reaches ``score_threshold``."""

    score_threshold: float = 0.3
    max_detections: int = 100
    nms_iou: float = 0.5
    verify_weight: float = 0.0
    candidate_threshold: float = 0.1

    @property
    def peak_threshold(self) -> float:
        """The lowest heatmap peak decoded, [0, 1]."""
        if self.verify_weight > 0:
            return min(self.score_threshold, self.candidate_threshold)
        return self.score_threshold


def decode(
    geometry: torch.Tensor,
    type_logits: torch.Tensor | None,
    *,
    stride: int,
    config: DecodeConfig = DecodeConfig(),
) -> list[TileDetections]:
    """Decode a batch: ``geometry`` (B, 9, h, w), ``type_logits`` (B, K, h, w) or None (no
    type probabilities: K = 0) -> one :class:`TileDetections` per image. Always computed in
    float32."""
    geometry = geometry.float()
    b, _, h, w = geometry.shape
    if type_logits is None:
        type_logits = geometry.new_zeros((b, 0, h, w))
    heat = torch.sigmoid(geometry[:, 0])
    peaks = heat * (F.max_pool2d(heat[:, None], 3, stride=1, padding=1)[:, 0] == heat)
    k = min(config.max_detections, h * w)
    scores, index = peaks.reshape(b, -1).topk(k)
    flat = geometry.reshape(b, geometry.shape[1], -1)
    g = flat.gather(2, index[:, None].expand(b, flat.shape[1], k))  # (B, 9, k)
    t = type_logits.float().reshape(b, type_logits.shape[1], h * w)
    probs = t.gather(2, index[:, None].expand(b, t.shape[1], k)).softmax(1).permute(0, 2, 1)
    cx = ((index % w).float() + g[:, 1]) * stride
    cy = ((index // w).float() + g[:, 2]) * stride
    length, span = g[:, 3].clamp(max=8.0).exp(), g[:, 4].clamp(max=8.0).exp()
    heading = heading_from_axis(g[:, 7], g[:, 8], g[:, 5], g[:, 6])
    rad = torch.deg2rad(heading)

    sel = (scores >= config.peak_threshold).nonzero(as_tuple=True)
    boxes = enclosing_boxes(
        cx[sel], cy[sel], length[sel], span[sel], rad.sin()[sel], rad.cos()[sel]
    )
    kept = batched_nms(boxes, scores[sel], sel[0], config.nms_iou)
    rows, cols = sel[0][kept], sel[1][kept]
    # one transfer for the whole batch (image index exact in float32), then split per image
    fields = [f[rows, cols] for f in (cx, cy, length, span, heading, scores)]
    values = torch.cat([torch.stack([*fields, rows.float()]), probs[rows, cols].T]).cpu().numpy()
    image = values[6].astype(np.int64)
    order = np.lexsort((-values[5], image))  # by image, then by score (stable)
    bounds = np.searchsorted(image[order], np.arange(b + 1))
    out = []
    for i in range(b):
        v = values[:, order[bounds[i] : bounds[i + 1]]]
        out.append(
            TileDetections(
                cx=v[0],
                cy=v[1],
                length_px=v[2],
                span_px=v[3],
                heading_deg=v[4],
                type_probs=np.ascontiguousarray(v[7:].T),
                score=v[5],
            )
        )
    return out
