"""The detector's arithmetic: what each precision means on which device."""

from __future__ import annotations

import pytest
import torch

from dwelltime import precision


def test_auto_means_bf16_on_cuda_and_cpus_with_native_bf16_else_int8_where_it_can_run(
    monkeypatch,
):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(precision, "native_cpu_bf16", lambda native=native: native)
        assert precision.resolve_precision("auto", cuda, int8_problem=None) == "bf16"
        cpu_auto = precision.resolve_precision("auto", cpu, int8_problem=None)
        assert cpu_auto == ("bf16" if native else "int8")
    assert precision.resolve_precision("auto", cpu, int8_problem="no calibration") == "fp32"


def test_explicit_precisions_are_kept_and_int8_says_why_it_cannot_run():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert precision.resolve_precision("fp32", cuda, int8_problem=None) == "fp32"
    assert precision.resolve_precision("bf16", cpu, int8_problem="x") == "bf16"
    assert precision.resolve_precision("int8", cpu, int8_problem=None) == "int8"
    with pytest.raises(ValueError, match="int8: no calibration"):
        precision.resolve_precision("int8", cpu, int8_problem="no calibration")
    with pytest.raises(ValueError, match="int8: it runs on CPUs only"):
        precision.resolve_precision("int8", cuda, int8_problem=None)
    with pytest.raises(ValueError, match="auto, bf16, fp32, int8"):
        precision.resolve_precision("fp16", cpu, int8_problem=None)
