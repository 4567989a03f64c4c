"""The fixed input normalisation that the detector's networks share (recorded in the model card)."""

from __future__ import annotations

import torch
from torch import nn

#: Per-channel mean and std (of uint8/255 RGB) the network inputs are normalised with.
NORM_MEAN: tuple[float, float, float] = (0.45, 0.45, 0.45)
NORM_STD: tuple[float, float, float] = (0.25, 0.25, 0.25)


class Normalise(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] → (x − NORM_MEAN) / NORM_STD per channel (no parameters; its
    buffers are not saved with the weights)."""

    def __init__(self) -> None:
        super().__init__()
        mean, std = (
            torch.tensor(NORM_MEAN).view(1, 3, 1, 1),
            torch.tensor(NORM_STD).view(1, 3, 1, 1),
        )
        # one pass over the pixels, x * (1 / std) + (-mean / std), instead of two
        self.register_buffer("scale", 1.0 / std, persistent=False)
        self.register_buffer("shift", -mean / std, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images, self.scale)
