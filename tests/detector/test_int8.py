"""The int8 network: calibration stored as plain numbers, rebuilt the same, checked to fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dwelltime.detector import int8
from dwelltime.detector.model import DenseNetwork, build_detector, fused_for_inference
from dwelltime.detector.predict import Detector

pytestmark = pytest.mark.skipif(int8.unavailable() is not None, reason=str(int8.unavailable()))


def _images(n: int, px: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth random images in [0, 1] (coarse noise upsampled, so they look a little like
    imagery)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, px // 8, px // 8, generator=g)
    return torch.nn.functional.interpolate(x, size=(px, px), mode="bilinear")


@pytest.fixture(scope="module")
def trained_like():
    """A tiny network with non-trivial BatchNorm statistics (as a trained one has), folded."""
    torch.manual_seed(0)
    model = build_detector(num_classes=3, width_mult=0.25, fpn_channels=8)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(_images(4, seed=1))
    return fused_for_inference(model)


def test_int8_network_is_close_to_fp32_and_its_calibration_is_plain_json(trained_like):
    calibration = int8.calibrate(trained_like, [_images(4, seed=2)])
    assert calibration["engine"] == int8.ENGINE
    scales = [s for s, _ in calibration["activations"].values()]
    assert scales and all(isinstance(s, float) and s > 0 for s in scales)
    assert json.loads(json.dumps(calibration)) == calibration  # the card stores it as is
    network = int8.int8_network(trained_like, calibration)
    x = _images(2, seed=3)
    with torch.inference_mode():
        geometry, types = network(x)
        want_geometry, want_types = DenseNetwork(trained_like)(x)
    assert geometry.shape == want_geometry.shape and types.shape == want_types.shape
    spread = want_geometry.std().item()
    assert (geometry - want_geometry).abs().mean().item() < 0.1 * spread
    assert np.corrcoef(geometry.flatten(), want_geometry.flatten())[0, 1] > 0.99


def test_rebuilding_from_a_stored_calibration_gives_the_same_network(trained_like):
    calibration = int8.calibrate(trained_like, [_images(4, seed=2)])
    x = _images(2, seed=4)
    with torch.inference_mode():
        first = int8.int8_network(trained_like, calibration)(x)[0]
        again = int8.int8_network(trained_like, calibration)(x)[0]
    assert torch.equal(first, again)


@pytest.mark.parametrize(
    ("engines", "problem", "kernels"),
    [
        (["qnnpack", "onednn"], "no x86 int8 kernels", None),  # as an ARM build may list
        (["qnnpack", "x86", "fbgemm"], None, "x86"),
        (["qnnpack", "onednn", "x86", "fbgemm"], None, "onednn"),
    ],
)
def test_int8_runs_on_x86_builds_on_onednn_kernels_where_present(
    engines, problem, kernels, monkeypatch
):
    monkeypatch.setattr(type(torch.backends.quantized), "supported_engines", engines)
    if problem:
        assert problem in int8.unavailable()
    else:
        assert int8.unavailable() is None and int8.kernels() == kernels


@pytest.mark.skipif(
    set(int8.KERNELS) - set(torch.backends.quantized.supported_engines),
    reason="this torch lacks one of the kernel engines",
)
def test_each_kernel_engine_runs_the_same_calibrated_network(trained_like, monkeypatch):
    """One calibration for every engine in int8.KERNELS; their outputs agree within rounding,
    and the engine left set is the one that ran."""
    calibration = int8.calibrate(trained_like, [_images(4, seed=2)])
    x = _images(2, seed=5)
    outputs = []
    for kernels in int8.KERNELS:
        monkeypatch.setattr(int8, "KERNELS", (kernels,))
        with torch.inference_mode():
            outputs.append(int8.int8_network(trained_like, calibration)(x)[0])
        assert torch.backends.quantized.engine == kernels
    first, *others = outputs
    spread = first.std().item()
    for other in others:
        assert (other - first).abs().mean().item() < 0.05 * spread


def test_a_calibration_of_another_network_or_engine_is_refused(trained_like):
    calibration = int8.calibrate(trained_like, [_images(2)])
    missing = dict(list(calibration["activations"].items())[1:])
    with pytest.raises(ValueError, match=r"1 of its \d+ activations are not calibrated"):
        int8.int8_network(trained_like, {**calibration, "activations": missing})
    with pytest.raises(ValueError, match="engine 'qnnpack'"):
        int8.int8_network(trained_like, {**calibration, "engine": "qnnpack"})


def test_detector_runs_int8_only_with_a_calibration(trained_like, monkeypatch):
    import dwelltime.precision

    classes = ["IL62", "T204", "unknown"]
    calibration = int8.calibrate(trained_like, [_images(2)])
    with pytest.raises(ValueError, match="no int8 calibration"):
        Detector(trained_like, classes=classes, device="cpu", precision="int8")
    with pytest.raises(ValueError, match=r"int8: torch\.compile"):
        Detector(
            trained_like,
            classes=classes,
            device="cpu",
            precision="int8",
            compiled=True,
            int8_calibration=calibration,
        )
    monkeypatch.setattr(dwelltime.precision, "native_cpu_bf16", lambda: False)
    assert Detector(trained_like, classes=classes, device="cpu").precision == "fp32"
    compiled = Detector(
        trained_like, classes=classes, device="cpu", compiled=True, int8_calibration=calibration
    )
    assert compiled.precision == "fp32"
    detector = Detector(trained_like, classes=classes, device="cpu", int8_calibration=calibration)
    assert detector.precision == "int8" and detector.describe()["precision"] == "int8"
    assert detector.describe()["int8_kernels"] == torch.backends.quantized.engine
    assert "int8_kernels" not in compiled.describe()
    (det,) = detector.predict(np.zeros((1, 3, 64, 64), np.uint8))
    assert det.type_probs.shape[1] == len(classes)


def test_detectors_of_one_weights_file_share_its_int8_network(trained_like):
    """Built once per weights file (sha256), kernels and calibration; anew without a file."""
    calibration = int8.calibrate(trained_like, [_images(2)])
    rescaled = {
        **calibration,
        "activations": {k: [2 * s, z] for k, (s, z) in calibration["activations"].items()},
    }

    def network(sha256: str | None, calibration: dict = calibration):
        source = {"weights": "w.safetensors", "sha256": sha256} if sha256 else None
        return Detector(
            trained_like,
            classes=["IL62", "T204", "unknown"],
            device="cpu",
            precision="int8",
            int8_calibration=calibration,
            source=source,
        ).network

    first = network("aa")
    assert network("aa") is first
    assert network("bb") is not first and network("aa", rescaled) is not first
    assert network(None) is not network(None)
    assert len(int8._BUILT) <= int8._BUILT_KEPT


def test_auto_falls_back_to_fp32_when_the_calibration_does_not_fit(
    trained_like, monkeypatch, caplog
):
    import dwelltime.precision

    monkeypatch.setattr(dwelltime.precision, "native_cpu_bf16", lambda: False)
    calibration = int8.calibrate(trained_like, [_images(2)])
    stale = {**calibration, "activations": dict(list(calibration["activations"].items())[1:])}
    classes = ["IL62", "T204", "unknown"]
    detector = Detector(trained_like, classes=classes, device="cpu", int8_calibration=stale)
    assert detector.precision == "fp32"
    assert "Running the detector in fp32, not int8" in caplog.text
