"""Training losses of the oriented centre-point detector."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dwelltime.detector.geometry import axis_direction, cross_half_extents

#: Weights of the loss terms, in the order they are reported.
LOSS_WEIGHTS: dict[str, float] = {
    "heatmap": 1.0,
    "offset": 1.0,
    "size": 1.0,
    "axis": 1.0,
    "heading": 1.0,
    "box": 1.0,
    "type": 0.5,
}


def focal_heatmap_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by the number of
    peaks. ``logits``, ``target``, ``weight``: (B, h, w)."""
    logits = logits.float()
    pos = target.eq(1).float()
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    pos_loss = -(log_p * (1 - p) ** 2 * pos)
    neg_loss = -(log_not_p * p**2 * (1 - target) ** 4 * (1 - pos))
    n = pos.sum().clamp(min=1.0)
    return ((pos_loss + neg_loss) * weight).sum() / n


def _gather(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w), (B, M) flat cell indices -> (B, M, C)."""
    b, c = maps.shape[:2]
    flat = maps.reshape(b, c, -1)
    return flat.gather(2, index.unsqueeze(1).expand(b, c, index.shape[1])).permute(0, 2, 1)


def detector_loss(
    geometry: torch.Tensor, type_logits: torch.Tensor, targets: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """All loss terms (each a scalar) and their weighted sum under ``"total"``.

    ``geometry`` (B, 9, h, w), ``type_logits`` (B, K, h, w): network outputs; ``targets``: a
    batch of :func:`dwelltime.detector.targets.encode_targets` results (stacked).
    """
    geometry, type_logits = geometry.float(), type_logits.float()
    mask = targets["mask"]
    oriented = mask & targets["oriented"]
    boxed = mask & ~targets["oriented"]
    typed = mask & (targets["type_index"] >= 0)
    g = _gather(geometry, targets["index"])  # (B, M, 7)
    zero = geometry.sum() * 0.0

    def masked_mean(values: torch.Tensor, sel: torch.Tensor) -> torch.Tensor:
        return values[sel].mean() if sel.any() else zero

    axis_sin, axis_cos = axis_direction(g[..., 7], g[..., 8])
    terms = {
        "heatmap": focal_heatmap_loss(
            geometry[:, 0], targets["heatmap"], targets["heatmap_weight"]
        ),
        "offset": masked_mean((g[..., 1:3] - targets["offset"]).abs().sum(-1), mask),
        "size": masked_mean((g[..., 3:5] - targets["log_size"]).abs().sum(-1), oriented),
        "axis": masked_mean((g[..., 7:9] - targets["sincos2"]).abs().sum(-1), oriented),
        "heading": masked_mean((g[..., 5:7] - targets["sincos"]).abs().sum(-1), oriented),
    }
    length, span = g[..., 3].clamp(max=8.0).exp(), g[..., 4].clamp(max=8.0).exp()
    half_w, half_h = cross_half_extents(length, span, axis_sin, axis_cos)
    box_err = (torch.log(2 * half_w + 1e-3) - torch.log(targets["box_wh"][..., 0])).abs() + (
        torch.log(2 * half_h + 1e-3) - torch.log(targets["box_wh"][..., 1])
    ).abs()
    terms["box"] = masked_mean(box_err, boxed)
    if typed.any():
        t = _gather(type_logits, targets["index"])
        terms["type"] = F.cross_entropy(t[typed], targets["type_index"][typed])
    else:
        terms["type"] = zero
    terms["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in terms.items())
    return terms
