"""The arithmetic the detector's networks run in: bf16 autocast or fp32.

Kept apart from :mod:`dwelltime.detector` (which imports torch) so the CLI options and the
batch job file can name the choices without loading torch.
"""

from __future__ import annotations

#: Choices of :class:`~dwelltime.detector.Detector`'s ``precision``.
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): there bf16 autocast
    about halves the network's time (1024² tiles on 2 threads: 0.095 s against 0.051 s)."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def use_bf16(precision: str, device: object) -> bool:
    """Whether ``precision`` (one of :data:`PRECISIONS`) means bf16 autocast on ``device``
    (a ``torch.device``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return device.type == "cuda" or (device.type == "cpu" and native_cpu_bf16())
    return precision == "bf16"
