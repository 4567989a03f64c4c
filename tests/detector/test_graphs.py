"""GraphedCall: fixed-shape CUDA work replayed from a CUDA graph (the refiner when compiled)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dwelltime.detector import Detector, load_detector
from dwelltime.detector.graphs import GraphedCall


def test_on_a_cpu_a_compiled_detector_refines_eagerly(
    tiny_refiner_model, classes, dims, monkeypatch
):
    monkeypatch.setattr(torch, "compile", lambda network, **kwargs: network)
    detector = Detector(
        tiny_refiner_model, classes=classes, dimensions=dims, device="cpu", compiled=True
    )
    detector.predict(np.zeros((1, 3, 64, 64), np.uint8))
    detector.warm_up(1, 64)
    assert detector._graphed_looks == {}


@pytest.mark.needs_cuda
def test_a_graphed_call_replays_on_new_inputs_and_returns_new_tensors():
    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2 + 1, x.sum(1)

    call = GraphedCall(fn, torch.zeros(4, 3, device="cuda"))
    x, y = torch.rand(4, 3, device="cuda"), torch.rand(4, 3, device="cuda")
    a, b = call(x)
    c, _ = call(y)  # a and b are not overwritten
    torch.testing.assert_close(a, x * 2 + 1)
    torch.testing.assert_close(b, x.sum(1))
    torch.testing.assert_close(c, y * 2 + 1)


@pytest.mark.needs_cuda
def test_a_compiled_detector_on_cuda_refines_through_graphs_as_the_eager_one(
    monkeypatch, same_detections
):
    """The shipped weights under bf16 autocast: the refiner replayed from CUDA graphs (one per
    padded chunk size) gives the eager refiner's types and scores."""
    from dwelltime.synth import render_chip

    monkeypatch.setattr(torch, "compile", lambda network, **kwargs: network)  # not Inductor
    eager = load_detector(device="cuda")
    graphed = load_detector(device="cuda", compiled=True)
    graphed.warm_up(4, 512)
    assert sorted(graphed._graphed_looks) == [16, 32, 64, 128, 256]
    rng = np.random.default_rng(11)
    chips = [render_chip(rng, size_px=512, source_gsd_m=0.5, n_aircraft=(5, 5)) for _ in range(4)]
    images = np.stack([c.image.transpose(2, 0, 1) for c in chips])
    for _ in range(2):  # a second replay of each graph gives the same
        want, got = eager.predict(images), graphed.predict(images)
        same_detections(got, want)
    assert sum(map(len, want)) >= 10
