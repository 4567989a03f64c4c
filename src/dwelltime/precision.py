"""The arithmetic the detector's networks run in: bf16 autocast, fp32, or int8 on CPUs.

Kept apart from :mod:`dwelltime.detector` (which imports torch) so the CLI options and the
batch job file can name the choices without loading torch.
"""

from __future__ import annotations

from dwelltime.errors import SettingsError

#: Choices of :class:`~dwelltime.detector.Detector`'s ``precision``.
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32", "int8")


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): there bf16 autocast
    about halves the network's time (1024² tiles on 2 threads: 0.095 s against 0.051 s)."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(precision: str, device: object, *, int8_problem: str | None) -> str:
    """What ``precision`` (one of :data:`PRECISIONS`) means on ``device`` (a ``torch.device``):
    ``bf16``, ``fp32`` or ``int8``. ``auto``: bf16 on CUDA and on a CPU that computes bf16
    natively; on other CPUs int8 (the dense network; :mod:`dwelltime.detector.int8`) unless
    ``int8_problem`` says why it cannot run, then fp32.

    Raises :class:`~dwelltime.errors.SettingsError` (a ValueError) for an unknown precision,
    and for ``int8`` off the CPU or with a problem.
    """
    if precision not in PRECISIONS:
        raise SettingsError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cpu = device.type == "cpu"
    if precision == "int8" and (not cpu or int8_problem):
        raise SettingsError(f"precision int8: {int8_problem if cpu else 'it runs on CPUs only'}")
    if precision != "auto":
        return precision
    if device.type == "cuda" or (cpu and native_cpu_bf16()):
        return "bf16"
    return "int8" if cpu and not int8_problem else "fp32"
