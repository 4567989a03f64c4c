"""A second look at each candidate: a crop turned nose-up at a fixed scale, for its type and
whether it is an aircraft at all.

The dense head sees every aircraft at its own heading and must tell 50-odd types apart from a
few feature cells at its centre. The refiner instead cuts a square of :data:`CROP_M` metres
around each detection, rotated so the nose points up and resampled to :data:`CROP_PX` pixels
(bilinear, one ``grid_sample`` per batch of tiles), and runs torchvision's MobileNetV3-Small
on it. In that frame a type's planform always looks the same and its size in pixels is its size in
metres. On held-out synthetic chips it takes type top-1 at 0.5 m from 0.58 (dense head) to
0.85 (0.84 pooled over 0.3-0.5 m, shipped weights).

It also regresses length and span, a second training task that makes it look at the whole
planform. The detector does not use those sizes: on synthetic chips they are better than the
dense head's (median length error 0.4 m against 1.6 m), but on real Pléiades aircraft they
were worse (AP75 0.43 against 0.70 with the sizes in the footprints, even after training on
real box-labelled crops), and the dense head has learnt from real boxes.

Its third output says whether the crop holds an aircraft, centred and nose-up. It is trained on
the dense head's own candidates, false alarms included (``scripts/train_refiner.py``), and
:func:`fuse_scores` weighs it into the detection score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from dwelltime.detector.normalise import Normalise

#: Side of the refiner's crop: metres on the ground and pixels of the network input.
CROP_M = 96.0
CROP_PX = 128
#: Length and span (the second training task) are regressed as log(metres / SIZE_SCALE_M).
SIZE_SCALE_M = 40.0


@dataclass(frozen=True)
class RefinerConfig:
    """``num_classes``: type classes including the trailing ``unknown``; ``crop_m``, ``crop_px``:
    the crop's side in metres and pixels."""

    num_classes: int
    crop_m: float = CROP_M
    crop_px: int = CROP_PX

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for the model card."""
        return asdict(self)


class TypeRefiner(nn.Module):
    """MobileNetV3-Small on nose-up crops: ``forward`` takes (N, 3, P, P) crops in [0, 1]
    (normalised inside, as the detector does) and returns ``(type_logits (N, K), log_size
    (N, 2), aircraft_logit (N,))``: log_size is the log of (length, span) /
    :data:`SIZE_SCALE_M`, aircraft_logit the logit of "an aircraft is centred in the crop"."""

    def __init__(self, config: RefinerConfig) -> None:
        super().__init__()
        self.config = config
        self.net = torchvision.models.mobilenet_v3_small(
            weights=None, num_classes=config.num_classes + 3
        )
        self.normalise = Normalise()

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(self.normalise(crops))
        k = self.config.num_classes
        return out[:, :k], out[:, k : k + 2], out[:, k + 2]

    def look(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What inference takes from (N, 3, P, P) crops: type logits (N, K) averaged over each
        crop and its mirror image (a planform is left-right symmetric and the refiner learnt
        both; on 840 held-out synthetic aircraft at 0.3-0.5 m type top-1 went from 0.79 to
        0.80 with the refiner of that time), and the aircraft logit (N,) of the crop as it is.
        One pass over both."""
        n = len(crops)
        logits, _, aircraft = self(torch.cat([crops, crops.flip(-1)]))
        return (logits[:n] + logits[n:]) / 2, aircraft[:n]


def crop_grid(
    cx: torch.Tensor,
    cy: torch.Tensor,
    heading_deg: torch.Tensor,
    *,
    image_hw: tuple[int, int],
    gsd_m: float,
    crop_m: float = CROP_M,
    crop_px: int = CROP_PX,
) -> torch.Tensor:
    """Sampling grid (N, P, P, 2) for ``grid_sample`` (``align_corners=False``) of nose-up
    crops of ``crop_m`` metres around centres ``cx``, ``cy`` (pixels, edge coordinates: the
    first pixel covers [0, 1)) in an image of ``image_hw`` pixels at ``gsd_m`` metres/pixel.
    ``heading_deg``: nose direction clockwise from image up. Crop right is the right wing."""
    h, w = image_hw
    rad = torch.deg2rad(heading_deg.float())
    cos, sin = rad.cos(), rad.sin()
    half = crop_m / 2 / gsd_m  # crop half-side in image pixels
    # image pixel = centre + u·half·(cos, sin) + v·half·(−sin, cos), (u, v) ∈ [−1, 1]², v down
    theta = torch.stack(
        [
            torch.stack([2 * half * cos / w, -2 * half * sin / w, 2 * cx.float() / w - 1], -1),
            torch.stack([2 * half * sin / h, 2 * half * cos / h, 2 * cy.float() / h - 1], -1),
        ],
        1,
    )
    return F.affine_grid(theta, [len(cx), 1, crop_px, crop_px], align_corners=False)


def nose_up_crops(
    images: torch.Tensor,
    cx: torch.Tensor,
    cy: torch.Tensor,
    heading_deg: torch.Tensor,
    *,
    tile: torch.Tensor | None = None,
    gsd_m: float,
    crop_m: float = CROP_M,
    crop_px: int = CROP_PX,
) -> torch.Tensor:
    """(N, C, P, P) crops (see :func:`crop_grid`) of one (C, H, W) float image, or of a batch
    (B, C, H, W) with ``tile`` (N,) giving each crop's image; outside the image is zero. One
    ``grid_sample`` for the whole batch: each image's crops are stacked along the grid's
    height, padded to the most crops of any image."""
    if images.ndim == 3:
        images, tile = images[None], torch.zeros(len(cx), dtype=torch.long, device=cx.device)
    b, c, h, w = images.shape
    n = len(cx)
    if n == 0:
        return images.new_zeros((0, c, crop_px, crop_px))
    counts = torch.bincount(tile, minlength=b)
    most = int(counts.max())
    first = torch.cumsum(counts, 0) - counts  # each image's first crop in tile order
    order = torch.argsort(tile, stable=True)
    slot = torch.empty_like(tile)
    slot[order] = torch.arange(n, device=tile.device) - first[tile[order]]
    params = torch.zeros((3, b, most), dtype=torch.float32, device=cx.device)
    params[:, tile, slot] = torch.stack([cx, cy, heading_deg]).float()
    grid = crop_grid(
        *params.reshape(3, -1),
        image_hw=(h, w),
        gsd_m=gsd_m,
        crop_m=crop_m,
        crop_px=crop_px,
    ).to(images.dtype)
    out = F.grid_sample(
        images, grid.reshape(b, most * crop_px, crop_px, 2), align_corners=False
    ).reshape(b, c, most, crop_px, crop_px)
    return out[tile, :, slot]


def size_from_log(log_size: torch.Tensor) -> torch.Tensor:
    """(N, 2) length and span in metres from the refiner's log output."""
    return log_size.clamp(-3.0, 3.0).exp() * SIZE_SCALE_M


def log_size_target(length_m: torch.Tensor, span_m: torch.Tensor) -> torch.Tensor:
    """(N, 2) regression target of the refiner for true sizes in metres."""
    return torch.stack([length_m, span_m], -1).div(SIZE_SCALE_M).log()


def fuse_scores(score: np.ndarray, p_aircraft: np.ndarray, weight: float) -> np.ndarray:
    """Detection score from the dense head's ``score`` and the refiner's aircraft probability
    (both in [0, 1]): ``score^(1 - weight) * p_aircraft^weight``, a weighted geometric mean."""
    return np.power(score, 1.0 - weight) * np.power(p_aircraft, weight)
