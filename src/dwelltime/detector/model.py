"""The network: a light torchvision backbone, a feature pyramid and dense oriented heads.

One-stage, anchor-free (CenterNet-style): every cell of the output grid (``stride`` pixels of
the model-GSD tile) predicts whether an aircraft centre lies in it and, if so, where exactly,
how long and wide it is (log pixels), which way its nose points (sin, cos of the heading
clockwise from image up, full 360°) and its type (logits over the catalog classes + ``unknown``).
The model sees the tile as it is: no internal resize; normalisation is a fixed affine map
recorded in the model card. Weights may also carry a refiner (:mod:`dwelltime.detector.refine`)
that :class:`~dwelltime.detector.predict.Detector` runs on each detection for its type.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.ops import FeaturePyramidNetwork

from dwelltime.detector.normalise import Normalise
from dwelltime.detector.refine import RefinerConfig, TypeRefiner

#: Channels of the geometry output, in order: heatmap logit, centre offset (dx, dy) in cells,
#: log length, log span (pixels), sin and cos of the heading (nose direction) and of twice the
#: heading (the fuselage axis, free of the nose/tail ambiguity, so it is learnt first).
GEOMETRY_CHANNELS: tuple[str, ...] = (
    "heatmap",
    "dx",
    "dy",
    "log_length",
    "log_span",
    "sin",
    "cos",
    "sin2",
    "cos2",
)

#: Backbone stages of ``mobilenet_v3_large().features`` ending at strides 4, 8, 16, 32.
_MOBILENET_STAGE_ENDS: dict[int, int] = {4: 3, 8: 6, 16: 12, 32: 16}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored in the model card.

    ``stride``: output stride in pixels (4 or 8). ``width_mult``: MobileNetV3 width multiplier.
    ``fpn_channels``: channels of the pyramid and heads. ``num_classes``: type classes
    including the trailing ``unknown``. ``refiner``: the network carries a
    :class:`~dwelltime.detector.refine.TypeRefiner` (a second look at each detection for its
    type).
    """

    num_classes: int
    stride: int = 4
    width_mult: float = 1.0
    fpn_channels: int = 64
    refiner: bool = False

    def __post_init__(self) -> None:
        if self.stride not in (4, 8):
            raise ValueError(f"stride must be 4 or 8, got {self.stride}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for the model card."""
        return asdict(self)


class OrientedCenterNet(nn.Module):
    """Backbone + FPN + heads. ``forward`` takes (B, 3, H, W) floats in [0, 1] (H, W divisible
    by 32) and returns ``(geometry, type_logits)`` of shapes (B, 9, H/s, W/s) and (B, K, H/s, W/s);
    with ``types=False`` the type head is skipped and ``type_logits`` is None (the refiner types
    the detections: about a tenth of the network's time saved).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        features = torchvision.models.mobilenet_v3_large(
            weights=None, width_mult=config.width_mult
        ).features
        ends = {s: i for s, i in _MOBILENET_STAGE_ENDS.items() if s >= config.stride}
        self.stages = nn.ModuleList()
        start = 0
        for end in ends.values():
            self.stages.append(nn.Sequential(*features[start : end + 1]))
            start = end + 1
        with torch.no_grad():
            channels = [f.shape[1] for f in self._backbone(torch.zeros(1, 3, 64, 64)).values()]
        c = config.fpn_channels
        self.fpn = FeaturePyramidNetwork(channels, c)
        self.normalise = Normalise()
        self.geometry_head = _head(c, len(GEOMETRY_CHANNELS))
        self.type_head = _head(c, config.num_classes)
        # CenterNet prior: start with a heatmap probability of ~0.01 everywhere.
        nn.init.constant_(self.geometry_head[-1].bias, 0.0)
        with torch.no_grad():
            self.geometry_head[-1].bias[0] = -4.6
            self.geometry_head[-1].bias[3:5] = 4.0  # log(~55 px) ≈ 27 m at 0.5 m/px
        self.refiner = TypeRefiner(RefinerConfig(config.num_classes)) if config.refiner else None

    def _backbone(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            out[str(i)] = x
        return out

    def _finest_pyramid_level(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The output of :attr:`fpn` at the finest level, the only one the heads read: its
        top-down pass as torchvision's ``FeaturePyramidNetwork.forward`` runs it, less the 3×3
        output convolutions of the coarser levels (about a twelfth of the network's work)."""
        fpn = self.fpn
        inner = fpn.get_result_from_inner_blocks(features[-1], -1)
        for idx in range(len(features) - 2, -1, -1):
            lateral = fpn.get_result_from_inner_blocks(features[idx], idx)
            inner = lateral + F.interpolate(inner, size=lateral.shape[-2:], mode="nearest")
        return fpn.get_result_from_layer_blocks(inner, 0)

    def forward(
        self, images: torch.Tensor, types: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        finest = self._finest_pyramid_level(list(self._backbone(self.normalise(images)).values()))
        return self.geometry_head(finest), self.type_head(finest) if types else None


class DenseNetwork(nn.Module):
    """What inference runs of ``model``, as one call: ``forward(images)`` returns
    ``(geometry, type_logits)`` as :meth:`OrientedCenterNet.forward` does, with the type head
    only when the model has no refiner to type the detections (see ``types`` there)."""

    def __init__(self, model: OrientedCenterNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.model(images, types=self.model.refiner is None)


def _head(channels: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, outputs, 1),
    )


def fused_for_inference(model: OrientedCenterNet) -> OrientedCenterNet:
    """A copy of ``model`` in eval mode with each BatchNorm folded into the convolution just
    before it (the same outputs to float rounding, about a quarter less time on CPU); ``model``
    itself is left as it is, so it can go on training or be saved."""
    fused = copy.deepcopy(model).eval()
    for block in fused.modules():
        if not isinstance(block, nn.Sequential):
            continue
        names = list(block._modules)
        for first, second in itertools.pairwise(names):
            conv, norm = block._modules[first], block._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                block._modules[first] = fuse_conv_bn_eval(conv, norm)
                block._modules[second] = nn.Identity()
    return fused


def build_detector(
    *,
    num_classes: int,
    stride: int = 4,
    width_mult: float = 1.0,
    fpn_channels: int = 64,
    refiner: bool = False,
) -> OrientedCenterNet:
    """A randomly initialised network (no pretrained weights are downloaded)."""
    return OrientedCenterNet(
        ModelConfig(
            num_classes=num_classes,
            stride=stride,
            width_mult=width_mult,
            fpn_channels=fpn_channels,
            refiner=refiner,
        )
    )


def parameter_count(model: nn.Module) -> int:
    """Number of parameters of a network."""
    return sum(p.numel() for p in model.parameters())
