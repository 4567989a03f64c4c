"""The dense network in int8, for CPUs that do not compute bf16 natively.

torch's FX graph-mode quantisation (number formats of backend ``x86``: int8 weights per
output channel, uint8 activations in a 7-bit range, so no sum of two products overflows
16 bits on AVX2) on the BatchNorm-folded network, run by oneDNN's kernels where torch has
them (on a 2-core AVX2 EPYC about a fifth less time per 1024² tile than the ``x86`` engine's
fbgemm ones, to the same outputs within rounding), else by the ``x86`` engine's.

The last 1×1 convolution of each head stays in fp32: its output channels mix ranges too
different for one int8 scale (heatmap logits, log sizes in pixels, sines), and it costs
little. The refiner stays in fp32 too.

Activation ranges come from a calibration made once per weights file
(``scripts/calibrate_int8.py``) and stored in the model card under ``int8``, as the
quantisation scale and zero point of each observed graph node, so loading needs no
calibration data and gives the same network every time (about 3 s on 2 threads; once per
weights file in a process: :func:`shared_int8_network`).

torch marks ``torch.ao.quantization`` as deprecated in favour of torchao; while a torch has
it, this module works, and :func:`unavailable` says why not when it does not.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from dwelltime.detector.model import DenseNetwork, OrientedCenterNet

#: Number formats (qconfig) of the int8 network: torch's backend for x86 CPUs. A calibration
#: records it; it does not depend on which kernels run the network.
ENGINE = "x86"

#: torch's quantised engines that run the network, the first this torch has. Only x86 builds
#: of torch run it (:func:`unavailable`), so the last is always there.
KERNELS: tuple[str, ...] = ("onednn", ENGINE)

#: Modules kept in fp32: the heads' last 1×1 convolutions (see the module docstring).
FLOAT_MODULES: tuple[str, ...] = ("model.geometry_head.3", "model.type_head.3")

#: Image size the network is traced with, pixels (any multiple of 32 runs afterwards).
_TRACE_PX = 64


def unavailable() -> str | None:
    """Why this torch cannot run the int8 network here, or None when it can."""
    try:
        with _quiet():
            import torch.ao.quantization.quantize_fx
    except ImportError as exc:
        return f"this torch has no torch.ao.quantization ({exc})"
    if ENGINE not in torch.backends.quantized.supported_engines:  # not an x86 build
        return f"this torch has no {ENGINE} int8 kernels (a CPU other than x86?)"
    return None


def kernels() -> str:
    """The engine whose kernels run the int8 network here: the first of :data:`KERNELS` this
    torch has."""
    engines = torch.backends.quantized.supported_engines
    return next((k for k in KERNELS if k in engines), ENGINE)


def calibrate(model: OrientedCenterNet, batches: Iterable[torch.Tensor]) -> dict[str, Any]:
    """Observe the activations of the BatchNorm-folded ``model`` on ``batches`` ((B, 3, H, W)
    floats in [0, 1]) and return what the model card stores under ``int8``: the engine and
    ``activations``, {graph node: [scale, zero point]}."""
    prepared = _prepared(model)
    with torch.inference_mode():
        for batch in batches:
            prepared(batch.contiguous(memory_format=torch.channels_last))
    activations = {}
    for node, target in _calibrated(prepared).items():
        scale, zero_point = prepared.get_submodule(target).calculate_qparams()
        activations[node] = [float(scale), int(zero_point)]
    return {"engine": ENGINE, "activations": activations}


def int8_network(model: OrientedCenterNet, calibration: dict[str, Any]) -> nn.Module:
    """The int8 network of the BatchNorm-folded ``model`` with the activation ranges of
    ``calibration`` (:func:`calibrate`'s result, as the model card stores it): a
    :class:`~dwelltime.detector.model.DenseNetwork` in int8.

    Raises ValueError when the calibration was made for another network (its graph nodes
    differ) or another engine.
    """
    if calibration.get("engine") != ENGINE:
        raise ValueError(f"int8 calibration is for engine {calibration.get('engine')!r}")
    stored: dict[str, list[float]] = calibration["activations"]
    prepared = _prepared(model)
    wanted = _calibrated(prepared)
    if set(wanted) != set(stored):
        raise ValueError(
            f"int8 calibration does not fit this network: {len(set(wanted) - set(stored))} of "
            f"its {len(wanted)} activations are not calibrated, "
            f"{len(set(stored) - set(wanted))} calibrated ones are not in it"
        )
    for node, (scale, zero_point) in stored.items():
        target = wanted[node]
        setattr(prepared, target, _fixed(prepared.get_submodule(target), scale, int(zero_point)))
    # Weights are packed for the engine set now; the packed weights then run on its kernels.
    torch.backends.quantized.engine = kernels()
    with _quiet():
        network = torch.ao.quantization.quantize_fx.convert_fx(prepared)
    return network.eval()


#: int8 networks built in this process, most recently used last, by (weights sha256, kernels,
#: calibration): a notebook, a Dask worker or a test session loads the same weights again
#: and again, and building one takes about 3 s on 2 threads. Detectors share them: they
#: only run inference.
_BUILT: OrderedDict[tuple[str, str, str], nn.Module] = OrderedDict()
#: How many :data:`_BUILT` keeps.
_BUILT_KEPT = 4


def shared_int8_network(
    model: OrientedCenterNet, calibration: dict[str, Any], weights_sha256: str | None
) -> nn.Module:
    """:func:`int8_network`, built once in this process per weights file (its
    ``weights_sha256``), kernels and calibration; built anew when ``weights_sha256`` is None
    (weights that are not a file's)."""
    if weights_sha256 is None:
        return int8_network(model, calibration)
    key = (weights_sha256, kernels(), json.dumps(calibration, sort_keys=True))
    if key not in _BUILT:
        _BUILT[key] = int8_network(model, calibration)
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    _BUILT.move_to_end(key)
    torch.backends.quantized.engine = key[1]  # as when it was built (int8_network)
    return _BUILT[key]


def _prepared(model: OrientedCenterNet) -> torch.fx.GraphModule:
    """``model`` (copied, eval mode) traced with observers at every quantised activation, in
    :data:`ENGINE`'s number formats."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    mapping = get_default_qconfig_mapping(ENGINE)
    for name in FLOAT_MODULES:
        mapping = mapping.set_module_name(name, None)
    dense = DenseNetwork(copy.deepcopy(model)).eval()
    example = (torch.zeros(1, 3, _TRACE_PX, _TRACE_PX),)
    with _quiet():
        return prepare_fx(dense, mapping, example)


def _calibrated(prepared: torch.fx.GraphModule) -> dict[str, str]:
    """{name of the observed graph node: observer's module name} for every activation observer
    that calibration sets (the histogram ones; the rest have fixed ranges, as after a
    hardsigmoid)."""
    return {
        node.args[0].name: node.target
        for node in prepared.graph.nodes
        if node.op == "call_module"
        and isinstance(prepared.get_submodule(node.target), torch.ao.quantization.HistogramObserver)
    }


def _fixed(observer: nn.Module, scale: float, zero_point: int) -> nn.Module:
    """A min/max observer with ``observer``'s number format whose range is what ``scale``
    and ``zero_point`` cover, so it gives them back when the network is converted."""
    fixed = torch.ao.quantization.MinMaxObserver(
        dtype=observer.dtype,
        qscheme=observer.qscheme,
        quant_min=observer.quant_min,
        quant_max=observer.quant_max,
    )
    fixed.min_val = torch.tensor((observer.quant_min - zero_point) * scale)
    fixed.max_val = torch.tensor((observer.quant_max - zero_point) * scale)
    return fixed


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch.ao.quantization's notices that it and quantised tensors are deprecated
    (this module's docstring says so once for the user)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", module=r"torch\.ao\.")
        yield
