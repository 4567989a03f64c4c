"""fused_for_inference: BatchNorm folded into convolutions, same outputs, original untouched."""

from __future__ import annotations

import torch
from torch import nn

from dwelltime.detector.model import build_detector, fused_for_inference


def test_folding_batchnorm_keeps_the_outputs_and_the_original(classes):
    torch.manual_seed(0)
    tiny_model = build_detector(
        num_classes=len(classes), width_mult=0.25, fpn_channels=8, refiner=True
    )
    with torch.no_grad():  # statistics far from the defaults, so a missed fold would show
        for norm in tiny_model.modules():
            if isinstance(norm, nn.BatchNorm2d):
                norm.running_mean.uniform_(-0.5, 0.5)
                norm.running_var.uniform_(0.5, 2.0)
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.2, 0.2)
    tiny_model.eval()
    n_norms = sum(isinstance(m, nn.BatchNorm2d) for m in tiny_model.modules())
    fused = fused_for_inference(tiny_model)
    assert n_norms > 10
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in tiny_model.modules()) == n_norms
    images = torch.rand(2, 3, 64, 96)
    crops = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        pairs = [*zip(tiny_model(images), fused(images), strict=True)]
        pairs += [*zip(tiny_model.refiner(crops), fused.refiner(crops), strict=True)]
    for want, got in pairs:
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_the_finest_level_is_what_the_whole_pyramid_gives_there(classes):
    model = build_detector(num_classes=len(classes), fpn_channels=16).eval()
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        features = model._backbone(model.normalise(x))
        whole = next(iter(model.fpn(features).values()))
        torch.testing.assert_close(model._finest_pyramid_level(list(features.values())), whole)
        geometry, types = model(x)
        assert geometry.shape[-2:] == whole.shape[-2:] == (24, 32)
        assert types.shape[1] == len(classes)
        geometry_alone, no_types = model(x, types=False)
    torch.testing.assert_close(geometry_alone, geometry)
    assert no_types is None
