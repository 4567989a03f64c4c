"""Run a detector over a whole image of any size and GSD, detections back in its pixels.

The image is resampled to the detector's GSD, cut into square tiles overlapping by
``overlap_px`` (edge tiles shifted inward; an image smaller than a tile is zero-padded), and
each detection is kept only by the tile whose centre is nearest to the detection's centre
(core stitching), so an aircraft in an overlap is counted once, by the tile that sees it whole.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dwelltime.evaluation.geometry import footprint_corners
from dwelltime.evaluation.objects import Objects, concat_objects, make_objects

#: score floor of the detector's peak picking while evaluating, so AP sees the whole PR curve
AP_SCORE_FLOOR = 0.05
#: operating threshold when the model card names none
DEFAULT_SCORE_THRESHOLD = 0.5


def shipped_threshold(weights: Path | None) -> tuple[float, str]:
    """The score threshold the model card ships, and where it came from.

    The card's ``score_threshold``, else its ``decode.score_threshold`` (the peak-picking
    floor the pipeline reports at), else :data:`DEFAULT_SCORE_THRESHOLD`.
    """
    from dwelltime.detector.weights import default_weights, read_card

    path = default_weights() if weights is None else Path(weights)
    card = read_card(path)
    if "score_threshold" in card:
        return float(card["score_threshold"]), f"model card {path.name}"
    if "score_threshold" in card.get("decode", {}):
        return float(card["decode"]["score_threshold"]), f"model card {path.name}, decode floor"
    return DEFAULT_SCORE_THRESHOLD, f"default: model card {path.name} names none"


def lower_score_floor(detector: object, floor: float = AP_SCORE_FLOOR) -> None:
    """Let the detector report peaks down to ``floor`` (it keeps a lower floor it has)."""
    cfg = detector.decode_config  # type: ignore[attr-defined]
    if cfg.score_threshold > floor:
        detector.decode_config = dataclasses.replace(cfg, score_threshold=floor)  # type: ignore[attr-defined]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets (pixels) of tiles covering ``length``; the last one shifted inward."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def predict_image(
    detector: object,
    image: np.ndarray,
    gsd_m: float,
    *,
    tile_px: int = 512,
    overlap_px: int = 128,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Objects:
    """Detections on ``image`` (3, H, W) uint8 of ``gsd_m`` metres per pixel (NaN: taken to be
    the detector's GSD), as :class:`Objects` in the image's pixels with sizes in metres.

    Types come from ``detector.assign_types`` (CNN probabilities × size prior, with ``gsd_m``
    as the source GSD), as in the pipeline. ``progress(done, total)`` is called after each
    batch of tiles.
    """
    model_gsd = float(detector.gsd_m)  # type: ignore[attr-defined]
    scale = gsd_m / model_gsd if math.isfinite(gsd_m) else 1.0
    work = _resample(image, scale)
    _, h, w = work.shape
    rows, cols = tile_starts(h, tile_px, overlap_px), tile_starts(w, tile_px, overlap_px)
    windows = [(r, c) for r in rows for c in cols]
    centres_r = np.array(rows) + min(tile_px, h) / 2
    centres_c = np.array(cols) + min(tile_px, w) / 2
    source_gsd = gsd_m if math.isfinite(gsd_m) else None
    parts: list[Objects] = []
    for first in range(0, len(windows), batch_size):
        chunk = windows[first : first + batch_size]
        batch = np.zeros((len(chunk), 3, tile_px, tile_px), np.uint8)
        for k, (r, c) in enumerate(chunk):
            piece = work[:, r : r + tile_px, c : c + tile_px]
            batch[k, :, : piece.shape[1], : piece.shape[2]] = piece
        for (r, c), det in zip(chunk, detector.predict(batch), strict=True):  # type: ignore[attr-defined]
            cx, cy = np.asarray(det.cx, float) + c, np.asarray(det.cy, float) + r
            own = (
                (np.abs(centres_r[:, None] - cy).argmin(0) == rows.index(r))
                & (np.abs(centres_c[:, None] - cx).argmin(0) == cols.index(c))
                & (cx < w)  # not in the zero padding of a small image
                & (cy < h)
            )
            if not own.any():
                continue
            length_m = np.asarray(det.length_px, float) * model_gsd
            span_m = np.asarray(det.span_px, float) * model_gsd
            types, _ = detector.assign_types(det, length_m, span_m, source_gsd)  # type: ignore[attr-defined]
            corners = footprint_corners(
                cx[own], cy[own], det.length_px[own], det.span_px[own], det.heading_deg[own]
            )
            parts.append(
                make_objects(
                    corners / scale,
                    types=[str(t) for t in np.asarray(types)[own]],
                    length_m=length_m[own],
                    span_m=span_m[own],
                    heading_deg=np.asarray(det.heading_deg, float)[own],
                    score=np.asarray(det.score, float)[own],
                )
            )
        if progress is not None:
            progress(min(first + batch_size, len(windows)), len(windows))
    return concat_objects(parts)


def _resample(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` (3, H, W) uint8 resized by ``scale`` (bilinear, antialiased when shrinking)."""
    if abs(scale - 1.0) < 1e-6:
        return image
    import torch
    import torch.nn.functional as F

    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale)))
    x = torch.from_numpy(np.ascontiguousarray(image)).float()[None]
    y = F.interpolate(x, size=size, mode="bilinear", antialias=scale < 1, align_corners=False)
    return y[0].round().clamp(0, 255).to(torch.uint8).numpy()
