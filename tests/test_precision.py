"""The detector's arithmetic: which precision means bf16 where."""

from __future__ import annotations

import pytest
import torch

from dwelltime import precision


def test_precision_auto_means_bf16_on_cuda_and_on_cpus_with_native_bf16(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(precision, "native_cpu_bf16", lambda native=native: native)
        assert precision.use_bf16("auto", cpu) is native
        assert precision.use_bf16("auto", cuda) is True
        assert precision.use_bf16("fp32", cuda) is False
        assert precision.use_bf16("bf16", cpu) is True
    with pytest.raises(ValueError, match="auto, bf16, fp32"):
        precision.use_bf16("fp16", cpu)
